"""The service's sealing timer seals what the signed policy says is due, with no further write."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ledgerml.home import Home
from ledgerml.service.sealing import IDLE_POLL_S, SealTimer, seconds_until
from ledgerml.types import Role
from ledgerml.vocab.consensus import SealingPolicySet
from ledgerml.vocab.core import RoleGranted

from ..conftest import make_identity


def test_seconds_until_sleeps_to_the_deadline_and_polls_when_idle() -> None:
    assert seconds_until(None, 1000.0) == IDLE_POLL_S
    assert seconds_until(1250.0, 1000.0) == pytest.approx(0.25)
    assert seconds_until(900.0, 1000.0) == 0.0  # overdue: at once
    assert seconds_until(1e9, 0.0) == IDLE_POLL_S  # far away: look again within the poll


def test_a_ledger_without_a_policy_timer_gets_no_thread() -> None:
    timer = SealTimer(object())
    timer.start()
    assert timer._thread is None
    timer.stop()


def test_the_service_seals_a_quiet_ledgers_pending_events_by_the_policy(tmp_path: Path) -> None:
    from ledgerml.service.app import create_app

    home = Home(tmp_path / "home")
    home.init(unencrypted=True)
    admin = home.identity("admin")
    app = create_app(home)
    service = app.state.service
    try:
        ledger = service.ledger
        ledger.submit(admin, SealingPolicySet(policy="fixed", block_size=1000, max_wait_ms=300))
        height = ledger.block().height
        ledger.submit(admin, RoleGranted(subject=make_identity("quiet", 7001).address, role=Role.TRAINER))
        deadline = time.monotonic() + 15
        while ledger.block().height == height and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ledger.block().height > height, "the timer did not seal the pending event"
        assert ledger.block().log_size == ledger.size  # nothing left pending
    finally:
        service.close()
    assert service.seal_timer._thread is None
