"""A round's receipts ride on the next round's train messages: one message per node per round instead of two
(in a deployment each ``send_and_receive`` waits at least one 3 s pull interval). Only the last round's receipts,
and those of nodes the next round does not sample, travel on receipt messages of their own; every receipt still
reaches its participant, is kept once and checks in the audit; a receipt that cannot be kept does not cost the
participant its update."""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from flwr.app import ConfigRecord, Message

from ledgerml.federated import flower
from ledgerml.federated.apps import run_in_process
from ledgerml.federated.audit import audit_task
from ledgerml.federated.mod import KEY, RECEIPT, STEP
from ledgerml.federated.receipts import audit_receipts, keep_receipt
from ledgerml.federated.runner import FederationConfig, setup_federation
from ledgerml.home import Home


def _planned(tmp_path: Path, task: str, participants: int = 3, rounds: int = 3, **settings: Any) -> Home:
    home = Home(tmp_path / "home")
    home.init(unencrypted=True)
    config = FederationConfig(task_id=task, participants=participants, rounds=rounds, epochs=1, **settings)
    setup_federation(home, config, unencrypted=True)
    return home


class _Sent:
    """Every message the aggregator sends through the in-process Grid, by round trip."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.trips: list[list[dict[str, Any]]] = []
        original = flower.LocalGrid.send_and_receive

        def counting(grid: flower.LocalGrid, messages: Any, *, timeout: float | None = None) -> Any:
            messages = list(messages)
            if messages:  # Flower sends the (empty) evaluate step too
                self.trips.append([dict(m.content[KEY]) if KEY in m.content else {} for m in messages])
            return original(grid, messages, timeout=timeout)

        monkeypatch.setattr(flower.LocalGrid, "send_and_receive", counting)

    def receipt_trips(self) -> list[list[dict[str, Any]]]:
        return [trip for trip in self.trips if any(m.get(STEP) == RECEIPT for m in trip)]

    def riding(self) -> list[dict[str, Any]]:
        return [m for trip in self.trips for m in trip if RECEIPT in m and m.get(STEP) != RECEIPT]


def _kept(home: Home, task: str) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for log in (home.path / "receipts").rglob("receipts.jsonl")
        for line in log.read_bytes().splitlines()
    ]


def test_receipts_ride_on_the_next_train_message_and_the_last_round_on_their_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = _planned(tmp_path, "ride")
    sent = _Sent(monkeypatch)
    strategy = run_in_process(home, "ride")
    assert [o.status for o in strategy.history] == ["ok", "ok", "ok"]
    # one join trip, three train trips, one receipt trip after the last round (was one after every round)
    assert len(sent.trips) == 5 and len(sent.receipt_trips()) == 1
    assert len(sent.riding()) == 6  # rounds 1 and 2's receipts, on rounds 2 and 3's train messages
    assert {json.loads(m[RECEIPT])["round"] for m in sent.riding()} == {1, 2}
    assert {json.loads(m[RECEIPT])["round"] for m in sent.receipt_trips()[0]} == {3}
    kept = _kept(home, "ride")
    assert sorted((r["round"], r["participant"]) for r in kept) == sorted(
        (o.round, address) for o in strategy.history for address in o.accepted
    )  # every accepted commitment's receipt kept by its participant, once
    with home.open_ledger() as ledger:
        assert audit_receipts(ledger, "ride", home.path / "receipts") == []
        assert audit_task(ledger, home.store(), "ride").ok


def test_a_node_the_next_round_does_not_sample_gets_its_receipt_on_its_own_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = _planned(tmp_path, "some", participants=4, rounds=3, clients_per_round=2)
    sent = _Sent(monkeypatch)
    strategy = run_in_process(home, "some")
    trained = [set(o.accepted) for o in strategy.history]
    assert all(len(t) == 2 for t in trained)
    kept = Counter((r["round"], r["participant"]) for r in _kept(home, "some"))
    assert kept == Counter((o.round, a) for o in strategy.history for a in o.accepted)  # each once
    for trip in sent.receipt_trips():  # a receipt message goes only to a node that is not trained next
        rounds = {json.loads(m[RECEIPT])["round"] for m in trip}
        assert len(rounds) == 1
        (done,) = rounds
        if done < 3:
            nxt = trained[done]  # the participants of round done + 1
            assert all(json.loads(m[RECEIPT])["participant"] not in nxt for m in trip)
    for m in sent.riding():
        receipt = json.loads(m[RECEIPT])
        assert receipt["participant"] in trained[receipt["round"]]  # rides only to a node trained next round


def test_a_receipt_that_cannot_be_kept_costs_the_participant_nothing_and_is_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An aggregator's receipt that does not verify (here: its signature altered on the way) is refused by the
    participant, named in the train reply and the aggregator's log; the update still counts, nothing is kept."""
    home = _planned(tmp_path, "bad", rounds=2)
    original = flower.LedgerStrategy.configure_train

    def tampering(self: flower.LedgerStrategy, *args: Any) -> Any:
        messages: list[Message] = list(original(self, *args))
        for message in messages:
            record = dict(message.content[KEY])
            if RECEIPT in record:
                receipt = json.loads(str(record[RECEIPT]))
                receipt["signature"] = "0x" + "00" * 65
                message.content[KEY] = ConfigRecord({**record, RECEIPT: json.dumps(receipt)})
        return messages

    monkeypatch.setattr(flower.LedgerStrategy, "configure_train", tampering)
    with caplog.at_level(logging.WARNING, logger="ledgerml.federated"):
        strategy = run_in_process(home, "bad")
    assert [len(o.accepted) for o in strategy.history] == [3, 3]  # round 2's updates count
    problems = [r.getMessage() for r in caplog.records if "did not take its receipt" in r.getMessage()]
    assert len(problems) == 3 and all("receipt not kept:" in p for p in problems)
    assert sorted(r["round"] for r in _kept(home, "bad")) == [2, 2, 2]  # round 1's were refused, not kept


def test_the_last_rounds_receipts_are_sent_when_a_later_step_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that fails after a round (here: its next configure_train raises) still delivers that round's
    receipts before the error propagates."""
    home = _planned(tmp_path, "fail", rounds=2)
    original = flower.LedgerStrategy.configure_train

    def failing(self: flower.LedgerStrategy, server_round: int, *args: Any) -> Any:
        if server_round == 2:
            raise RuntimeError("the aggregator's disk is gone")
        return original(self, server_round, *args)

    monkeypatch.setattr(flower.LedgerStrategy, "configure_train", failing)
    with pytest.raises(RuntimeError, match="disk is gone"):
        run_in_process(home, "fail")
    assert sorted(r["round"] for r in _kept(home, "fail")) == [1, 1, 1]


def test_keep_receipt_refuses_what_is_not_a_receipt_in_one_line(tmp_path: Path) -> None:
    for text in (None, 5, "", "{", "[]", json.dumps({"v": 1})):
        kept, problem = keep_receipt(text, "0x" + "11" * 20, tmp_path)
        assert not kept and problem is not None and problem.startswith("receipt not kept: ")
        assert len(problem.splitlines()) == 1
    assert not list(tmp_path.iterdir())  # nothing written
