"""``monitor chain``, ``alerts list|show`` and ``audit alert`` end to end on a tiny replayed trace: the alert is
signed and included, its explanation stored and re-derived; tampering is caught; bad input is one line and
changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledgerml.alerts.api import get_alert
from ledgerml.home import Home

from .._cli import one_error_line, snapshot
from ..analytics.chainwatch._data import trace, write_folder


@pytest.fixture(scope="module")
def flood_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    activity, _ = trace("flooding")
    return write_folder(activity, tmp_path_factory.mktemp("trace") / "flood")


def _raised(cli, folder: Path) -> dict:  # type: ignore[no-untyped-def]
    result = cli("monitor", "chain", "--data", str(folder), "--raise-alerts", "--json")
    assert result.code == 0, result.err
    return result.json()


def test_monitor_raises_signed_explained_alerts_that_re_derive(
    cli, home: Path, flood_folder: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    document = _raised(cli, flood_folder)
    caught = [a for a in document["alerts"] if a["first_block"] <= 1084 and a["last_block"] >= 1070]
    assert caught and caught[0]["attack"] == "flooding" and caught[0]["alert_id"].startswith("sha256:")
    alert_id = caught[0]["alert_id"]
    listed = cli("alerts", "list", "--json").json()["alerts"]
    assert alert_id in [a["id"] for a in listed]
    shown = cli("alerts", "show", alert_id, "--json").json()
    assert shown["explanation"]["method"] == "chainwatch" and shown["subject"]["type"] == "block_range"
    assert shown["explanation"]["input"]["digest"] == document["input_digest"]
    page = tmp_path / "alert.html"
    assert cli("alerts", "show", alert_id[:16], "--format", "html", "--out", str(page)).code == 0
    assert "<svg" in page.read_text() and "new_fan_out" in page.read_text()
    proof_file = tmp_path / "proof.json"
    assert cli("chain", "proof", alert_id, "--out", str(proof_file)).code == 0
    checked = cli("chain", "verify-proof", str(proof_file), "--json")
    assert checked.code == 0, checked.err
    audit = cli("audit", "alert", alert_id, "--json")
    assert audit.code == 0, audit.out + audit.err
    assert audit.json()["ok"] and any("byte for byte" in c for c in audit.json()["checks"])


def test_audit_catches_a_changed_input(cli, home: Path, flood_folder: Path) -> None:  # type: ignore[no-untyped-def]
    document = _raised(cli, flood_folder)
    alert_id = document["alerts"][0]["alert_id"]
    store = Home(home).store()
    data = json.loads(store.get(document["input_digest"]))
    data["transactions"]["failed"] = [0] * len(data["transactions"]["failed"])
    store.path_of(document["input_digest"]).write_bytes(json.dumps(data).encode())
    result = cli("audit", "alert", alert_id)
    assert result.code == 36 and one_error_line(result.err), result.err
    assert "corrupted" in result.err


def test_audit_catches_a_changed_score(cli, home: Path, flood_folder: Path) -> None:  # type: ignore[no-untyped-def]
    """An alert signed with the stored explanation but another score does not re-derive."""
    from ledgerml.alerts import raise_alert
    from ledgerml.alerts.api import load_explanation

    document = _raised(cli, flood_folder)
    target = Home(home)
    with target.open_ledger() as ledger:
        record = get_alert(ledger.state(), document["alerts"][0]["alert_id"]).record
        explanation = load_explanation(target.store(), record)
        subject = {
            "type": "block_range",
            "id": record.subject_id,
            "first_block": record.first_block,
            "last_block": record.last_block,
        }
        forged = raise_alert(
            ledger,
            target.store(),
            target.identity(),
            detector=record.detector,
            subject=subject,
            score=record.score + 5,
            threshold=record.threshold,
            decision="alert",
            explanation={k: v for k, v in explanation.items() if k not in ("format", "detector", "subject")},
        )
    result = cli("audit", "alert", forged.event_id, "--json")
    assert result.code == 36
    assert any("score re-derives" in p for p in result.json()["problems"])


def test_bad_input_is_one_line_and_changes_nothing(cli, home: Path, tmp_path: Path, flood_folder: Path) -> None:  # type: ignore[no-untyped-def]
    before, stored = snapshot(home), sorted((home / "artifacts").rglob("*")) if (home / "artifacts").exists() else []
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "blocks.csv").write_text("number,gas_used,gas_limit\n1,10,100\n2,x,100\n")
    gap = tmp_path / "gap"
    gap.mkdir()
    (gap / "blocks.csv").write_text("number,gas_used,gas_limit\n1,10,100\n3,10,100\n")
    nocols = tmp_path / "nocols"
    nocols.mkdir()
    (nocols / "blocks.csv").write_text("height,used\n1,2\n")
    cases = [
        ["--data", str(tmp_path / "missing")],
        ["--data", str(broken)],
        ["--data", str(gap)],
        ["--data", str(nocols)],
        ["--rpc", "http://127.0.0.1:9/"],
        ["--rpc", "ftp://example.org"],
        ["--rpc", "http://127.0.0.1:9/", "--data", str(flood_folder)],
        [],
        ["--data", str(flood_folder), "--threshold", "-1"],
        ["--data", str(flood_folder), "--from-block", "3"],
    ]
    for args in cases:
        result = cli("monitor", "chain", *args, "--raise-alerts", "--json")
        assert result.code != 0 and one_error_line(result.err), (args, result.err)
    assert cli("alerts", "show", "sha256:" + "0" * 64).code == 3
    assert cli("alerts", "list", "--type", "planet").code == 2
    assert cli("alerts", "show", "x", "--format", "pdf").code == 2
    assert cli("audit", "alert", "nope").code == 3
    after = sorted((home / "artifacts").rglob("*")) if (home / "artifacts").exists() else []
    assert snapshot(home) == before and after == stored


def test_an_identity_without_the_role_raises_nothing(cli, home: Path, flood_folder: Path) -> None:  # type: ignore[no-untyped-def]
    before = snapshot(home)
    result = cli("monitor", "chain", "--data", str(flood_folder), "--raise-alerts", "--as", "alice")
    assert result.code == 14 and one_error_line(result.err), result.err
    assert snapshot(home) == before
