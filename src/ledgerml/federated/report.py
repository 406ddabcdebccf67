"""The demo's HTML report: plots as embedded PNG images (matplotlib, Agg) and tables, one self-contained file."""

from __future__ import annotations

import base64
import html
import io
from collections import Counter
from pathlib import Path
from typing import Any


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode()


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


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
    ax.legend()
    png = _png(fig)
    plt.close(fig)
    return png


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
    ax.legend()
    plt.setp(ax.get_xticklabels(), rotation=20, ha="right")
    png = _png(fig)
    plt.close(fig)
    return png


def _ledger_png(plt: Any, kinds: Counter[str]) -> str:
    """Events on the ledger by kind."""
    fig, ax = plt.subplots(figsize=(6.5, 3.0))
    ordered = kinds.most_common()
    ax.barh([k for k, _ in ordered], [v for _, v in ordered], color="#34495e")
    ax.set_xlabel("events on the ledger")
    png = _png(fig)
    plt.close(fig)
    return png


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
) -> Path:
    """Write the report: accuracy per round for each run, accepted/rejected per participant, ledger stats."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    accuracy_png = _accuracy_png(plt, runs)
    participation_png = _participation_png(plt, runs[robust], names, robust)
    ledger_png = _ledger_png(plt, kinds)

    reasons = [
        [r["round"], names.get(a, a), reason] for r in runs[robust] for a, reason in sorted(r["rejected"].items())
    ]
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}
th{{background:#f3f3f3}}img{{max-width:100%}}</style></head><body>
<h1>{html.escape(title)}</h1>
<h2>Summary</h2>{_table(["what", "value"], summary)}
<h2>Audit checks</h2>{_table(["check", "result", "detail"], checks)}
<h2>Validation accuracy per round</h2><img alt="accuracy per round" src="data:image/png;base64,{accuracy_png}">
<h2>Accepted and rejected updates per participant</h2>
<img alt="accepted and rejected updates" src="data:image/png;base64,{participation_png}">
{_table(["round", "participant", "rejected because"], reasons)}
<h2>Contributions and payouts (robust run)</h2>
<p>Contribution: the participant's Shapley value summed over rounds, in millionths of validation accuracy;
reward: tokens paid from the task's pool in proportion to positive contributions; slashed: stake taken for
rejected updates the task names.</p>
{_table(["participant", "contribution (x1e-6)", "reward", "slashed", "balance"], payouts or [])}
<h2>Ledger</h2><img alt="events by kind" src="data:image/png;base64,{ledger_png}">
</body></html>
"""
    path.write_text(page)
    return path
