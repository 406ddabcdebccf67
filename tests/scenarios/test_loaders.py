"""The scenarios' data loaders on generated files in the real layout, and their one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ledgerml.errors import ConfigError
from ledgerml.scenarios import cybersecurity, finance, healthcare
from ledgerml.scenarios.dataroot import ENV, data_file, data_root

from ._generated import credit_csv, nsl_kdd_txt


def test_data_root_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ENV, str(tmp_path))
    assert data_root() == tmp_path


def test_a_missing_data_folder_names_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ENV, str(tmp_path / "absent"))
    with pytest.raises(ConfigError, match="LEDGERML_DATA") as caught:
        data_root()
    assert "\n" not in str(caught.value)


def test_a_missing_file_names_the_variable_and_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"domains/finance/UCI_Credit_Card\.csv.*LEDGERML_DATA"):
        finance.load_credit(tmp_path)


def test_the_default_root_is_shared_data_next_to_the_project(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    from ledgerml.scenarios import dataroot

    expected = dataroot._PROJECT_ROOT.parent / "shared" / "data"
    if expected.is_dir():
        assert data_root() == expected
    else:
        with pytest.raises(ConfigError, match="LEDGERML_DATA"):
            data_root()


def test_credit_loader_splits_banks_by_education(tmp_path: Path) -> None:
    credit_csv(tmp_path)
    data = finance.load_credit(tmp_path)
    assert [o.name for o in data.organisations] == finance.BANKS
    rows = sum(len(o.y) for o in data.organisations) + len(data.y_val) + len(data.y_test)
    assert rows == 240
    assert all(np.isfinite(o.X).all() for o in data.organisations)  # the 'nan' AGE was imputed
    assert data.organisations[0].X.shape[1] == len(finance.AMOUNTS) + len(finance.OTHER)


def test_nsl_kdd_loader_splits_sites_by_service(tmp_path: Path) -> None:
    nsl_kdd_txt(tmp_path)
    data = cybersecurity.load_intrusion(tmp_path)
    assert [o.name for o in data.organisations] == cybersecurity.SITES
    # telnet and eco_i go to site-other: twice the rows of any one named service
    sizes = [len(o.y) for o in data.organisations]
    assert sizes[-1] > max(sizes[:-1])
    assert data.n_classes == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("ID,LIMIT_BAL\n1,2\n", "lacks column"),
        (",".join(__import__("tests.scenarios._generated", fromlist=["x"]).CREDIT_HEADER) + "\n", "no rows"),
    ],
)
def test_credit_file_problems_are_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / finance.CREDIT_FILE
    path.parent.mkdir(parents=True)
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as caught:
        finance.load_credit(tmp_path)
    assert "\n" not in str(caught.value)


def test_credit_file_with_a_word_for_a_number(tmp_path: Path) -> None:
    path = credit_csv(tmp_path, rows=20)
    lines = path.read_text().splitlines()
    lines[5] = lines[5].replace(lines[5].split(",")[1], "lots", 1)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match="line 6: column LIMIT_BAL is 'lots', not a number"):
        finance.load_credit(tmp_path)


def test_credit_labels_must_be_zero_or_one(tmp_path: Path) -> None:
    path = credit_csv(tmp_path, rows=20)
    path.write_text(path.read_text().replace(",1\n", ",2\n", 1))
    with pytest.raises(ConfigError, match="must be 0 or 1"):
        finance.load_credit(tmp_path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda lines: [lines[0] + ",extra", *lines[1:]], "line 1: 44 fields, expected 43"),
        (lambda lines: [line.replace(",normal,", ",neptune,") for line in lines], "no 'normal' connection"),
        (lambda lines: [], "is empty"),
        (lambda lines: [lines[0].replace("0.", "x.", 1), *lines[1:]], "line 1: column .* not a number"),
    ],
)
def test_nsl_kdd_file_problems_are_one_line(tmp_path: Path, edit, message: str) -> None:  # type: ignore[no-untyped-def]
    path = nsl_kdd_txt(tmp_path, rows=30)
    path.write_text("\n".join(edit(path.read_text().splitlines())))
    with pytest.raises(ConfigError, match=message) as caught:
        cybersecurity.load_intrusion(tmp_path)
    assert "\n" not in str(caught.value)


def test_healthcare_loaders_use_the_bundled_sets(tmp_path: Path) -> None:
    cancer = healthcare.load_breast_cancer(tmp_path)
    diabetes = healthcare.load_diabetes(tmp_path)
    assert sum(len(o.y) for o in cancer.organisations) + len(cancer.y_val) + len(cancer.y_test) == 569
    assert len(diabetes.organisations) == healthcare.AGE_BANDS
    assert 0.3 < np.mean(np.concatenate([o.y for o in diabetes.organisations])) < 0.7


def test_data_file_refuses_a_folder(tmp_path: Path) -> None:
    (tmp_path / "domains").mkdir()
    with pytest.raises(ConfigError, match="missing"):
        data_file("domains", tmp_path)
