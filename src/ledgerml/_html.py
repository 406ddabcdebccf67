"""Self-contained HTML reports: one page with a provenance header (date, ledgerml version, ledger id, settings),
tables and embedded PNG images; written whole or not at all."""

from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._files import replace_atomically


@dataclass(frozen=True)
class ReportMeta:
    """What every report says about where it came from."""

    command: str
    ledger_id: str
    settings: dict[str, Any] = field(default_factory=dict)
    created: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))

    def rows(self) -> list[list[Any]]:
        """The header table: date, version, ledger, command, then one row per setting."""
        from . import __version__

        rows: list[list[Any]] = [
            ["date", self.created],
            ["ledgerml version", __version__],
            ["ledger id", self.ledger_id],
            ["command", self.command],
        ]
        for key, value in sorted(self.settings.items()):
            rows.append([f"setting {key}", value if isinstance(value, str) else json.dumps(value, sort_keys=True)])
        return rows


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """An HTML table with every cell escaped."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def png(figure: Any) -> str:
    """A matplotlib figure as a base64 PNG."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode()


def image(alt: str, data: str) -> str:
    """An ``<img>`` of a base64 PNG."""
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
    "th{background:#f3f3f3}img{max-width:100%}.meta td{font-size:90%}"
)


def page(title: str, meta: ReportMeta | None, sections: list[tuple[str, str]]) -> str:
    """The whole page: title, the provenance header, then each (heading, HTML) section."""
    header = "" if meta is None else f'<div class="meta">{table(["about this report", ""], meta.rows())}</div>'
    body = "".join(f"<h2>{html.escape(heading)}</h2>{content}" for heading, content in sections)
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{header}{body}</body></html>\n"
    )


def write_page(path: Path, title: str, meta: ReportMeta | None, sections: list[tuple[str, str]]) -> Path:
    """Write the page to ``path`` atomically."""
    replace_atomically(path, page(title, meta, sections).encode())
    return path


__all__ = ["ReportMeta", "image", "page", "png", "table", "write_page"]
