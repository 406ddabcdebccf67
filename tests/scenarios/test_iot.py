"""IoT scenario on generated C-MAPSS and PRSA station files: the loaders and their one-line errors, the RUL
label and engine split, the regression measures, and the whole pipeline with a regression model."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledgerml.errors import ConfigError
from ledgerml.scenarios import iot
from ledgerml.scenarios.regression_metrics import mae, nasa_score, nasa_scores, rmse
from ledgerml.scenarios.runner import run_scenario
from ledgerml.scenarios.sensors import RUL_CAP, engines, read_cmapss, read_station, trailing_mean

from ._h5_generated import cmapss_txt, station_csvs


def test_rul_is_capped_cycles_to_failure(tmp_path: Path) -> None:
    table = read_cmapss(cmapss_txt(tmp_path, engines=3))
    fleet = engines(table)
    for unit in np.unique(fleet.unit):
        rul = fleet.rul[fleet.unit == unit]
        assert rul[-1] == 0 and (np.diff(rul) <= 0).all() and rul.max() <= RUL_CAP
        assert rul[0] == min(RUL_CAP, len(rul) - 1)


def test_trailing_mean_stays_within_each_engine() -> None:
    values = np.array([[1.0], [3.0], [5.0], [100.0], [200.0]])
    unit = np.array([1, 1, 1, 2, 2])
    assert trailing_mean(values, unit, 2)[:, 0].tolist() == [1.0, 2.0, 4.0, 100.0, 150.0]


def test_engines_are_held_out_whole_and_dealt_to_operators(tmp_path: Path) -> None:
    cmapss_txt(tmp_path, engines=20)
    units = engines(read_cmapss(tmp_path / iot.CMAPSS_FILE)).unit
    val, test, operators = iot.split_engines(units)
    dealt = np.concatenate(operators)
    assert len(val) == 2 and len(test) == 4 and len(dealt) == 14 and len(operators) == iot.OPERATORS
    assert len(set(val) | set(test) | set(dealt)) == 20  # disjoint, nothing lost
    data = iot.load_cmapss(tmp_path)
    assert data.n_classes == 1 and data.organisations[0].name == "operator-1"
    assert sum(len(o.y) for o in data.organisations) + len(data.y_val) + len(data.y_test) == len(units)


def test_air_quality_splits_by_date_and_forecasts_the_next_hour(tmp_path: Path) -> None:
    paths = station_csvs(tmp_path)
    station = read_station(paths[0])
    assert station.name == "Aotizhongxin"
    assert np.array_equal(station.y[:-1][np.diff(station.day) == 0][:3], station.persistence[1:4])
    data = iot.load_air(tmp_path)
    assert [o.name for o in data.organisations] == ["station-aotizhongxin", "station-dongsi", "station-huairou"]
    assert np.isfinite(data.X_test).all() and len(data.y_test) > 0 and len(data.y_val) > 0


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda p: p.write_text(""), "is empty"),
        (lambda p: p.write_text("1 1 0.1 0.2\n"), "line 1: 4 fields, expected 26"),
        (lambda p: p.write_text(" ".join(["1"] * 25 + ["x"]) + "\n"), "line 1: column 26 is 'x', not a number"),
    ],
)
def test_bad_cmapss_files_are_one_line(tmp_path: Path, write, message: str) -> None:  # type: ignore[no-untyped-def]
    path = cmapss_txt(tmp_path, engines=2)
    write(path)
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        iot.load_cmapss(tmp_path)
    assert "\n" not in str(caught.value)


def test_bad_station_files_are_one_line(tmp_path: Path) -> None:
    path = station_csvs(tmp_path)[1]
    lines = path.read_text().splitlines()
    fields = lines[5].split(",")
    fields[11] = "warm"  # TEMP
    path.write_text("\n".join([*lines[:5], ",".join(fields), *lines[6:]]) + "\n")
    with pytest.raises(ConfigError, match="line 6: column TEMP is 'warm', not a number"):
        iot.load_air(tmp_path)
    path.write_text("\n".join(lines[:1]) + "\n")
    with pytest.raises(ConfigError, match="has a header but no rows"):
        iot.load_air(tmp_path)
    path.write_text("\n".join(lines) + "\n")
    path.write_text(path.read_text().replace('"PM2.5"', '"PM25"', 1))
    with pytest.raises(ConfigError, match=re.escape("lacks column(s) PM2.5")):
        iot.load_air(tmp_path)
    path.write_text("")
    with pytest.raises(ConfigError, match="is empty"):
        iot.load_air(tmp_path)


def test_missing_data_names_ledgerml_data_and_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"train_FD001\.txt.*LEDGERML_DATA"):
        iot.load_cmapss(tmp_path)
    with pytest.raises(ConfigError, match=r"PRSA_Data_\*\.csv.*LEDGERML_DATA"):
        iot.load_air(tmp_path)
    cmapss_txt(tmp_path)  # one study's data present, the other's missing: still nothing written
    with pytest.raises(ConfigError, match="LEDGERML_DATA"):
        run_scenario("iot", tmp_path / "home", root=tmp_path, report=False)
    assert not (tmp_path / "home").exists()


def test_nasa_score_punishes_late_more_than_early() -> None:
    assert nasa_scores(np.array([50.0]), np.array([50.0]))[0] == 0.0
    late, early = nasa_score(np.array([50.0]), np.array([60.0])), nasa_score(np.array([50.0]), np.array([40.0]))
    assert late == pytest.approx(math.e - 1) and early == pytest.approx(math.exp(10 / 13) - 1) and late > early


@given(st.lists(st.floats(-500, 500), min_size=1, max_size=40), st.floats(-50, 50))
def test_error_measures_are_shift_and_order_sane(values: list[float], shift: float) -> None:
    y = np.array(values)
    assert rmse(y, y) == 0.0 and mae(y, y) == 0.0
    assert rmse(y, y + shift) == pytest.approx(abs(shift)) and mae(y, y + shift) == pytest.approx(abs(shift))
    assert mae(y, y[::-1]) <= rmse(y, y[::-1]) + 1e-9


@pytest.mark.slow
def test_pipeline_on_generated_data(tmp_path: Path) -> None:
    root = tmp_path / "data"
    cmapss_txt(root)
    station_csvs(root)
    result = run_scenario("iot", tmp_path / "home", root=root, settings={"rounds": 2}, report=False)
    document = result.to_dict()
    assert document["scenario"] == "iot" and document["audit_ok"] is True, [c for c in result.checks if not c.ok]
    keys = {"cmapss_rmse", "cmapss_nasa_score", "air_quality_mae", "air_quality_rmse"}
    assert set(document["metrics"]) == keys
    assert set(document["baselines"]["centralised"]) == keys == set(document["baselines"]["local_only"])
    assert all(np.isfinite(v) and v >= 0 for v in document["metrics"].values())
    assert all(v < 1e3 for k, v in document["metrics"].items() if "nasa" not in k)  # it was 1e31 once: no blow-up
    again = run_scenario("iot", tmp_path / "home2", root=root, settings={"rounds": 2}, report=False)
    assert again.to_dict()["metrics"] == document["metrics"]  # other keys, same seeds: the same models
    rounds = result.studies[0].history
    assert rounds[-1]["status"] == "ok" and "val_accuracy" in rounds[-1]["metrics"]  # R^2 for a regressor
    assert "air quality: persistence forecast (PM2.5 now) MAE / RMSE" in result.analytics
