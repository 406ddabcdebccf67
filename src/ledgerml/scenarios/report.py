"""A scenario's HTML report (the demo's report code: ``_html`` pages, ``federated.report`` plots): the
measures table, the organisations, the rounds, the analytics and the audit."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._html import ReportMeta, image, png, table, write_page
from ..federated.report import ROUND_COLUMNS, _accuracy_png, _pyplot, round_rows
from . import baselines

if TYPE_CHECKING:
    from .results import ScenarioResult, StudyResult


def measures_rows(study: StudyResult) -> list[list[Any]]:
    """One row per measure: federated, centralised, local-only median, worst and best organisation."""
    local = baselines.median_of(study.local)
    rows = []
    for key, value in study.federated.items():
        per_org = sorted(r[key] for r in study.local)
        worst, best = (per_org[-1], per_org[0]) if study.study.lower_is_better else (per_org[0], per_org[-1])
        rows.append([key, value, study.centralised[key], local[key], worst, best])
    return rows


MEASURE_HEADERS = ["measure", "federated", "centralised", "local-only (median org)", "worst org", "best org"]


def reference_rows(study: StudyResult) -> list[list[Any]]:
    """One row per reference line and measure: the reference, the measure, federated and the reference."""
    return [[name, key, study.federated[key], ref[key]] for name, ref in study.references.items() for key in ref]


REFERENCE_HEADERS = ["reference (not the baseline)", "measure", "federated", "reference"]


def comparison_png(study: StudyResult) -> str:
    """The headline measure: federated and centralised lines over each organisation's local-only bar."""
    plt = _pyplot()
    key = study.study.headline
    names = [name for name, _, _ in study.organisations]
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    ax.bar(names, [r[key] for r in study.local], color="#bbb", label="local-only")
    ax.axhline(study.federated[key], color="C0", label="federated")
    held = " (rows as held)" if study.references else ""
    ax.axhline(study.centralised[key], color="C1", linestyle="--", label=f"centralised{held}")
    for index, (name, reference) in enumerate(study.references.items()):
        ax.axhline(reference[key], color=f"C{index + 2}", linestyle=":", label=f"reference: {name}")
    ax.set_ylabel(key)
    ax.set_title(study.study.title)
    ax.tick_params(axis="x", rotation=20)
    if study.references:  # four lines: the legend goes where the smallest organisations' bars are
        ax.legend(loc="center left", frameon=False, fontsize="small")
    else:
        ax.legend(loc="lower right", frameon=False)
    data = png(fig)
    plt.close(fig)
    return data


def _study_sections(study: StudyResult) -> list[tuple[str, str]]:
    plt = _pyplot()
    regression = study.study.lower_is_better  # the regression studies (RUL, PM2.5) are judged on an error
    share = "mean target" if regression else "positive share"
    orgs = table(["organisation", "rows", share], [list(o) for o in study.organisations])
    columns = [("val R²" if regression and c == "val accuracy" else c) for c in ROUND_COLUMNS]
    notes = "".join(f"<p>{n}</p>" for n in study.study.notes)
    measures = table(MEASURE_HEADERS, measures_rows(study))
    if study.references:
        measures += table(REFERENCE_HEADERS, reference_rows(study))
    return [
        (f"{study.study.title}: measures on the held-out test rows", measures),
        (f"{study.study.title}: organisations", notes + orgs + image("comparison", comparison_png(study))),
        (
            f"{study.study.title}: rounds (task {study.task_id})",
            image("accuracy", _accuracy_png(plt, {study.task_id: study.history}))
            + table(columns, round_rows(study.history)),
        ),
    ]


def write_scenario_report(path: Path, result: ScenarioResult) -> Path:
    """Write the report of ``result`` to ``path`` (atomically)."""
    sections: list[tuple[str, str]] = []
    for study in result.studies:
        sections += _study_sections(study)
    if result.analytics:
        rows = [[k, v] for k, v in result.analytics.items()]
        sections.append(("domain analytics", table(["what", "value"], rows)))
    sections.append(
        ("audit", table(["check", "result", "detail"], [[c.name, c.result, c.detail] for c in result.checks]))
    )
    meta = ReportMeta(
        command=f"ledgerml scenario run {result.scenario.name}",
        ledger_id=result.ledger_id,
        settings={"seconds": result.seconds, "events": result.events, "studies": [s.task_id for s in result.studies]},
    )
    return write_page(path, f"ledgerml scenario: {result.scenario.title}", meta, sections)
