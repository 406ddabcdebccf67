"""IoT: (a) airline operators predict their turbofan engines' remaining useful life together (NASA C-MAPSS
FD001, one engine = one device, engines grouped into operators; one operator's sensor feed is faulty), and
(b) Beijing's air-quality monitoring stations forecast next-hour PM2.5 together (one station = one site)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from .base import Organisation, Scenario, Study, StudyData
from .dataroot import ENV, data_file, data_root
from .regression_metrics import mae, nasa_score, rmse
from .sensors import RUL_CAP, Station, engines, read_cmapss, read_station
from .split import standardise

CMAPSS_FILE = "domains/iot/train_FD001.txt"
AIR_FOLDER = "domains/iot/beijing_multisite_air_quality"
OPERATORS = 5
HELD_OUT = (0.1, 0.2)
"""Shares of the engines held out whole: validation (the aggregator's) and test (reported)."""
FAULTY_OPERATOR = 3
TRAIN_UNTIL, TEST_FROM = 20160301, 20160901
"""Air quality: train on hours before 2016-03-01, validate on 2016-03..08, test on 2016-09-01..2017-02-28."""
TRAIN_ROWS, VAL_ROWS = 3000, 200
"""Hours sampled per station for training and for the aggregator's validation set (the test keeps all)."""
SEED = 0


def split_engines(units: np.ndarray, seed: int = SEED) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Engine ids held out for validation and test, and the training engines of each operator: engines are
    shuffled (seeded), the first 10 % validate, the next 20 % test, the rest go round-robin to the operators."""
    ids = np.random.default_rng(seed).permutation(np.unique(units))
    n_val, n_test = round(len(ids) * HELD_OUT[0]), round(len(ids) * HELD_OUT[1])
    val, test, train = ids[:n_val], ids[n_val : n_val + n_test], ids[n_val + n_test :]
    if len(val) == 0 or len(test) == 0 or len(train) < OPERATORS:
        raise ConfigError(f"C-MAPSS needs at least {OPERATORS + 2} engines for this split; the file has {len(ids)}")
    return val, test, [np.sort(train[i::OPERATORS]) for i in range(OPERATORS)]


def load_cmapss(root: Path) -> StudyData:
    """The FD001 training engines: 5 operators' engines, validation and test engines held out whole."""
    fleet = engines(read_cmapss(data_file(CMAPSS_FILE, root)))
    val, test, operators = split_engines(fleet.unit)
    mine = [np.isin(fleet.unit, ids) for ids in operators]
    is_val, is_test = np.isin(fleet.unit, val), np.isin(fleet.unit, test)
    *scaled, X_val, X_test = standardise([fleet.X[m] for m in mine], fleet.X[is_val], fleet.X[is_test])
    organisations = [Organisation(f"operator-{i + 1}", scaled[i], fleet.rul[m]) for i, m in enumerate(mine)]
    return StudyData(
        organisations,
        X_val,
        fleet.rul[is_val],
        X_test,
        fleet.rul[is_test],
        1,
        split_rule=f"engines shuffled (seed {SEED}): {len(val)} validation and {len(test)} test engines held out "
        f"whole; the other {int(sum(len(o) for o in operators))} dealt round-robin to {OPERATORS} operators",
        license="US Government work (NASA Ames PCoE C-MAPSS), public domain",
    )


def rul_measures(y: np.ndarray, prediction: np.ndarray) -> dict[str, float]:
    """RMSE and the NASA score (averaged per prediction) of the RUL, capped at 125 both ways."""
    capped = np.clip(prediction, 0, RUL_CAP)
    return {"rmse": round(rmse(y, capped), 3), "nasa_score": round(nasa_score(y, capped), 3)}


def stations(root: Path) -> list[Station]:
    """Every station file of the air-quality folder (sorted by file name)."""
    files = sorted((root / AIR_FOLDER).glob("PRSA_Data_*.csv"))
    if not files:
        raise ConfigError(
            f"data files {AIR_FOLDER}/PRSA_Data_*.csv are missing under {root}; set {ENV} to the folder that holds them"
        )
    return [read_station(path) for path in files]


def _sample(rows: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(rows, size=min(count, len(rows)), replace=False)) if len(rows) else rows


def load_air(root: Path) -> StudyData:
    """Each station's next-hour PM2.5 rows: a sample of its training hours, validation and test by date."""
    rng = np.random.default_rng(SEED)
    found = stations(root)
    parts: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = []
    for station in found:
        train = _sample(np.flatnonzero(station.day < TRAIN_UNTIL), TRAIN_ROWS, rng)
        val = _sample(np.flatnonzero((station.day >= TRAIN_UNTIL) & (station.day < TEST_FROM)), VAL_ROWS, rng)
        test = np.flatnonzero(station.day >= TEST_FROM)
        if len(train) < 2 or len(test) == 0:
            raise ConfigError(f"station {station.name}: too few hours before 2016-03-01 or after 2016-09-01")
        parts.append((station.name, train, val, test))
    X_val = np.concatenate([s.X[p[2]] for s, p in zip(found, parts, strict=True)])
    X_test = np.concatenate([s.X[p[3]] for s, p in zip(found, parts, strict=True)])
    *scaled, X_val, X_test = standardise([s.X[p[1]] for s, p in zip(found, parts, strict=True)], X_val, X_test)
    organisations = [
        Organisation(f"station-{p[0].lower()}", X, s.y[p[1]]) for s, p, X in zip(found, parts, scaled, strict=True)
    ]
    return StudyData(
        organisations,
        X_val,
        np.concatenate([s.y[p[2]] for s, p in zip(found, parts, strict=True)]),
        X_test,
        np.concatenate([s.y[p[3]] for s, p in zip(found, parts, strict=True)]),
        1,
        split_rule="one station = one site; by date: training hours before 2016-03-01 (3,000 sampled per station), "
        "validation 2016-03-01..08-31 (200 per station), test every hour from 2016-09-01 to 2017-02-28",
        license="CC BY 4.0 (UCI Beijing Multi-Site Air Quality, Zhang et al. 2017)",
    )


def pm_measures(y: np.ndarray, prediction: np.ndarray) -> dict[str, float]:
    """MAE and RMSE of next-hour PM2.5 (ug/m3; negative forecasts clipped to 0)."""
    clipped = np.clip(prediction, 0, None)
    return {"mae": round(mae(y, clipped), 3), "rmse": round(rmse(y, clipped), 3)}


def persistence(context: Any) -> dict[str, Any]:
    """The naive next-hour forecast (this hour's PM2.5) on the same test hours, for scale."""
    root = context.root if context.root is not None else data_root()
    found = stations(root)
    y = np.concatenate([s.y[s.day >= TEST_FROM] for s in found])
    naive = np.concatenate([s.persistence[s.day >= TEST_FROM] for s in found])
    return {
        "air quality: test hours": len(y),
        "air quality: persistence forecast (PM2.5 now) MAE / RMSE": f"{mae(y, naive):.3f} / {rmse(y, naive):.3f}",
        "C-MAPSS: RUL cap": f"{RUL_CAP} cycles (targets and predictions)",
    }


CMAPSS_FEDERATION: dict[str, Any] = {
    "rule": "trimmed_mean",
    "rule_params": {"beta": 0.2},
    "rounds": 30,
    "epochs": 1,
    "lr": 0.1,
    "batch_size": 64,
    "model": {"type": "mlp_regressor", "hidden": 32, "target_scale": float(RUL_CAP)},
    "attack": "gaussian_noise",
    "attackers": [FAULTY_OPERATOR],
    "reward_pool": 10_000,
    "stake": 100,
    "initial_tokens": 100,
    "valuation": {"method": "leave_one_out"},
}
AIR_FEDERATION: dict[str, Any] = {
    "rule": "fedavg",
    "rounds": 10,
    "epochs": 1,
    "lr": 0.05,
    "batch_size": 64,
    "model": {"type": "linear", "target_scale": 100.0},
    "reward_pool": 10_000,
    "stake": 100,
    "initial_tokens": 100,
    "valuation": {"method": "leave_one_out"},
}

SCENARIO = Scenario(
    name="iot",
    title="devices and sites: turbofan remaining useful life, next-hour PM2.5",
    studies=(
        Study(
            "cmapss",
            "turbofan remaining useful life (C-MAPSS FD001, RUL capped at 125)",
            load_cmapss,
            CMAPSS_FEDERATION,
            rul_measures,
            headline="rmse",
            lower_is_better=True,
            notes=(
                f"operator-{FAULTY_OPERATOR + 1}'s sensor feed is faulty: it sends noise instead of an update; "
                "the coordinate-wise trimmed mean (beta 0.2) drops the extremes",
                "validated on held-out TRAINING engines (the C-MAPSS test engines are held back); the NASA score "
                "is averaged per prediction over every cycle of the test engines",
            ),
        ),
        Study(
            "air_quality",
            "next-hour PM2.5 at 12 Beijing stations",
            load_air,
            AIR_FEDERATION,
            pm_measures,
            headline="mae",
            lower_is_better=True,
            notes=(
                "forecast horizon: the next hour; features: this hour's and the two previous hours' PM2.5, "
                "the other pollutants, weather, wind direction, hour and month; model: linear regression",
            ),
        ),
    ),
    analytics=persistence,
)
