"""Shape of the source tree: long functions, import cycles (function-local imports included), module sizes.

    python benchmarks/code_shape.py [--max-lines 60] [--json out.json]

Prints every function longer than ``--max-lines`` lines and every cycle in the graph of imports between
ledgerml's top-level packages and modules (an import inside a function counts as much as one at the top).
"""

from __future__ import annotations

import argparse
import ast
import json
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "ledgerml"


def unit_of(module: str) -> str:
    """The unit a module belongs to: ``ledgerml.federated.runner`` -> ``federated``; ``ledgerml.state`` -> ``state``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - node.level + 1] if node.level > 1 else base
    return ".".join([*base, node.module] if node.module else base)


def long_functions(max_lines: int) -> list[tuple[str, int]]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > max_lines:
                    found.append((f"{path.relative_to(SRC)}:{node.lineno} {node.name}", length))
    return sorted(found, key=lambda item: -item[1])


def _is_module(name: str) -> bool:
    path = SRC.parent / name.replace(".", "/")
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def import_graph(level: str = "module") -> dict[str, set[str]]:
    """Edges between ledgerml modules (``level="module"``) or top-level units (``"unit"``)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for path in sorted(SRC.rglob("*.py")):
        module = module_name(path)
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = resolve(module, node, path.name == "__init__.py")
                targets = [f"{base}.{a.name}" if _is_module(f"{base}.{a.name}") else base for a in node.names]
            for target in targets:
                if not target.startswith("ledgerml") or not _is_module(target) or target == module:
                    continue
                if level == "unit":
                    if unit_of(target) != unit_of(module) and module != "ledgerml":
                        graph[unit_of(module)].add(unit_of(target))
                elif module != "ledgerml" and not module.endswith("__init__"):
                    graph[module].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one unit (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(set(graph) | {n for targets in graph.values() for n in targets}):
        if node not in index:
            visit(node)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-lines", type=int, default=60)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    long = long_functions(args.max_lines)
    loops = cycles(import_graph("module"))
    unit_loops = cycles(import_graph("unit"))
    print(f"functions over {args.max_lines} lines: {len(long)}")
    for name, length in long:
        print(f"  {length:4d}  {name}")
    print(f"import cycles between modules (function-local imports included): {len(loops)}")
    for loop in loops:
        print("  " + " <-> ".join(loop))
    print(f"import cycles between top-level units: {len(unit_loops)}")
    for loop in unit_loops:
        print("  " + " <-> ".join(loop))
    if args.json:
        args.json.write_text(json.dumps({"long_functions": long, "cycles": loops, "unit_cycles": unit_loops}, indent=2))


if __name__ == "__main__":
    main()
