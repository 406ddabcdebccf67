"""The report's measures table: worst and best organisation follow the study's direction."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledgerml.scenarios.base import Study
from ledgerml.scenarios.report import measures_rows
from ledgerml.scenarios.results import StudyResult


def _result(lower_is_better: bool) -> StudyResult:
    study = Study(
        key="s",
        title="S",
        load=lambda root: None,  # type: ignore[arg-type,return-value]
        federation={},
        measures=lambda y, s: {},
        headline="m",
        lower_is_better=lower_is_better,
    )
    return StudyResult(
        study=study,
        task_id="t",
        federated={"m": 2.0},
        centralised={"m": 1.5},
        local=[{"m": 3.0}, {"m": 1.0}, {"m": 2.5}],
        organisations=[("a", 1, 0.1), ("b", 1, 0.1), ("c", 1, 0.1)],
        history=[],
        model_id="sha256:" + "0" * 64,
        attestation=Path("x"),
    )


@pytest.mark.parametrize(("lower_is_better", "worst", "best"), [(False, 1.0, 3.0), (True, 3.0, 1.0)])
def test_worst_and_best_organisation_follow_the_measures_direction(
    lower_is_better: bool, worst: float, best: float
) -> None:
    [row] = measures_rows(_result(lower_is_better))
    assert row == ["m", 2.0, 1.5, 2.5, worst, best]
