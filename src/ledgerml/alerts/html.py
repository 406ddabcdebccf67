"""An alert as a self-contained HTML page: what it says, and its explanation drawn as a bar chart (SHAP values of
a tree model, the z-scores of the signals that fired, a federation flag's features), in inline SVG."""

from __future__ import annotations

import html
from typing import Any

from .._html import page, table

BAR_HEIGHT, WIDTH, LABEL = 22, 720, 260


def bars_of(explanation: dict[str, Any]) -> tuple[str, list[tuple[str, float]]]:
    """The chart an explanation draws: a title and (label, value) bars, largest magnitude first."""
    shap = explanation.get("shap")
    if isinstance(shap, dict) and isinstance(shap.get("contributions"), list):
        rows = [
            (f"{c.get('feature')} = {c.get('value')}", float(c.get("contribution", 0.0)))
            for c in shap["contributions"]
            if isinstance(c, dict)
        ]
        return "SHAP contributions (log-odds; positive pushes towards fraud)", rows
    signals = explanation.get("signals")
    if isinstance(signals, list):
        rows = [(str(s.get("signal")), float(s.get("z", 0.0))) for s in signals if isinstance(s, dict)]
        return "robust z-score of each signal of the rule at the peak block", rows
    features = explanation.get("features")
    if isinstance(features, dict):
        rows = [(str(k), float(v)) for k, v in features.items() if isinstance(v, int | float)]
        return "features behind the decision", rows
    return "", []


def svg_bars(rows: list[tuple[str, float]]) -> str:
    """A horizontal bar chart; positive bars red to the right of the axis, negative blue to the left."""
    rows = sorted(rows, key=lambda r: -abs(r[1]))[:20]
    if not rows:
        return "<p>(nothing to draw)</p>"
    top = max(abs(v) for _, v in rows) or 1.0
    half = (WIDTH - LABEL) / 2
    axis = LABEL + half
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{BAR_HEIGHT * len(rows) + 10}" '
        'role="img" aria-label="explanation chart">'
    ]
    for i, (label, value) in enumerate(rows):
        y, length = 5 + i * BAR_HEIGHT, abs(value) / top * (half - 40)
        x = axis if value >= 0 else axis - length
        colour = "#c0392b" if value >= 0 else "#2e6da4"
        parts.append(f'<text x="0" y="{y + 15}" font-size="12">{html.escape(label[:40])}</text>')
        parts.append(f'<rect x="{x:.1f}" y="{y}" width="{length:.1f}" height="{BAR_HEIGHT - 6}" fill="{colour}"/>')
        tx = x + length + 4 if value >= 0 else x - 4
        anchor = "start" if value >= 0 else "end"
        parts.append(f'<text x="{tx:.1f}" y="{y + 14}" font-size="11" text-anchor="{anchor}">{value:.3g}</text>')
    parts.append(f'<line x1="{axis}" y1="0" x2="{axis}" y2="{BAR_HEIGHT * len(rows) + 10}" stroke="#555"/></svg>')
    return "".join(parts)


def alert_page(detail: dict[str, Any]) -> str:
    """The page of one ``alert_detail`` document."""
    subject = ", ".join(f"{k} {v}" for k, v in detail["subject"].items())
    summary = [
        ["alert", detail["id"]],
        ["detector", detail["detector"]],
        ["subject", subject],
        ["score", f"{detail['score']:.6g} (threshold {detail['threshold']:.6g})"],
        ["decision", detail["decision"]],
        ["signed by", detail["actor"]],
        ["explanation", detail["explanation_digest"]],
    ]
    sections = [("Alert", table(["", ""], summary))]
    explanation = detail.get("explanation")
    if explanation is None:
        sections.append(("Explanation", f"<p>{html.escape(str(detail.get('explanation_error')))}</p>"))
    else:
        title, rows = bars_of(explanation)
        if rows:
            sections.append((title, svg_bars(rows)))
        if explanation.get("rule"):
            sections.append(("Rule", f"<p>{html.escape(str(explanation['rule']))}</p>"))
    return page(f"ledgerml alert {detail['id'][:19]}", None, sections)
