"""Secure rounds end to end on Flower's Message API (in process): the aggregate is the clipped weighted mean,
dropouts finalize, and the auditor catches a tampered aggregate, a wrong mask reconstruction and a client whose
committed masked input is not what it sent."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ledgerml.errors import ConfigError, LedgerMLError
from ledgerml.federated import secagg_flower, secagg_round
from ledgerml.federated.apps import client_app, run_server
from ledgerml.federated.audit import audit_task
from ledgerml.federated.flower import LocalGrid, local_contexts
from ledgerml.federated.mod import KEY
from ledgerml.federated.plan import load_plan
from ledgerml.federated.runner import FederationConfig, setup_federation
from ledgerml.federated.secure import quantize
from ledgerml.home import Home
from ledgerml.ml.serialization import flatten, from_bytes
from ledgerml.vocab.secagg import secagg_records, unmask_record
from ledgerml.vocab.tasks import commits, round_record, task

os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
os.environ.setdefault("FLWR_DISABLE_UPDATE_CHECK", "1")
TASK = "sec"


class MidRoundDropGrid(LocalGrid):
    """Nodes in ``drop_inputs`` take part in the key and share stages, then never send their masked input."""

    drop_inputs: set[int]

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Any]:
        ids = list(message_ids)
        for message_id in ids:
            message = self._inbox[message_id]
            carries_input = KEY in message.content and secagg_flower.SECAGG in message.content[KEY]
            if carries_input and message.metadata.dst_node_id in self.drop_inputs:
                del self._inbox[message_id]
        return super().pull_messages([i for i in ids if i in self._inbox])


def _home(tmp_path: Path, participants: int = 4, rounds: int = 1, **extra: Any) -> Home:
    home = Home(tmp_path / "home")
    home.init(unencrypted=True)
    config = FederationConfig(
        task_id=TASK,
        participants=participants,
        rounds=rounds,
        rule="norm_clipped_mean",
        rule_params={"clip": 0.5},
        secure=True,
        min_participants=2,
        **extra,
    )
    setup_federation(home, config, unencrypted=True)
    return home


def _run(home: Home, drop_inputs: set[int] | None = None) -> Any:
    people = len(load_plan(home, TASK).participants)
    with MidRoundDropGrid(client_app, local_contexts(people, {"home": str(home.path), "task": TASK})) as grid:
        grid.drop_inputs = {node + 1 for node in drop_inputs or set()}
        return run_server(grid, home, TASK)


@pytest.fixture
def encoded(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[np.ndarray, int]]]:
    """Every (clipped delta, weight) a client quantized, in the order they did."""
    seen: list[tuple[np.ndarray, int]] = []
    real = quantize.encode

    def spy(delta: np.ndarray, weight: int, clip: float, bits: int) -> np.ndarray:
        seen.append((np.array(delta), weight))
        return real(delta, weight, clip, bits)

    monkeypatch.setattr(quantize, "encode", spy)
    yield seen


def _problems(home: Home) -> list[str]:
    ledger = home.open_ledger()
    try:
        report = audit_task(ledger, home.store(), TASK)
        return [p for r in report.rounds for p in r.problems] + report.problems
    finally:
        ledger.close()


def _delta(home: Home) -> tuple[np.ndarray, int]:
    """The first round's published change of the global model, and the task's fraction bits."""
    ledger = home.open_ledger()
    state = ledger.state()
    record = task(state, TASK)
    assert record is not None
    aggregate = round_record(state, TASK, 1)
    assert aggregate is not None and aggregate.aggregate_digest is not None
    before = flatten(from_bytes(home.store().get(record.initial_model)))
    after = flatten(from_bytes(home.store().get(aggregate.aggregate_digest)))
    ledger.close()
    return after - before, int(record.secure_settings()["frac_bits"])  # type: ignore[arg-type]


def _expected(seen: list[tuple[np.ndarray, int]]) -> np.ndarray:
    total = sum(w for _, w in seen)
    return sum(d * w for d, w in seen) / total  # type: ignore[no-any-return]


@pytest.mark.slow
def test_a_secure_task_aggregates_the_clipped_mean_without_seeing_an_update(tmp_path: Path, encoded: list) -> None:  # type: ignore[type-arg]
    home = _home(tmp_path, rounds=2)
    strategy = _run(home)
    assert [o.status for o in strategy.history] == ["ok", "ok"]
    assert _problems(home) == []
    delta, bits = _delta(home)
    assert np.allclose(delta, _expected(encoded[:4]), atol=2.0 ** -(bits + 1) + 1e-6)
    assert all(np.linalg.norm(d) <= 0.5 + 1e-9 for d, _ in encoded)
    ledger = home.open_ledger()
    for commit in commits(ledger.state(), TASK, 1).values():
        data = home.store().get(commit.update_digest)
        assert len(data) == 8 * (len(delta) + 1)  # a masked uint64 vector, never the safetensors of an update
        with pytest.raises(LedgerMLError):
            from_bytes(data)
    ledger.close()


@pytest.mark.slow
def test_thirty_percent_dropping_out_mid_round_still_finalizes(tmp_path: Path, encoded: list) -> None:  # type: ignore[type-arg]
    home = _home(tmp_path, participants=10)
    strategy = _run(home, drop_inputs={1, 4, 8})
    outcome = strategy.history[0]
    assert outcome.status == "ok" and len(outcome.accepted) == 7 and outcome.metrics["dropped"] == 3
    ledger = home.open_ledger()
    unmask = unmask_record(ledger.state(), TASK, 1)
    assert unmask is not None and len(unmask.dropped) == 3 and len(unmask.survivors) == 7
    assert len(secagg_records(ledger.state(), TASK, 1)) == 10
    ledger.close()
    delta, bits = _delta(home)
    assert len(encoded) == 7
    assert np.allclose(delta, _expected(encoded), atol=2.0 ** -(bits + 1) + 1e-6)
    assert _problems(home) == []


def test_the_auditor_detects_a_tampered_aggregate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = secagg_round.secure_aggregate

    def tampered(template, *args):  # type: ignore[no-untyped-def]
        weights, delta, weight = real(template, *args)
        return {k: v + np.float32(0.01) for k, v in weights.items()}, delta, weight

    monkeypatch.setattr(secagg_round, "secure_aggregate", tampered)
    home = _home(tmp_path)
    assert _run(home).history[0].status == "ok"
    monkeypatch.undo()
    problems = _problems(home)
    assert any("differs from the secure replay" in p for p in problems), problems


def test_the_auditor_detects_a_wrong_mask_reconstruction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An aggregator that records a self-mask seed the revealed shares do not give is caught; one that unmasks
    with it (its aggregate is then noise, and a noise weight may even fail the round) is caught either way."""
    real_doc, real_reconstruct = secagg_round.unmask_doc, secagg_round.reconstruct_secrets

    def flip(seeds):  # type: ignore[no-untyped-def]
        first = sorted(seeds)[0]
        return {**seeds, first: bytes([seeds[first][0] ^ 1]) + seeds[first][1:]}

    monkeypatch.setattr(secagg_round, "unmask_doc", lambda t, seeds, keys: real_doc(t, flip(seeds), keys))
    home = _home(tmp_path)
    assert _run(home).history[0].status == "ok"
    monkeypatch.undo()
    problems = _problems(home)
    assert any("not what the revealed shares reconstruct" in p for p in problems), problems

    def wrong(*args):  # type: ignore[no-untyped-def]
        seeds, keys = real_reconstruct(*args)
        return flip(seeds), keys

    monkeypatch.setattr(secagg_round, "reconstruct_secrets", wrong)
    other = _home(tmp_path / "other")
    status = _run(other).history[0].status
    monkeypatch.undo()
    problems = _problems(other)
    expected = "differs from the secure replay" if status == "ok" else "marked failed although"
    assert any(expected in p for p in problems), (status, problems)


def test_a_client_that_sends_other_bytes_than_it_committed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The aggregator rejects it (its masks are removed as a dropout's); an input changed after the round is
    caught by the auditor."""
    real = secagg_flower._masked_train
    cheater: list[str] = []

    def lying(me, cfg, message, reply, vault):  # type: ignore[no-untyped-def]
        out = real(me, cfg, message, reply, vault)
        if not cheater:
            cheater.append(me.address)
            data = bytearray(out.content[KEY]["update"])
            data[0] ^= 1
            out.content[KEY]["update"] = bytes(data)
        return out

    monkeypatch.setattr(secagg_flower, "_masked_train", lying)
    home = _home(tmp_path)
    outcome = _run(home).history[0]
    assert outcome.status == "ok" and len(outcome.accepted) == 3
    assert "digest mismatch" in outcome.rejected[cheater[0]]
    assert _problems(home) == []
    ledger = home.open_ledger()
    honest = commits(ledger.state(), TASK, 1)[outcome.accepted[0]].update_digest
    ledger.close()
    path = home.store().path_of(honest)  # type: ignore[attr-defined]
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[-9] ^= 1
    path.write_bytes(bytes(data))
    problems = _problems(home)
    assert any("committed masked input" in p for p in problems), problems


def test_secure_settings_refuse_a_bound_the_fixed_point_cannot_hold() -> None:
    with pytest.raises(ConfigError, match="secure") as caught:
        FederationConfig(participants=100, rule="norm_clipped_mean", rule_params={"clip": 1e6}, secure=True)
    assert "\n" not in str(caught.value)
    with pytest.raises(ConfigError, match="norm_clipped_mean"):
        FederationConfig(rule="median", secure=True)


def test_an_auditor_opens_one_input_under_a_signed_request(tmp_path: Path, encoded: list) -> None:  # type: ignore[type-arg]
    from ledgerml import RoleGranted
    from ledgerml.federated.runner import load_participant
    from ledgerml.federated.secagg_flower import vault_of
    from ledgerml.federated.secagg_open import answer_open, check_opening, request_open
    from ledgerml.types import Role

    home = _home(tmp_path)
    _run(home)
    people = [load_participant(home, TASK, i) for i in range(4)]
    ledger = home.open_ledger()
    admin = home.identity(home.config().admin)
    auditor = home.keys.create("auditor", None, unencrypted=True)
    ledger.submit(admin, RoleGranted(subject=auditor.address, role=Role.AUDITOR))
    target = people[2]
    with pytest.raises(ConfigError, match="no auditor asked"):
        answer_open(ledger, home.store(), target.identity, vault_of(target.receipts), TASK, 1)  # type: ignore[arg-type]
    request_open(ledger, auditor, TASK, 1, target.address, "spot check of round 1")
    answer_open(ledger, home.store(), target.identity, vault_of(target.receipts), TASK, 1)  # type: ignore[arg-type]
    opened = check_opening(ledger, home.store(), TASK, 1, target.address)
    ledger.close()
    assert opened.commitment_ok and opened.within_bound
    kept = vault_of(target.receipts) / f"{TASK}-1.json"  # type: ignore[operator]
    assert kept.stat().st_mode & 0o777 == 0o600
    clipped = [d for d, w in encoded if w == opened.weight]
    assert any(np.allclose(opened.delta, d, atol=2.0**-20) for d in clipped)


def test_rewards_under_secure_split_the_round_gain_by_recorded_weight(tmp_path: Path) -> None:
    from ledgerml.incentives import audit_rewards, load_validation

    home = _home(tmp_path, reward_pool=1000)
    _run(home)
    ledger = home.open_ledger()
    state = ledger.state()
    record = task(state, TASK)
    assert record is not None
    paid = state.get("rewards", (TASK, 1))
    assert paid is not None, "the secure round was not paid"
    records = secagg_records(state, TASK, 1)
    contributions = dict(paid.contributions)
    weights = {a: records[a].weight for a in contributions}
    first, second = sorted(contributions)[:2]
    if contributions[first] and contributions[second]:
        ratio = contributions[first] / contributions[second]
        assert abs(ratio - weights[first] / weights[second]) < 1e-3 * max(1.0, ratio)
    validation = load_validation(load_plan(home, TASK).validation, record)
    assert audit_rewards(ledger, home.store(), TASK, validation) == []
    ledger.close()


def test_single_update_valuations_are_refused_under_secure() -> None:
    with pytest.raises(ConfigError, match=r"valuation\.method") as caught:
        FederationConfig(rule="norm_clipped_mean", secure=True, reward_pool=10, valuation={"method": "leave_one_out"})
    assert "\n" not in str(caught.value)


def test_hostile_stage_replies_are_invalid_entries_and_the_round_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A node answering the key step with garbage and one sealing shares for the wrong peers are left out of
    the round (recorded as invalid, one line each); the others finalize it."""
    from flwr.app import ConfigRecord, Message, RecordDict

    real_keys, real_shares = secagg_flower._keys, secagg_flower._shares
    bad: dict[str, str] = {}

    def keys(me, cfg, message):  # type: ignore[no-untyped-def]
        if not bad:
            bad["keys"] = me.address
            return Message(RecordDict({KEY: ConfigRecord({"event": '{"kind": "nonsense"}'})}), reply_to=message)
        return real_keys(me, cfg, message)

    def shares(me, cfg, message):  # type: ignore[no-untyped-def]
        out = real_shares(me, cfg, message)
        if "shares" not in bad:
            bad["shares"] = me.address
            out.content[KEY]["bundle"] = '{"0x0000000000000000000000000000000000000000": "00"}'
        return out

    monkeypatch.setattr(secagg_flower, "_keys", keys)
    monkeypatch.setattr(secagg_flower, "_shares", shares)
    home = _home(tmp_path, participants=5)
    outcome = _run(home).history[0]
    assert outcome.status == "ok" and len(outcome.accepted) == 3
    invalid = dict(outcome.invalid)
    assert "SecAggKeys refused" in invalid[bad["keys"]] and "SecAggShares refused" in invalid[bad["shares"]]
    assert all("\n" not in reason for reason in invalid.values())
    assert _problems(home) == []


def test_too_few_masked_inputs_fail_the_round_cleanly(tmp_path: Path) -> None:
    home = _home(tmp_path)
    outcome = _run(home, drop_inputs={0, 1, 2}).history[0]
    assert outcome.status == "failed" and outcome.accepted == []
    assert all("unmasking needs" in reason for reason in outcome.rejected.values())
    ledger = home.open_ledger()
    assert unmask_record(ledger.state(), TASK, 1) is None
    ledger.close()
    assert _problems(home) == []
