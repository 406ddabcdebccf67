"""The chain monitor on tiny generated traces: each injected attack is found, named and explained early; the
scores of a block depend only on the blocks before it (streaming equals replay)."""

from __future__ import annotations

import numpy as np
import pytest

from ledgerml.analytics.chainwatch.activity import activity_from_json
from ledgerml.analytics.chainwatch.detectors import MONITOR_SIGNALS, SIGNATURES
from ledgerml.analytics.chainwatch.monitor import MonitorSettings, run_monitor
from ledgerml.analytics.chainwatch.signals import monitor_signals
from ledgerml.errors import ConfigError

from ._data import trace


@pytest.mark.parametrize("kind", sorted(SIGNATURES))
def test_each_attack_is_found_named_and_explained(kind: str) -> None:
    activity, _ = trace(kind)
    result = run_monitor(activity)
    caught = [a for a in result.alerts if a.first_block <= 1079 + 5 and a.last_block >= 1070]
    assert caught, f"{kind} window not detected: {result.alerts}"
    assert caught[0].attack == kind
    assert caught[0].first_block - 1070 <= 2
    assert caught[0].score >= caught[0].threshold
    assert {s["signal"] for s in caught[0].signals} == set(SIGNATURES[kind])


def test_a_clean_trace_raises_nothing() -> None:
    activity, _ = trace(None)
    assert run_monitor(activity).alerts == []


def test_streaming_equals_replay() -> None:
    """Signals and scores of the first 90 blocks are the same whether the stream stops there or goes on."""
    activity, _ = trace("flooding")
    data = activity.to_json()
    keep = [i for i, b in enumerate(data["transactions"]["block"]) if b < 1090]
    short = {
        "blocks": {k: (v[:90] if isinstance(v, list) else v) for k, v in data["blocks"].items()},
        "transactions": {k: [v[i] for i in keep] for k, v in data["transactions"].items()},
        "accounts": [],
    }
    prefix = activity_from_json(short)
    assert np.array_equal(monitor_signals(prefix), monitor_signals(activity)[:90])
    assert np.array_equal(run_monitor(prefix).scores, run_monitor(activity).scores[:90])


def test_activity_round_trips_through_json() -> None:
    activity, _ = trace("sybil_burst")
    again = activity_from_json(activity.to_json())
    assert np.array_equal(monitor_signals(again), monitor_signals(activity))
    assert len(MONITOR_SIGNALS) == monitor_signals(again).shape[1]


@pytest.mark.parametrize("settings", [{"threshold": 0.0}, {"threshold": float("nan")}, {"window": 2}, {"history": 3}])
def test_bad_settings_are_one_line(settings: dict) -> None:
    with pytest.raises(ConfigError) as caught:
        MonitorSettings(**settings)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "broken",
    [
        {},
        {"blocks": {"number": [1, 3]}, "transactions": {}, "accounts": []},
    ],
)
def test_malformed_activity_is_one_line(broken: dict) -> None:
    with pytest.raises(ConfigError):
        activity_from_json(broken)
