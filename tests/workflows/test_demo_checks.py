"""The demo's up-front checks: a home folder that can really be made, and the one output-file check every command
shares (``_files.check_writable``, also behind ``cli._common.check_out``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledgerml._files import check_writable
from ledgerml.cli._common import check_out
from ledgerml.errors import StorageError
from ledgerml.workflows.demo import check_creatable, check_demo_options


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_a_home_that_can_be_made_passes_and_the_probe_leaves_nothing(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for folder in (tmp_path / "new" / "home", tmp_path / "empty"):
        check_creatable(folder)
        check_demo_options(1, "sign_flip", None, folder)
    assert _files(tmp_path) == ["empty"]


@pytest.mark.parametrize(
    ("folder", "message"),
    [
        ("/proc/ledgerml-probe/home", "the folder cannot be made in /proc"),  # refused to root as well
        ("{tmp}/a-file/home", "is a file, so the folder cannot be made"),
    ],
)
def test_a_home_that_cannot_be_made_is_refused(tmp_path: Path, folder: str, message: str) -> None:
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(StorageError, match=message):
        check_creatable(Path(folder.format(tmp=tmp_path)))
    assert _files(tmp_path) == ["a-file"] and not Path("/proc/ledgerml-probe").exists()


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("{tmp}", "{option} {tmp} is a folder; name a file to write"),
        ("{tmp}/missing/r.html", "{option} {tmp}/missing/r.html: the folder {tmp}/missing does not exist"),
    ],
)
def test_the_cli_and_the_demo_refuse_an_output_file_with_the_same_words(
    tmp_path: Path, target: str, message: str
) -> None:
    path = Path(target.format(tmp=tmp_path))
    said = []
    for check in (lambda: check_out(path, "--report"), lambda: check_demo_options(1, "sign_flip", path, None)):
        with pytest.raises(StorageError) as info:
            check()
        said.append(str(info.value))
    assert said == [message.format(option="--report", tmp=tmp_path)] * 2


def test_a_report_in_the_home_the_demo_makes_first_passes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    check_writable(home / "report.html", "--report", made_first=home)
    check_demo_options(1, "sign_flip", None, home)  # its default report: HOME/report.html
    with pytest.raises(StorageError, match=r"the folder .*home does not exist"):
        check_writable(home / "report.html", "--report")
    assert not home.exists()
