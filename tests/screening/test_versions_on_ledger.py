"""A task that declared an earlier detector (``detector = "history"``, version 1, ``"consensus"``, version 2, or
``"alignment"``, version 3)
is scored, acted on and audited with that version, not the default; ``monitor_task`` raising alerts replays the
task once and prints the same scores."""

from __future__ import annotations

import numpy as np
import pytest

from ledgerml.federated import screening as replay
from ledgerml.federated.apps import run_in_process
from ledgerml.federated.audit import audit_task
from ledgerml.federated.config import FederationConfig
from ledgerml.federated.coordinator import update_verdict
from ledgerml.federated.monitor import monitor_task
from ledgerml.federated.runner import setup_federation
from ledgerml.federated.screening import TaskScreening, deltas_of
from ledgerml.federated.screening_alerts import detector_name
from ledgerml.home import Home
from ledgerml.screening.detector import score_round
from ledgerml.vocab.alerts import alerts_of
from ledgerml.vocab.tasks import task

TASK = "v1"
pytestmark = pytest.mark.slow  # one 2-round federation of 5 per version (about 5 s each)


@pytest.fixture(scope="module", params=["history", "consensus", "alignment"])
def home(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Home:
    home = Home(tmp_path_factory.mktemp(request.param) / "home")
    home.init(unencrypted=True)
    config = FederationConfig(
        task_id=TASK,
        participants=5,
        partition="iid",
        rounds=2,
        min_participants=1,
        attack="sign_flip",
        attackers=[0],
        screening={"action": "exclude", "detector": request.param},
    )
    setup_federation(home, config, unencrypted=True)
    run_in_process(home, TASK)
    return home


def test_the_declared_version_is_recorded_scored_and_audited(home: Home) -> None:
    with home.open_ledger(as_validator=False) as ledger:
        state = ledger.state()
        record = task(state, TASK)
        assert record is not None
        declared = record.screening_policy()["detector"]
        report = audit_task(ledger, home.store(), TASK)
        assert not report.problems and not any(r.problems for r in report.rounds)
        screening = TaskScreening.open(state, home.store(), TASK, update_verdict)
        captured: list[dict[str, np.ndarray]] = []
        original = screening.score

        def spy(round_: int, usable: dict, template: dict) -> object:  # type: ignore[type-arg]
            captured.append(deltas_of(usable, template))
            return original(round_, usable, template)

        screening.score = spy  # type: ignore[method-assign]
        recorded = [dict(s.scored.scores) for s in screening.rounds()]
    history = None
    for deltas, scores in zip(captured, recorded, strict=True):
        again = score_round(deltas, history, declared)
        history = again.history
        assert again.scores == scores  # the declared version's maths, not the default's
    other = "consensus" if declared == "history" else "history"
    assert score_round(captured[0], None, other).scores != recorded[0]


def test_raising_alerts_replays_the_task_once(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = monitor_task(home, TASK)
    walks: list[int] = []
    original = replay.TaskScreening.rounds

    def counted(self: TaskScreening, upto: int | None = None):  # type: ignore[no-untyped-def]
        walks.append(1)
        return original(self, upto)

    monkeypatch.setattr(replay.TaskScreening, "rounds", counted)
    done: list[tuple[int, int]] = []
    doc = monitor_task(home, TASK, lambda d, t: done.append((d, t)), alerts_as=home.identity("aggregator"))
    assert len(walks) == 1 and done == [(1, 2), (2, 2)]
    assert doc["scores"] == plain["scores"] and doc["alerts"]
    with home.open_ledger(as_validator=False) as ledger:
        names = {r.detector for _, r in alerts_of(ledger.state())}
        declared = task(ledger.state(), TASK).screening_policy()["detector"]  # type: ignore[union-attr]
    expected = {
        "history": "federation.history/v1",
        "consensus": "federation.consensus/v2",
        "alignment": "federation.alignment/v3",
    }[declared]
    assert names == {detector_name(declared)} == {expected}
