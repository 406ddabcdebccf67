"""The SQLite ledger cuts its blocks by the signed ``SealingPolicySet`` in force (``consensus.sealer``): the size
cap at every write, the policy's deadline through its timer (``next_seal_ms`` / ``seal_due``), a changed policy
from its event on, ``seal()`` within the cap, and the URL options only while no policy was signed."""

from __future__ import annotations

import copy
import itertools
import math
from pathlib import Path

import pytest

from ledgerml.consensus.cutting import FixedPolicy, IdleGapPolicy, LearnedPolicy, Pending
from ledgerml.consensus.sealer import PolicySealer, policy_event, policy_from_record
from ledgerml.consensus.traces import Trace, onoff_trace
from ledgerml.errors import Unauthorized
from ledgerml.ledger.registry import Ledger, sqlite_url
from ledgerml.ledger.sqlite import SqliteLedger
from ledgerml.types import Role
from ledgerml.vocab.consensus import SealingPolicyRecord, SealingPolicySet, sealing_policy
from ledgerml.vocab.core import DatasetRegistered, RoleGranted
from ledgerml.workflows.cutting_replay import open_replay_ledger

from ..conftest import make_identity

VALIDATOR, INDEXER = make_identity("validator", 8111), make_identity("indexer", 8112)


class Clock:
    """A hand-moved clock in milliseconds."""

    def __init__(self) -> None:
        self.ms = 1_000_000.0

    def __call__(self) -> float:
        return self.ms


def _events(start: int, count: int) -> list[DatasetRegistered]:
    return [DatasetRegistered(dataset_id="sha256:" + f"{start + i:064x}", name=f"e{start + i}") for i in range(count)]


def _sizes(ledger: SqliteLedger) -> list[int]:
    blocks = list(ledger.blocks())
    return [b.log_size - a.log_size for a, b in itertools.pairwise(blocks)]


def _ledger(tmp_path: Path, clock: Clock, policy: SealingPolicySet) -> SqliteLedger:
    ledger = open_replay_ledger(tmp_path / "l.db", VALIDATOR, INDEXER)
    assert isinstance(ledger, SqliteLedger)
    ledger.sealer = PolicySealer(clock=clock)
    ledger.submit(VALIDATOR, policy)
    ledger.seal()
    return ledger


def test_fixed_policy_caps_blocks_at_each_write_and_seals_the_rest_on_its_timer(tmp_path: Path) -> None:
    clock = Clock()
    with _ledger(tmp_path, clock, SealingPolicySet(policy="fixed", block_size=3, max_wait_ms=1000)) as ledger:
        before = len(_sizes(ledger))
        ledger.submit_batch(INDEXER, _events(0, 7))
        assert _sizes(ledger)[before:] == [3, 3] and ledger.size - ledger.block().log_size == 1
        assert ledger.next_seal_ms() == clock.ms + 1000  # max(last seal + interval, last arrival)
        assert ledger.seal_due() is None  # not due yet: nothing sealed
        clock.ms += 999
        assert ledger.seal_due() is None
        clock.ms += 1
        sealed = ledger.seal_due()
        assert sealed is not None and sealed.log_size == ledger.size and ledger.next_seal_ms() is None
        assert ledger.verify().ok


def test_adaptive_policy_seals_once_its_idle_gap_passed(tmp_path: Path) -> None:
    clock = Clock()
    policy = SealingPolicySet(policy="adaptive", block_size=100, max_wait_ms=5000, idle_gap_ms=50)
    with _ledger(tmp_path, clock, policy) as ledger:
        height = ledger.block().height
        for i in range(4):
            ledger.submit(INDEXER, _events(i, 1)[0])
            clock.ms += 10
        assert ledger.block().height == height and ledger.next_seal_ms() == clock.ms - 10 + 50
        clock.ms += 39
        assert ledger.seal_due() is None
        clock.ms += 1
        assert ledger.seal_due() is not None and ledger.block().log_size == ledger.size
        assert ledger.block().height == height + 1


def test_learned_policy_cuts_one_block_per_burst_on_its_timer(tmp_path: Path) -> None:
    clock = Clock()
    policy = SealingPolicySet(policy="learned", block_size=1000, max_wait_ms=60_000, block_cost=50_000)
    with _ledger(tmp_path, clock, policy) as ledger:
        height, serial = ledger.block().height, 0
        for _ in range(12):  # bursts of 20 events 1 ms apart, 10 s between bursts
            for _ in range(20):
                ledger.submit(INDEXER, _events(serial, 1)[0])
                serial, clock.ms = serial + 1, clock.ms + 1
            due = ledger.next_seal_ms()
            assert due is not None and due < clock.ms + 10_000
            clock.ms = max(clock.ms, due)
            assert ledger.seal_due() is not None
            clock.ms += 10_000
        assert ledger.block().height - height <= 12 + 2  # the first bursts, before it knows the gaps, may split
        assert ledger.block().log_size == ledger.size and ledger.verify().ok


def test_a_new_policy_rules_from_its_event_on_and_seal_stays_within_the_cap(tmp_path: Path) -> None:
    clock = Clock()
    with _ledger(tmp_path, clock, SealingPolicySet(policy="fixed", block_size=10, max_wait_ms=60_000)) as ledger:
        before = len(_sizes(ledger))
        ledger.submit_batch(INDEXER, _events(0, 8))
        assert _sizes(ledger)[before:] == []
        ledger.submit(VALIDATOR, SealingPolicySet(policy="fixed", block_size=4, max_wait_ms=60_000))
        assert _sizes(ledger)[before:] == [4, 4] and ledger.size - ledger.block().log_size == 1
        ledger.submit_batch(INDEXER, _events(8, 2))
        assert _sizes(ledger)[before:] == [4, 4] and ledger.size - ledger.block().log_size == 3
        ledger.submit(VALIDATOR, SealingPolicySet(policy="fixed", block_size=2, max_wait_ms=60_000))
        assert _sizes(ledger)[before:] == [4, 4, 2, 2]
        record = sealing_policy(ledger.state())
        assert record is not None and record.block_size == 2
        assert ledger.verify().ok  # verify replays every SealingPolicySet with the rest of the log


def test_seal_cuts_pending_events_in_blocks_of_the_cap(tmp_path: Path) -> None:
    clock = Clock()
    with _ledger(tmp_path, clock, SealingPolicySet(policy="fixed", block_size=2, max_wait_ms=60_000)) as ledger:
        before = len(_sizes(ledger))
        with SqliteLedger.open(tmp_path / "l.db", validator=None) as writer:  # a process without the key
            writer.submit_batch(INDEXER, _events(0, 5))
        assert _sizes(ledger)[before:] == []
        assert ledger.seal() is not None and _sizes(ledger)[before:] == [2, 2, 1]


def test_without_a_signed_policy_the_url_options_rule(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "u.db", block_size=3, block_interval=3600)
    with Ledger.create(url, admin=VALIDATOR) as ledger:
        assert isinstance(ledger, SqliteLedger)
        ledger.submit(VALIDATOR, RoleGranted(subject=VALIDATOR.address, role=Role.DATA_OWNER))
        ledger.submit_batch(VALIDATOR, _events(0, 7))
        assert _sizes(ledger)[-2:] == [3, 3] and ledger.next_seal_ms() is None and ledger.sealer is None


def test_only_an_admin_or_validator_sets_the_policy(tmp_path: Path) -> None:
    with _ledger(tmp_path, Clock(), SealingPolicySet(policy="fixed", block_size=5, max_wait_ms=1000)) as ledger:
        with pytest.raises(Unauthorized):
            ledger.submit(INDEXER, SealingPolicySet(policy="fixed", block_size=1, max_wait_ms=1))
        record = sealing_policy(ledger.state())
        assert record is not None and record.block_size == 5


@pytest.mark.parametrize(
    "policy",
    [FixedPolicy(7, 300.0), IdleGapPolicy(9, 20.0, 400.0), LearnedPolicy(11, 5000.0, 600.0)],
    ids=["fixed", "adaptive", "learned"],
)
def test_the_record_rebuilds_the_policy_it_was_made_from(policy: FixedPolicy | IdleGapPolicy | LearnedPolicy) -> None:
    event = policy_event(policy)
    record = SealingPolicyRecord(
        event.policy, event.block_size, event.max_wait_ms, event.idle_gap_ms, event.block_cost, "0x0", 0
    )
    rebuilt = policy_from_record(record)
    assert type(rebuilt) is type(policy) and policy_event(rebuilt) == event


def _by_policy(trace: Trace, policy: FixedPolicy | LearnedPolicy) -> list[float]:
    """Seal times when the policy's own deadline rule decides (8 ms per submit, 2 ms per seal, virtual time)."""
    now, last_seal, last_arrival, pending, oldest, seals = 0.0, -math.inf, -math.inf, 0, 0.0, []
    for released, count in trace.releases:
        for _ in range(count):
            while pending:
                due = policy.deadline(Pending(pending, oldest, last_arrival, last_seal))
                if due > max(now, released):
                    break
                now = max(now, due) + 2.0
                pending, last_seal = 0, now
                seals.append(now)
            now = max(now, released) + 8.0
            if math.isfinite(last_arrival):
                policy.observe(now - last_arrival)
            oldest = now if pending == 0 else oldest
            pending, last_arrival = pending + 1, now
    return seals


def _by_sealer(trace: Trace, policy: FixedPolicy | LearnedPolicy) -> list[float]:
    """Seal times when a ``PolicySealer`` built from the policy's signed record decides, on the same costs."""
    event = policy_event(policy)
    clock = Clock()
    clock.ms = 0.0
    sealer = PolicySealer(clock=clock)
    sealer.adopt(SealingPolicyRecord(event.policy, event.block_size, event.max_wait_ms, 0, event.block_cost, "", 0))
    sealer.note(0, 0)
    sealer.last_seal_ms = -math.inf
    sealed, size, seals = 0, 0, []
    for released, count in trace.releases:
        for _ in range(count):
            while size > sealed:
                due = sealer.next_due_ms()
                if due is None or due > max(clock.ms, released):
                    break
                clock.ms = max(clock.ms, due)
                sealed = sealer.cuts(sealed, size)[-1]
                clock.ms += 2.0
                sealer.last_seal_ms = clock.ms
                seals.append(clock.ms)
            clock.ms = max(clock.ms, released) + 8.0
            size += 1
            if sealer.cuts(sealed, size):  # due at the arrival itself: sealed within the write
                sealed, clock.ms = size, clock.ms + 2.0
                sealer.last_seal_ms = clock.ms
                seals.append(clock.ms)
    return seals


@pytest.mark.parametrize(
    "policy", [FixedPolicy(1000, 500.0), LearnedPolicy(1000, 20_000.0, 2000.0)], ids=["fixed", "learned"]
)
def test_the_ledger_sealer_decides_exactly_as_the_policy_rule(policy: FixedPolicy | LearnedPolicy) -> None:
    trace = onoff_trace(seed=4, bursts=6, quiet_ms=5000.0)
    expected = _by_policy(trace, copy.deepcopy(policy))
    assert len(expected) >= 6 and _by_sealer(trace, copy.deepcopy(policy)) == expected


def test_a_new_process_counts_the_wait_from_the_last_blocks_time(tmp_path: Path) -> None:
    # Prepare: a fixed 1 s policy, 3 events left pending, the ledger closed (a CLI process ending)
    clock = Clock()
    with _ledger(tmp_path, clock, SealingPolicySet(policy="fixed", block_size=100, max_wait_ms=1000)) as ledger:
        ledger.submit_batch(INDEXER, _events(0, 3))
        sealed_at = ledger.block().time
        assert ledger.size - ledger.block().log_size == 3
    for late, sealed in ((500, False), (1500, True)):
        # Execute: another process opens it `late` ms after the last block and writes one event
        with SqliteLedger.open(tmp_path / "l.db", validator=VALIDATOR) as again:
            again.sealer = PolicySealer(clock=lambda late=late: float(sealed_at + late))  # type: ignore[misc]
            again.submit(INDEXER, _events(10 + late, 1)[0])
            # Assert: the interval counts from the stored block's time, not from the process start
            assert (again.block().log_size == again.size) is sealed
