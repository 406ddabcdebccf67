"""``ledgerml scenario list|run``: the JSON interface and one error line on bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._generated import nsl_kdd_txt


def test_list_json_names_the_five_domains(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("scenario", "list", "--json")
    assert result.code == 0
    assert {"healthcare", "finance", "supply-chain", "iot", "cybersecurity"} <= set(result.json())


def test_list_text(cli) -> None:  # type: ignore[no-untyped-def]
    assert "cybersecurity" in cli("scenario", "list").out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("scenario", "run", "banking"), 3, "unknown scenario 'banking'"),
        (("scenario", "run", "cybersecurity", "--log-level", "LOUD"), 2, "--log-level"),
    ],
)
def test_run_refusals_are_one_line(cli, tmp_path: Path, args: tuple[str, ...], code: int, message: str) -> None:  # type: ignore[no-untyped-def]
    result = cli(*args, "--home", str(tmp_path / "fresh"))
    assert result.code == code
    errors = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0]
    assert not (tmp_path / "fresh").exists()


def test_run_without_data_names_the_variable(cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LEDGERML_DATA", str(tmp_path / "nowhere"))
    result = cli("scenario", "run", "finance", "--home", str(tmp_path / "fresh"), "--json")
    assert result.code == 2
    assert result.err.count("error:") == 1 and "LEDGERML_DATA" in result.err
    assert result.out == "" and not (tmp_path / "fresh").exists()


@pytest.mark.slow
def test_run_json_shape(cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    nsl_kdd_txt(tmp_path / "data", rows=120)
    monkeypatch.setenv("LEDGERML_DATA", str(tmp_path / "data"))
    from ledgerml.scenarios import cybersecurity

    monkeypatch.setitem(cybersecurity.FEDERATION, "rounds", 1)
    result = cli("scenario", "run", "cybersecurity", "--home", str(tmp_path / "run"), "--json")
    assert result.code == 0, result.err
    document = result.json()
    assert set(document) == {"scenario", "metrics", "baselines", "audit_ok"}
    assert document["scenario"] == "cybersecurity" and document["audit_ok"] is True
    assert set(document["baselines"]) == {"centralised", "local_only"}
    assert (tmp_path / "run" / "report.html").is_file()


@pytest.mark.parametrize("data", ["missing", "as found"])
def test_run_refuses_a_home_that_is_a_file(cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, data: str) -> None:  # type: ignore[no-untyped-def]
    """A bad --home is the one error whether or not the data is there (it was reported only when it was)."""
    if data == "missing":
        monkeypatch.setenv("LEDGERML_DATA", str(tmp_path / "nowhere"))
    target = tmp_path / "a-file"
    target.write_text("mine")
    result = cli("scenario", "run", "healthcare", "--home", str(target), "--json")
    assert result.code == 6 and result.err.count("error:") == 1 and "is a file" in result.err
    assert target.read_text() == "mine" and result.out == ""
