"""The join step appends a chunk's new participants together (one group-commit transaction where the ledger has
``append_many``), each accepted or refused on its own, with the same outcomes as one by one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flwr.app import Context

from ledgerml.events import Event
from ledgerml.federated.coordinator import TaskCoordinator
from ledgerml.federated.flower import LedgerStrategy, LocalGrid, local_contexts, make_client_app
from ledgerml.federated.participant import Participant
from ledgerml.federated.runner import FederationConfig, load_participant, load_plan, setup_federation
from ledgerml.home import Home
from ledgerml.vocab.tasks import participants

TASK = "joins"


class SkewedJoin(Participant):
    """A participant whose join is signed with its nonce plus ``offset`` (refused by the ledger when not 0)."""

    offset: int = 0

    def join(self, ledger_id: str, task_id: str, nonce: int) -> Event:
        return super().join(ledger_id, task_id, nonce + self.offset)


@pytest.fixture
def home(tmp_path: Path) -> Home:
    home = Home(tmp_path / "home")
    home.init(unencrypted=True)
    setup_federation(home, FederationConfig(task_id=TASK, participants=2, rounds=1, epochs=1), unencrypted=True)
    return home


def _loader(home: Home, nodes: dict[int, tuple[int, int]]) -> Any:
    """Node id -> (the plan's participant index, nonce offset of its join)."""

    def load(context: Context) -> Participant:
        index, offset = nodes[context.node_id]
        me = load_participant(home, TASK, index)
        skewed = SkewedJoin(**{name: getattr(me, name) for name in me.__dataclass_fields__})
        skewed.offset = offset
        return skewed

    return load


def _join(
    home: Home, nodes: dict[int, tuple[int, int]], monkeypatch: pytest.MonkeyPatch
) -> tuple[LedgerStrategy, list[int], list[str]]:
    """Run only the join step over ``nodes``: the strategy, the sizes of the ledger's group commits and the task's
    participants afterwards."""
    groups: list[int] = []
    with home.open_ledger() as ledger:
        real = ledger.append_many  # type: ignore[attr-defined]
        monkeypatch.setattr(ledger, "append_many", lambda events: groups.append(len(events)) or real(events))
        coordinator = TaskCoordinator(ledger, home.store(), home.identity(load_plan(home, TASK).aggregator), TASK)
        strategy = LedgerStrategy(coordinator)
        contexts = local_contexts(len(nodes), {"home": str(home.path), "task": TASK, "case": repr(nodes)})
        with LocalGrid(make_client_app(_loader(home, nodes)), contexts) as grid:
            strategy.join(grid)
        joined = [str(a) for a in participants(ledger.state(), TASK)]
    return strategy, groups, joined


def test_new_joins_land_in_one_group_commit(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    strategy, groups, joined = _join(home, {1: (0, 0), 2: (1, 0)}, monkeypatch)
    plan = load_plan(home, TASK)
    addresses = [load_participant(home, TASK, i).address for i in range(len(plan.participants))]
    assert groups == [2]
    assert strategy.join_problems == []
    assert strategy.nodes == {"1": addresses[0], "2": addresses[1]}
    assert joined == sorted(addresses)


def test_a_refused_join_is_reported_and_the_others_land(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    # node 1's join skips a nonce (refused); node 2 is the same participant with a good join, node 3 another one
    strategy, groups, joined = _join(home, {1: (0, 5), 2: (0, 0), 3: (1, 0)}, monkeypatch)
    first, second = (load_participant(home, TASK, i).address for i in (0, 1))
    assert groups == [2]  # the first join of each new participant, together; node 2's is tried after node 1's
    assert len(strategy.join_problems) == 1
    assert strategy.join_problems[0].startswith("node 1: join refused:") and "skips ahead" in strategy.join_problems[0]
    assert strategy.nodes == {"2": first, "3": second}
    assert joined == sorted([first, second])


def test_a_second_node_of_a_joined_participant_is_learned_without_a_second_join(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    strategy, groups, joined = _join(home, {1: (0, 0), 2: (0, 0), 3: (1, 0)}, monkeypatch)
    first, second = (load_participant(home, TASK, i).address for i in (0, 1))
    assert groups == [2] and strategy.join_problems == []
    assert strategy.nodes == {"1": first, "2": first, "3": second}
    assert joined == sorted([first, second])
