"""``ledgerml consensus``: tune's JSON, replay on a throwaway ledger, set-policy on a home, bad options."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._cli import one_error_line, run_cli


def test_tune_prints_besu_qbft_genesis_parameters() -> None:
    result = run_cli(
        "consensus",
        "tune",
        "--validators",
        "4",
        "--block-period",
        "1",
        "--request-timeout",
        "3",
        "--heights",
        "40",
        "--crash-every",
        "10",
        "--json",
    )
    assert result.code == 0, result.err
    document = result.json()
    qbft = document["genesis"]["config"]["qbft"]  # type: ignore[index]
    assert set(qbft) == {"blockperiodseconds", "requesttimeoutseconds", "epochlength"}
    assert qbft["blockperiodseconds"] == 1 and isinstance(qbft["requesttimeoutseconds"], int)
    assert set(document["simulated"]) == {"fixed", "jacobson-karels", "learned"}  # type: ignore[index]
    assert "simulation" in document["note"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--validators", "3"], "validators must be 4..64"), (["--block-period", "0"], "whole seconds")],
)
def test_tune_rejects_bad_conditions_in_one_line(args: list[str], message: str) -> None:
    result = run_cli("consensus", "tune", *args, "--json")
    assert result.code == 2 and one_error_line(result.err) and message in result.err


def test_replay_of_a_small_trace(tmp_path: Path) -> None:
    trace = tmp_path / "blocks.csv"
    trace.write_text("number,timestamp,transactions\n1,100,6\n2,112,5\n3,124,7\n")
    result = run_cli("consensus", "replay", "--trace", str(trace), "--policy", "adaptive", "--json")
    assert result.code == 0, result.err
    assert result.json()["events"] == 18  # type: ignore[index]
    bad = run_cli("consensus", "replay", "--trace", str(trace), "--policy", "magic", "--json")
    assert bad.code == 2 and one_error_line(bad.err) and "--policy must be" in bad.err


def test_set_policy_is_a_signed_event_that_verify_replays(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    assert run_cli("init", "--home", home, "--unencrypted").code == 0
    result = run_cli(
        "consensus", "set-policy", "--home", home, "--policy", "learned", "--block-cost", "30000", "--json"
    )
    assert result.code == 0, result.err
    assert result.json()["kind"] == "SealingPolicySet"  # type: ignore[index]
    again = run_cli("consensus", "set-policy", "--home", home, "--policy", "learned", "--block-cost", "30000")
    assert again.code == 19 and one_error_line(again.err) and "already" in again.err
    assert run_cli("verify", "--home", home).code == 0


def test_replay_of_the_burst_policy_on_simulated_time_is_deterministic(tmp_path: Path) -> None:
    trace = tmp_path / "blocks.csv"
    trace.write_text("number,timestamp,transactions\n1,100,6\n2,112,5\n3,124,7\n4,136,4\n")
    args = ["consensus", "replay", "--trace", str(trace), "--policy", "burst", "--block-cost", "3000"]
    runs = [run_cli(*args, "--max-wait-ms", "300", "--submit-ms", "8", "--skip", "1", "--json") for _ in range(2)]
    assert all(r.code == 0 for r in runs), runs[0].err
    first = runs[0].json()
    assert first == runs[1].json() and first["clock"] == "simulated" and first["events"] == 16  # type: ignore[index]
    assert first["policy"] == "burst" and first["submit_ms"] == 8.0  # type: ignore[index]
    bad = run_cli(*args, "--submit-ms", "-1", "--json")
    assert bad.code == 2 and one_error_line(bad.err) and "--submit-ms" in bad.err
    bad = run_cli(*args, "--skip", "-1", "--json")
    assert bad.code == 2 and one_error_line(bad.err) and "skip" in bad.err


def test_set_policy_records_the_burst_policy(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    assert run_cli("init", "--home", home, "--unencrypted").code == 0
    args = ["consensus", "set-policy", "--home", home, "--policy", "burst", "--block-cost", "3000"]
    result = run_cli(*args, "--max-wait-ms", "300", "--json")
    assert result.code == 0, result.err
    assert result.json()["policy"] == "burst" and result.json()["max_wait_ms"] == 300  # type: ignore[index]
    assert run_cli("verify", "--home", home).code == 0
