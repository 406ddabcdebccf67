"""Supply-chain scenario on generated SCMS files: the loader, its one-line errors, the organisation rule, the
unusual-shipment detector and the whole pipeline (with a record proof of a training shipment)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from ledgerml.errors import ConfigError
from ledgerml.scenarios import baselines, supply_chain
from ledgerml.scenarios.runner import run_scenario
from ledgerml.scenarios.shipment_anomalies import evaluate_detector, flag_top, plant
from ledgerml.scenarios.shipments import PQ_STATUS, parse_date, pq_status, read_shipments

from ._h5_generated import scms_csv


def test_shipments_label_is_delivered_after_scheduled(tmp_path: Path) -> None:
    path = scms_csv(tmp_path)
    shipments = read_shipments(path)
    lines = path.read_text(encoding="utf-8-sig").splitlines()[1:]
    import csv

    rows = list(csv.reader(lines))
    expected = [parse_date(r[13]) > parse_date(r[12]) for r in rows]  # type: ignore[operator]
    assert shipments.y.tolist() == [int(e) for e in expected]
    assert shipments.X.shape[0] == len(rows) and np.isfinite(shipments.X).all()
    assert shipments.ids[:2] == ["1", "2"] and "Côte d'Ivoire" in shipments.country
    assert shipments.columns[-2:] == PQ_STATUS and shipments.X[:, -2].all()  # the generated file is pre-PQ


def test_dates_in_every_format_the_file_uses() -> None:
    assert str(parse_date("02-Jun-06")) == "2006-06-02"
    assert str(parse_date("8/27/14")) == "2014-08-27"
    assert str(parse_date("2009-11-14")) == "2009-11-14"
    assert parse_date("Date Not Captured") is None and parse_date("N/A - From RDC") is None


def test_pq_status_flags_pre_pq_and_not_captured_only() -> None:
    flags = pq_status(["Pre-PQ Process", " Date Not Captured ", "2009-11-14", "11/13/07"])
    assert flags.tolist() == [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [0.0, 0.0]]


def test_organisations_are_the_top_countries_and_the_rest_pooled() -> None:
    country = ["B"] * 5 + ["A"] * 5 + ["Côte d'Ivoire"] * 7 + ["C"] * 1
    groups, names = supply_chain.organisations_of(country, top=2)
    assert names == ["country-cote-divoire", "country-a", supply_chain.OTHER]  # ties by name
    assert groups.tolist() == [2] * 5 + [1] * 5 + [0] * 7 + [2]
    assert supply_chain.organisations_of(["A", "A", "B"], top=2)[1] == ["country-a", "country-b"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda text: "", "is empty"),
        (lambda text: text.splitlines()[0] + "\n", "has a header but no rows"),
        (lambda text: text.replace("Scheduled Delivery Date", "Scheduled"), "lacks column(s) Scheduled Delivery Date"),
        (lambda text: text.replace(",30,", ",thirty,", 1), "column Unit of Measure (Per Pack) is 'thirty'"),
    ],
)
def test_bad_files_are_one_config_error_line(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    path = scms_csv(tmp_path, rows=30)
    path.write_text(mutate(path.read_text(encoding="utf-8-sig")), encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        supply_chain.load_shipments(tmp_path)
    assert "\n" not in str(caught.value)


def test_a_date_that_does_not_parse_names_the_line(tmp_path: Path) -> None:
    path = scms_csv(tmp_path, rows=5)
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    parts = lines[3].split(",")
    lines[3] = lines[3].replace(parts[12], "soon", 1)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match="line 4: column Scheduled Delivery Date is 'soon', not a date"):
        read_shipments(path)


def test_missing_data_folder_names_ledgerml_data_and_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"SCMS_Delivery_History_Dataset\.csv.*LEDGERML_DATA"):
        supply_chain.load_shipments(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="LEDGERML_DATA"):
        run_scenario("supply-chain", tmp_path / "home", root=tmp_path / "nowhere", report=False)
    assert not (tmp_path / "home").exists()  # nothing written


def test_planted_slips_change_one_figure_by_a_factor_100() -> None:
    amounts = np.random.default_rng(0).normal(5, 1, (500, 5))
    corrupted, planted = plant(amounts, 0.02, np.random.default_rng(1))
    assert planted.sum() == 10
    changed = np.abs(corrupted - amounts) > 1e-12
    assert (changed.sum(axis=1) == planted.astype(int)).all()
    assert np.allclose(np.abs(corrupted - amounts)[changed], np.log(100.0))
    assert flag_top(np.arange(100.0), 0.05).nonzero()[0].tolist() == [95, 96, 97, 98, 99]


@pytest.mark.slow
def test_detector_finds_planted_slips_better_than_chance(tmp_path: Path) -> None:
    shipments = read_shipments(scms_csv(tmp_path, rows=600))
    report = evaluate_detector(shipments, seed=0)
    assert report["unusual shipments: planted x100 slips"] >= 1
    assert report["unusual shipments: AUC on planted slips"] > 0.6


@pytest.mark.slow
def test_pipeline_on_generated_data(tmp_path: Path) -> None:
    scms_csv(tmp_path / "data")
    result = run_scenario(
        "supply-chain", tmp_path / "home", root=tmp_path / "data", settings={"rounds": 2}, report=False
    )
    document = result.to_dict()
    assert set(document) == {"scenario", "metrics", "baselines", "audit_ok"} and document["scenario"] == "supply-chain"
    assert set(document["metrics"]) == {"auc", "recall_at_precision_0.3", "accuracy"}
    assert (
        set(document["baselines"]["centralised"])
        == set(document["metrics"])
        == set(document["baselines"]["local_only"])
    )
    assert document["audit_ok"] is True, [c for c in result.checks if not c.ok]
    references = result.studies[0].references  # the faulty programme's labels: both reference lines, beside
    assert set(references) == {baselines.REFERENCE_TRUE_LABELS, baselines.REFERENCE_HONEST_ONLY}
    assert all(set(r) == set(document["metrics"]) for r in references.values())
    assert result.analytics["record proof: verified"] is True
    assert result.analytics["record proof: shipment"].startswith("ID ")
    assert "unusual shipments: AUC on planted slips" in result.analytics
