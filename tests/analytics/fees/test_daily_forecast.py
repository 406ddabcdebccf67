"""The daily forecaster: no look-ahead, the backtest interface, estimator conventions, checked inputs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from ledgerml.analytics.fees.backtest import backtest
from ledgerml.analytics.fees.daily import load_daily
from ledgerml.analytics.fees.forecaster import GasForecaster
from ledgerml.errors import ConfigError
from tests._cli import one_error_line, run_cli

from ._daily import generated, write


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp("daily"), generated())


def test_a_forecast_does_not_change_when_later_days_change(tmp_path: Path, folder: Path) -> None:
    # Prepare: the same series, but every value from day t on (all five files) is changed
    series = generated()
    t = 160  # 2020-06-09
    changed = {name: values[:t] + [v * 3.0 for v in values[t:]] for name, values in series.items()}
    other = write(tmp_path / "changed", changed)
    # Execute
    before = backtest(load_daily(folder), "2020-06-05").forecasts
    after = backtest(load_daily(other), "2020-06-05").forecasts
    # Assert: forecasts up to and including day t are identical; a later one did change (the check can fail)
    day_t = (dt.date(2020, 1, 1) + dt.timedelta(days=t)).isoformat()
    upto = [i for i, f in enumerate(before) if f.date <= day_t]
    assert before[upto[-1]].date == day_t
    assert [before[i] for i in upto] == [after[i] for i in upto]
    assert before[upto[-1] + 1] != after[upto[-1] + 1]


def test_backtest_cli_prints_one_forecast_per_day_to_the_end(folder: Path) -> None:
    result = run_cli("gas", "backtest", "--data", str(folder), "--start", "2020-06-10", "--json")
    assert result.code == 0, result.err
    document = result.json()
    assert isinstance(document, dict) and set(document) == {"forecasts", "refit"}
    assert isinstance(document["refit"], str) and "every 7 days" in document["refit"]
    dates = [f["date"] for f in document["forecasts"]]
    assert dates == [(dt.date(2020, 6, 10) + dt.timedelta(days=i)).isoformat() for i in range(9)]
    for row in document["forecasts"]:
        assert set(row) == {"date", "forecast_gwei", "lo80_gwei", "hi80_gwei"}
        assert 0 < row["lo80_gwei"] <= row["forecast_gwei"] <= row["hi80_gwei"]


def test_forecast_cli_gives_the_day_after_the_data(folder: Path) -> None:
    result = run_cli("gas", "forecast", "--data", str(folder), "--json")
    assert result.code == 0, result.err
    assert [f["date"] for f in result.json()["forecasts"]] == ["2020-06-19"]  # type: ignore[index]


def test_estimator_conventions(folder: Path) -> None:
    series = load_daily(folder)
    model = GasForecaster(max_horizon=3, calibration=28)
    assert model.get_params() == {"window": 1095, "calibration": 28, "coverage": 0.8, "max_horizon": 3, "seed": 0}
    with pytest.raises(ConfigError, match="fit the forecaster"):
        model.predict(1)
    assert model.fit(series) is model
    forecasts = model.predict(3)
    assert [f.date for f in forecasts] == ["2020-06-19", "2020-06-20", "2020-06-21"]
    with pytest.raises(ConfigError, match="max_horizon"):
        model.predict(4)
    recent = series.gas_gwei[-30:]
    assert all(recent.min() / 3 < f.forecast_gwei < recent.max() * 3 for f in forecasts)


def test_leading_zero_days_are_dropped(tmp_path: Path) -> None:
    series = generated(days=130)
    for values in series.values():
        values[:3] = [0.0, 0.0, 0.0]
    loaded = load_daily(write(tmp_path, series))
    assert len(loaded) == 127 and loaded.date(0) == "2020-01-04"
    assert np.all(loaded.gas_gwei > 0)


def _broken(tmp_path: Path, how: str) -> Path:
    series = generated(days=130)
    dates = [dt.date(2020, 1, 1) + dt.timedelta(days=i) for i in range(130)]
    if how == "missing":
        dates = dates[:50] + dates[51:] + [dates[-1] + dt.timedelta(days=1)]
    elif how == "duplicate":
        dates[50] = dates[49]
    elif how == "unsorted":
        dates[50], dates[51] = dates[51], dates[50]
    elif how == "zero":
        series["AvgGasPrice"][60] = 0.0
    elif how == "negative":
        series["GasUsed"][60] = -5.0
    elif how == "gwei":
        series["AvgGasPrice"] = [v / 1e9 for v in series["AvgGasPrice"]]
    folder = write(tmp_path, series, dates=dates)
    if how == "partial":
        (folder / "export-EtherPrice.csv").unlink()
    return folder


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("missing", "days after 2020-02-19 are missing"),
        ("duplicate", "date 2020-02-19 is duplicated"),
        ("unsorted", "is out of order"),
        ("zero", "is zero or negative"),
        ("negative", "export-GasUsed.csv: value -5"),
        ("gwei", "look like gwei"),
        ("partial", "missing export-EtherPrice.csv"),
    ],
)
def test_bad_data_is_one_error_line(tmp_path: Path, how: str, message: str) -> None:
    folder = _broken(tmp_path, how)
    result = run_cli("gas", "backtest", "--data", str(folder), "--start", "2020-05-01", "--json")
    assert result.code == 2 and one_error_line(result.err) and message in result.err, result.err
    assert result.out == ""


@pytest.mark.parametrize(
    ("start", "message"),
    [("2021-01-01", "outside the data"), ("2020-02-01", "need at least"), ("1/2/2020", "not YYYY-MM-DD")],
)
def test_bad_start_is_one_error_line(folder: Path, start: str, message: str) -> None:
    result = run_cli("gas", "backtest", "--data", str(folder), "--start", start, "--json")
    assert result.code == 2 and one_error_line(result.err) and message in result.err, result.err


def test_missing_folder_is_one_error_line(tmp_path: Path) -> None:
    result = run_cli("gas", "forecast", "--data", str(tmp_path / "nowhere"), "--json")
    assert result.code == 2 and one_error_line(result.err) and "is not a folder" in result.err
