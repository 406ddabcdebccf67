"""HTML reports of federations (the demo's, ``fl run --report``, ``audit task --report``): plots as embedded
PNG images (matplotlib, Agg) and tables, one self-contained file with its provenance header."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._html import ReportMeta, image, png, table, write_page

if TYPE_CHECKING:
    from .audit import TaskAudit


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _outside_legend(ax: Any) -> None:
    """The legend right of the axes, where it cannot cover a bar or a line."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, frameon=False)


def _accuracy_png(plt: Any, runs: dict[str, list[dict[str, Any]]]) -> str:
    """Validation accuracy per round, one line per run."""
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for label, rounds in runs.items():
        ax.plot(
            [r["round"] for r in rounds],
            [r["metrics"].get("val_accuracy", float("nan")) for r in rounds],
            marker="o",
            label=label,
        )
    ax.set_xlabel("round")
    ax.set_ylabel("validation accuracy")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    _outside_legend(ax)
    data = png(fig)
    plt.close(fig)
    return data


def _participation_png(plt: Any, rounds: list[dict[str, Any]], names: dict[str, str], robust: str) -> str:
    """Accepted and rejected updates per named participant of one run, stacked."""
    accepted: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    for r in rounds:
        accepted.update(r["accepted"])
        rejected.update(r["rejected"].keys())
    people = sorted(set(names) & (set(accepted) | set(rejected)), key=lambda a: names[a])
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    labels = [names[a] for a in people]
    ax.bar(labels, [accepted[a] for a in people], label="accepted", color="#3a7d44")
    ax.bar(
        labels, [rejected[a] for a in people], bottom=[accepted[a] for a in people], label="rejected", color="#c0392b"
    )
    ax.set_ylabel(f"updates ({robust})")
    _outside_legend(ax)
    plt.setp(ax.get_xticklabels(), rotation=20, ha="right")
    data = png(fig)
    plt.close(fig)
    return data


def _ledger_png(plt: Any, kinds: Counter[str]) -> str:
    """Events on the ledger by kind."""
    fig, ax = plt.subplots(figsize=(6.5, 3.0))
    ordered = kinds.most_common()
    ax.barh([k for k, _ in ordered], [v for _, v in ordered], color="#34495e")
    ax.set_xlabel("events on the ledger")
    data = png(fig)
    plt.close(fig)
    return data


def _rejections(rounds: list[dict[str, Any]], names: dict[str, str]) -> str:
    rows = [[r["round"], names.get(a, a), reason] for r in rounds for a, reason in sorted(r["rejected"].items())]
    return table(["round", "participant", "rejected because"], rows)


def write_report(
    path: Path,
    *,
    title: str,
    runs: dict[str, list[dict[str, Any]]],
    names: dict[str, str],
    robust: str,
    kinds: Counter[str],
    summary: list[list[Any]],
    checks: list[list[Any]],
    payouts: list[list[Any]] | None = None,
    meta: ReportMeta | None = None,
) -> Path:
    """The demo's report: accuracy per round for each run, accepted/rejected per participant, ledger stats."""
    plt = _pyplot()
    sections = [
        ("Summary", table(["what", "value"], summary)),
        ("Audit checks", table(["check", "result", "detail"], checks)),
        ("Validation accuracy per round", image("accuracy per round", _accuracy_png(plt, runs))),
        (
            "Accepted and rejected updates per participant",
            image("accepted and rejected updates", _participation_png(plt, runs[robust], names, robust))
            + _rejections(runs[robust], names),
        ),
        (
            "Contributions and payouts (robust run)",
            "<p>Contribution: the participant's Shapley value summed over rounds, in millionths of validation "
            "accuracy; reward: tokens paid from the task's pool in proportion to positive contributions; slashed: "
            "stake taken for rejected updates the task names.</p>"
            + table(["participant", "contribution (x1e-6)", "reward", "slashed", "balance"], payouts or []),
        ),
        ("Ledger", image("events by kind", _ledger_png(plt, kinds))),
    ]
    return write_page(path, title, meta, sections)


def round_rows(rounds: list[dict[str, Any]]) -> list[list[Any]]:
    """One row per round: number, status, accepted, rejected, validation accuracy, DP epsilon spent so far."""
    return [
        [
            r["round"],
            r["status"],
            len(r["accepted"]),
            len(r["rejected"]),
            f"{r['metrics'].get('val_accuracy', float('nan')):.3f}",
            f"{r['metrics']['dp_epsilon']:.3f}" if "dp_epsilon" in r["metrics"] else "-",
        ]
        for r in rounds
    ]


ROUND_COLUMNS = ["round", "status", "accepted", "rejected", "val accuracy", "DP epsilon"]


def write_federation_report(
    path: Path,
    *,
    task_id: str,
    rounds: list[dict[str, Any]],
    names: dict[str, str],
    checks: list[list[Any]],
    meta: ReportMeta,
) -> Path:
    """``fl run --report``: rounds (with DP epsilon), accuracy, participation and the audit verdicts."""
    plt = _pyplot()
    sections = [
        ("Rounds", table(ROUND_COLUMNS, round_rows(rounds))),
        ("Validation accuracy per round", image("accuracy per round", _accuracy_png(plt, {task_id: rounds}))),
        (
            "Accepted and rejected updates per participant",
            image("accepted and rejected updates", _participation_png(plt, rounds, names, task_id))
            + _rejections(rounds, names),
        ),
        ("Audit", table(["check", "result", "detail"], checks)),
    ]
    return write_page(path, f"ledgerml federation {task_id}", meta, sections)


def write_audit_report(path: Path, audit: TaskAudit, meta: ReportMeta) -> Path:
    """``audit task --report``: the verdict, each round's replay and every problem found."""
    rows = [
        [r.round, r.status, r.committed, r.accepted, r.rejected, "matches" if r.ok else "; ".join(r.problems)]
        for r in audit.rounds
    ]
    verdict = "every round and payout replays exactly" if audit.ok else "MISMATCH: the task does not replay as recorded"
    sections = [
        ("Verdict", f"<p>{verdict}</p>"),
        ("Rounds replayed", table(["round", "status", "committed", "accepted", "rejected", "replay"], rows)),
        ("Problems", table(["problem"], [[p] for p in audit.problems]) if audit.problems else "<p>none</p>"),
    ]
    return write_page(path, f"ledgerml audit of task {audit.task_id}", meta, sections)
