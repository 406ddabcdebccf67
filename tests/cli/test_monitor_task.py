"""``ledgerml monitor task``: the exact JSON of the interface, on a task created without a screening policy,
and one error line (nothing changed) for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledgerml.federated.apps import run_in_process
from ledgerml.federated.config import FederationConfig
from ledgerml.federated.runner import setup_federation
from ledgerml.home import Home

from .._cli import one_error_line, run_cli, snapshot

pytestmark = pytest.mark.slow  # one 2-round federation of 4 (a few seconds)


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = Home(tmp_path_factory.mktemp("monitor") / "home")
    home.init(unencrypted=True)
    names = ["alpha", "bravo", "charlie", "delta"]
    config = FederationConfig(
        task_id="m1", participants=4, names=names, partition="iid", rounds=2, attack="sign_flip", attackers=[1]
    )
    setup_federation(home, config, unencrypted=True)
    run_in_process(home, "m1")
    return home.path


def test_json_has_every_participant_of_every_round(finished: Path) -> None:
    result = run_cli("monitor", "task", "m1", "--json", "--home", str(finished))
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert set(doc) == {"scores"}
    rows = doc["scores"]
    assert {(r["round"], r["participant"]) for r in rows} == {
        (r, n) for r in (1, 2) for n in ("alpha", "bravo", "charlie", "delta")
    }
    for row in rows:
        assert set(row) == {"round", "participant", "score", "decision"}
        assert type(row["round"]) is int and isinstance(row["score"], float) and 0 <= row["score"] <= 1
        assert row["decision"] in ("ok", "flag")  # no policy: flag above the default threshold, else ok
    flagged = {r["participant"] for r in rows if r["decision"] == "flag"}
    assert flagged == {"bravo"}
    again = run_cli("monitor", "task", "m1", "--json", "--home", str(finished))
    assert again.out == result.out  # deterministic


def test_raise_alerts_signs_one_alert_per_flag(finished: Path, tmp_path: Path) -> None:
    import shutil

    home = tmp_path / "copy"
    shutil.copytree(finished, home)
    result = run_cli("monitor", "task", "m1", "--raise-alerts", "--as", "aggregator", "--json", "--home", str(home))
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    flags = {(r["round"], r["participant"]) for r in doc["scores"] if r["decision"] != "ok"}
    assert {(a["round"], a["participant"]) for a in doc["alerts"]} == flags
    again = run_cli("monitor", "task", "m1", "--raise-alerts", "--as", "aggregator", "--json", "--home", str(home))
    assert json.loads(again.out)["alerts"] == []


def test_table_output(finished: Path) -> None:
    result = run_cli("monitor", "task", "m1", "--home", str(finished))
    assert result.code == 0 and "bravo" in result.out and "flag" in result.out


def test_bad_input_is_one_error_line_and_changes_nothing(finished: Path, tmp_path: Path) -> None:
    before = snapshot(finished)
    unknown = run_cli("monitor", "task", "nope", "--json", "--home", str(finished))
    assert unknown.code == 3 and one_error_line(unknown.err) and "nope" in unknown.err
    bad_id = run_cli("monitor", "task", "../../etc", "--home", str(finished))
    assert bad_id.code != 0 and one_error_line(bad_id.err)
    no_home = run_cli("monitor", "task", "m1", "--home", str(tmp_path / "missing"))
    assert no_home.code == 3 and one_error_line(no_home.err) and not (tmp_path / "missing").exists()
    missing = run_cli("monitor", "task", "--home", str(finished))
    assert missing.code != 0
    nobody = run_cli("monitor", "task", "m1", "--raise-alerts", "--as", "nobody", "--home", str(finished))
    assert nobody.code != 0 and one_error_line(nobody.err)
    no_role = run_cli("monitor", "task", "m1", "--raise-alerts", "--as", "alpha", "--home", str(finished))
    assert no_role.code == 14 and one_error_line(no_role.err) and "may not raise alerts" in no_role.err
    assert snapshot(finished) == before
