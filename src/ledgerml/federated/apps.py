"""The Flower ServerApp and ClientApp every run mode uses: in process (``LocalGrid``), Flower's simulation
engine (``run_simulation``), and its deployment engine (``flwr run`` against a SuperLink and SuperNodes).

Both read the ledger home and task from the run config (``home``, ``task``) or, where the engine passes none
(simulation), from ``LEDGERML_HOME`` / ``LEDGERML_TASK``. A SuperNode's ``partition-id`` picks its
participant from the federation plan.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from flwr.app import Context
from flwr.serverapp import Grid, ServerApp

from ..errors import ConfigError
from ..home import Home
from ..incentives import RoundSettler, load_validation
from .coordinator import RoundOutcome, TaskCoordinator
from .flower import LedgerStrategy, LocalGrid, local_contexts, make_client_app
from .participant import Participant
from .plan import load_plan
from .runner import federation_lock, load_participant, validation_evaluator


def _setting(context: Context, key: str, env: str) -> str:
    value = context.run_config.get(key) or os.environ.get(env)
    if not value:
        raise ConfigError(f"the Flower run needs '{key}' in its run config (or {env} in the environment)")
    return str(value)


def run_server(
    grid: Grid, home: Home, task_id: str, on_round: Callable[[RoundOutcome], None] | None = None
) -> LedgerStrategy:
    """The aggregator's whole run: join the nodes, then every remaining round, recorded on the ledger."""
    plan = load_plan(home, task_id)
    with home.open_ledger() as ledger:
        aggregator = home.identity(plan.aggregator)
        coordinator = TaskCoordinator(ledger, home.store(), aggregator, task_id)
        settler = None
        if RoundSettler.wanted(coordinator.record):
            validation = load_validation(plan.validation, coordinator.record)
            settler = RoundSettler(ledger, home.store(), aggregator, task_id, validation)
            on_round = settler.callback(on_round)
            settler.catch_up()  # rounds finalized before an interruption get their payouts and slashes first
        strategy = LedgerStrategy(coordinator, evaluate=validation_evaluator(home, task_id), on_round=on_round)
        strategy.run(grid)
        if settler is not None:
            settler.finish()
        return strategy


server_app = ServerApp()


@server_app.main()
def _main(grid: Grid, context: Context) -> None:
    run_server(grid, Home(_setting(context, "home", "LEDGERML_HOME")), _setting(context, "task", "LEDGERML_TASK"))


def _participant(context: Context) -> Participant:
    home = Home(_setting(context, "home", "LEDGERML_HOME"))
    return load_participant(home, _setting(context, "task", "LEDGERML_TASK"), int(context.node_config["partition-id"]))


client_app = make_client_app(_participant)


def run_in_process(
    home: Home, task_id: str, *, on_round: Callable[[RoundOutcome], None] | None = None, drop: set[int] | None = None
) -> LedgerStrategy:
    """Run the task's remaining rounds with the real ServerApp/ClientApp code in this process."""
    count = len(load_plan(home, task_id).participants)
    with (
        federation_lock(home, task_id),
        LocalGrid(client_app, local_contexts(count, {"home": str(home.path), "task": task_id})) as grid,
    ):
        grid.drop = {node + 1 for node in (drop or set())}
        return run_server(grid, home, task_id, on_round)


def run_simulation(home: Home, task_id: str) -> None:
    """Run the task's remaining rounds on Flower's simulation engine (Ray; one virtual node per participant)."""
    from flwr.simulation import run_simulation as flower_simulation

    count = len(load_plan(home, task_id).participants)
    os.environ["LEDGERML_HOME"], os.environ["LEDGERML_TASK"] = str(home.path), task_id
    with federation_lock(home, task_id):
        _simulate(flower_simulation, count)


def _simulate(flower_simulation: Callable[..., None], count: int) -> None:
    flower_simulation(
        server_app=server_app,
        client_app=client_app,
        num_supernodes=count,
        backend_config={"client_resources": {"num_cpus": 1, "num_gpus": 0.0}},
    )
