"""A model's lineage laid out for the dashboard: nodes in columns by depth, edges, and an SVG of them (plain code)."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

COLUMN, ROW, WIDTH, HEIGHT = 260, 70, 220, 46


@dataclass(frozen=True, slots=True)
class Node:
    """One model, dataset or round in the lineage, placed at column ``depth`` and row ``row``."""

    id: str
    type: str
    name: str
    registered: bool
    depth: int
    row: int


def layout(graph: dict[str, Any], rounds: dict[str, str] | None = None) -> tuple[list[Node], list[tuple[str, str]]]:
    """Nodes (each id once, at its shallowest depth) and edges ``(child, parent)`` of a ``model lineage --json``
    tree; ``rounds`` maps a model id to the task round that produced it (drawn as one more node)."""
    nodes: dict[str, Node] = {}
    edges: list[tuple[str, str]] = []
    rows: dict[int, int] = {}
    pending: list[tuple[dict[str, Any], int]] = [(graph, 0)]
    while pending:
        node, depth = pending.pop(0)
        if node["id"] in nodes:
            continue
        rows[depth] = rows.get(depth, -1) + 1
        nodes[node["id"]] = Node(
            node["id"], node["type"], node.get("name", "?"), node.get("registered", True), depth, rows[depth]
        )
        for child in [*node.get("datasets", []), *node.get("parents", [])]:
            edges.append((child["id"], node["id"]))
            pending.append((child, depth + 1))
        produced = (rounds or {}).get(node["id"])
        if produced:
            round_id = f"round:{produced}"
            edges.append((round_id, node["id"]))
            pending.append(({"id": round_id, "type": "round", "name": produced}, depth + 1))
    return list(nodes.values()), edges


def _box(node: Node, columns: int) -> tuple[int, int]:
    return (columns - 1 - node.depth) * COLUMN + 10, node.row * ROW + 10


def svg(nodes: list[Node], edges: list[tuple[str, str]]) -> str:
    """An SVG drawing: sources (datasets, parents, rounds) on the left, the model on the right."""
    if not nodes:
        return '<svg xmlns="http://www.w3.org/2000/svg" width="0" height="0"></svg>'
    columns = max(n.depth for n in nodes) + 1
    where = {n.id: _box(n, columns) for n in nodes}
    width = columns * COLUMN
    height = (max(n.row for n in nodes) + 1) * ROW + 20
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="lineage" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="model lineage">'
    ]
    for child, parent in edges:
        (x1, y1), (x2, y2) = where[child], where[parent]
        parts.append(
            f'<line class="edge" x1="{x1 + WIDTH}" y1="{y1 + HEIGHT // 2}" x2="{x2}" y2="{y2 + HEIGHT // 2}" '
            'stroke="#888" marker-end="url(#arrow)"/>'
        )
    for node in nodes:
        x, y = where[node.id]
        label = escape(node.name if len(node.name) <= 28 else node.name[:27] + "…")
        short = escape(node.id[:19] + "…" if len(node.id) > 20 else node.id)
        css = f"node {node.type}" + ("" if node.registered else " unregistered")
        parts.append(
            f'<g class="{css}" data-id="{escape(node.id)}"><rect x="{x}" y="{y}" width="{WIDTH}" height="{HEIGHT}" '
            f'rx="6"/><text x="{x + 8}" y="{y + 18}">{escape(node.type)}: {label}</text>'
            f'<text class="id" x="{x + 8}" y="{y + 36}">{short}</text></g>'
        )
    parts.insert(
        1,
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#888"/></marker></defs>',
    )
    parts.append("</svg>")
    return "".join(parts)


__all__ = ["Node", "layout", "svg"]
