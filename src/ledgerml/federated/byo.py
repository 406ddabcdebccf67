"""Bring your own Flower app: a task created from the app's own initial arrays and a Flower strategy, and the
server side that runs any ``flwr.serverapp.strategy`` strategy under ``LedgerStrategy``.

The participants' ClientApp only adds ``ledger_mod`` (``ledgerml.federated.mod``); the ServerApp calls
``serve_flower_task`` where it would call ``strategy.start``. Nothing here renames the app's arrays: the task
records their names, shapes and dtypes, and every check, rule and replay works on them as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from flwr.app import ArrayRecord
from flwr.serverapp import Grid
from flwr.serverapp.strategy import Strategy

from ..errors import ConfigError, NotFound
from ..events import Payload
from ..home import Home
from ..identity import Identity
from ..incentives import RoundSettler
from ..incentives.rewards import Scorer
from ..ml.serialization import Weights
from ..vocab.tasks import TaskRecord, task
from ..vocab.tokens import TokensMinted
from .coordinator import RoundOutcome, TaskCoordinator
from .flower import LedgerStrategy
from .flower_rules import rule_of
from .mod import weights_of
from .runner import federation_lock


def initial_weights(initial: ArrayRecord | Mapping[str, Any]) -> Weights:
    """The app's initial model as named numpy arrays (an ArrayRecord's own names, or a mapping's)."""
    if isinstance(initial, ArrayRecord):
        return weights_of(initial)
    return {str(name): np.asarray(array) for name, array in initial.items()}


def create_flower_task(
    home: Home,
    task_id: str,
    *,
    initial: ArrayRecord | Mapping[str, Any],
    strategy: Strategy | str,
    rounds: int,
    aggregator: str,
    rule_params: dict[str, Any] | None = None,
    reward_pool: int = 0,
    **settings: Any,
) -> TaskRecord:
    """Create a task whose model is the app's ``initial`` arrays and whose rule is ``strategy``: a Flower
    strategy instance (its aggregate is recorded; ``flwr:NAME`` with its settings) or a ledgerml rule name
    with ``rule_params``. ``aggregator`` names the identity that runs the rounds; the admin mints
    ``reward_pool`` in the same batch. ``settings``: ``TaskCoordinator.create``'s other keywords
    (``min_participants``, ``max_update_norm``, ``dp``, ``min_stake``, ``slash_on``, ...)."""
    if isinstance(strategy, str):
        rule, params = strategy, dict(rule_params or {})
    else:
        if rule_params:
            raise ConfigError("rule_params are taken from the Flower strategy itself; pass none")
        rule, params = rule_of(strategy)
    funding: list[tuple[Identity, Payload]] = []
    if reward_pool:
        funding.append((home.identity(home.config().admin), TokensMinted(amount=reward_pool, task_id=task_id)))
    with home.open_ledger() as ledger:
        coordinator = TaskCoordinator.create(
            ledger,
            home.store(),
            home.identity(aggregator),
            task_id=task_id,
            model=initial_weights(initial),
            rounds=rounds,
            rule=rule,
            rule_params=params,
            reward_pool=reward_pool,
            funding=funding,
            **settings,
        )
        return coordinator.record


def aggregator_of(home: Home, record: TaskRecord) -> Identity:
    """The task's aggregator key from the home's key store (found by address)."""
    info = home.keys.find(record.aggregator)
    if info is None:
        raise NotFound(
            f"the aggregator {record.aggregator} of task {record.task_id!r} has no key in {home.keys.folder}"
        )
    return home.identity(info.name)


def serve_flower_task(
    grid: Grid,
    home: Home,
    task_id: str,
    strategy: Strategy,
    *,
    evaluate: Callable[[Weights], dict[str, float]] | None = None,
    utility: Scorer | None = None,
    on_round: Callable[[RoundOutcome], None] | None = None,
) -> LedgerStrategy:
    """Run the task's remaining rounds with ``strategy`` wrapped in ``LedgerStrategy``: join the nodes, record
    every round, and (for a task with rewards or slashing) pay and settle with ``utility`` as the valuation.

    ``evaluate`` (arrays by name -> metrics) is the server-side evaluation recorded in each round's metrics;
    ``utility`` (arrays -> a number, e.g. validation accuracy) values contributions. Call it from the
    ServerApp's ``main`` instead of ``strategy.start``."""
    with federation_lock(home, task_id), home.open_ledger() as ledger:
        record = task(ledger.state(), task_id)
        if record is None:
            raise NotFound(f"task {task_id!r} does not exist")
        aggregator = aggregator_of(home, record)
        coordinator = TaskCoordinator(ledger, home.store(), aggregator, task_id)
        settler = None
        if RoundSettler.wanted(record):
            if utility is None:
                raise ConfigError(f"task {task_id!r} pays rewards or slashes: serve it with a utility function")
            settler = RoundSettler(ledger, home.store(), aggregator, task_id, utility)
            on_round = settler.callback(on_round)
            settler.catch_up()
        ledger_strategy = LedgerStrategy(coordinator, strategy, evaluate=evaluate, on_round=on_round)
        ledger_strategy.run(grid)
        if settler is not None:
            settler.finish()
        return ledger_strategy
