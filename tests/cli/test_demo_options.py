"""``ledgerml demo`` refuses every bad option before it prints or writes anything: one ``error:`` line, no keys
note, no home, no temporary folder, no report."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from .._cli import one_error_line


def _files(root: Path) -> list[str]:
    """Every path under ``root``: equal lists, nothing written."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize(
    "args",
    [
        ["--rounds", "0"],
        ["--rounds", "-1"],
        ["--rounds", "10001"],
        ["--attack", "nope"],
        ["--report", "{tmp}"],  # a folder
        ["--report", "{tmp}/missing/report.html"],
        ["--home", "{tmp}/a-file"],
        ["--home", "{tmp}/a-file/sub/home"],  # a folder that cannot be made: a file on its way
        ["--home", "{tmp}/existing"],
        ["--ledger", "chain"],
        ["--log-level", "LOUD"],
        ["--rounds", "0", "--home", "{tmp}/fresh"],
    ],
)
@pytest.mark.parametrize("temporary", [False, True], ids=["kept-home", "temporary-home"])
def test_a_bad_option_is_one_error_line_before_anything_is_printed_or_written(
    cli,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    temporary: bool,
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "existing").mkdir()
    (tmp_path / "existing" / "config.json").write_text("{}")
    scratch = tmp_path / "scratch"  # where a temporary demo home would be made
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.chdir(scratch)  # where a temporary home's report would go
    if temporary:
        monkeypatch.delenv("LEDGERML_HOME")
    before = _files(tmp_path)
    result = cli("demo", *(a.format(tmp=tmp_path) for a in args))
    assert result.code != 0
    assert one_error_line(result.err), result.err  # no keys note before the error
    assert result.out == ""
    assert _files(tmp_path) == before


@pytest.mark.parametrize(
    "home",
    [
        "/proc/ledgerml-demo-probe/home",  # root may write /proc by its mode bits, yet no folder can be made there
        "{tmp}/a-file/home",  # under a regular file
    ],
)
def test_a_home_that_cannot_be_made_is_refused_before_the_keys_note(
    cli,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    home: str,
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    before = _files(tmp_path)
    result = cli("demo", "--home", home.format(tmp=tmp_path), "--rounds", "1")
    assert result.code == 6, result  # StorageError, as every other home or report that cannot be written
    assert one_error_line(result.err), result.err
    assert "cannot be made" in result.err, result.err
    assert "UNENCRYPTED" not in result.err and result.out == ""
    assert _files(tmp_path) == before
    assert not Path("/proc/ledgerml-demo-probe").exists()
