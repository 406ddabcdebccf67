"""``ledgerml model register|list|show|lineage|attest``: models with lineage and attestations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.tree import Tree

from ..errors import ConfigError
from ..provenance import attest, lineage, lineage_dot, register_model
from ._common import AsOption, HomeOption, JsonOption, check_out, console, emit_json, home_of, table, write_json
from ._provenance import check_id, seal_if_possible

app = typer.Typer(help="Register models with lineage, show lineage, write attestations.", no_args_is_help=True)


@app.command("register")
def register(
    path: Annotated[Path, typer.Argument(help="A .safetensors file or a model folder.")],
    trained_on: Annotated[list[str], typer.Option("--trained-on", help="Dataset id (repeatable).")],
    parent: Annotated[list[str] | None, typer.Option("--parent", help="Parent model id (repeatable).")] = None,
    metrics: Annotated[Path | None, typer.Option("--metrics", help="A JSON file of evaluation metrics.")] = None,
    name: Annotated[str | None, typer.Option(help="Model name \\[default: file name].")] = None,
    uri: Annotated[str | None, typer.Option(help="Where the model lives \\[default: its file:// URI].")] = None,
    home: HomeOption = None,
    acting: AsOption = None,
    json_out: JsonOption = False,
) -> None:
    """Store the model and register it with its training data and parents (needs the trainer role)."""
    target = home_of(home)
    trainer = target.identity(acting)
    with target.open_ledger() as ledger:
        registration = register_model(
            ledger,
            target.store(),
            trainer,
            path,
            trained_on=trained_on,
            parents=parent or [],
            metrics=metrics,
            name=name,
            uri=uri,
        )
        seal_if_possible(ledger)
    if json_out:
        emit_json({"model_id": registration.id, "seq": registration.receipt.seq})
    else:
        console.print(
            f"registered model [bold]{registration.id}[/] (event {registration.receipt.seq}), "
            f"trained on {len(trained_on)} dataset(s), {len(parent or [])} parent(s)"
        )


@app.command("list")
def list_(home: HomeOption = None, json_out: JsonOption = False) -> None:
    """List registered models."""
    from ..documents import model_list

    with home_of(home).open_ledger(as_validator=False) as ledger:
        rows = model_list(ledger.state())
    if json_out:
        emit_json(rows)
    else:
        table(
            "models",
            ["id", "name", "owner", "datasets", "parents"],
            [[r["model_id"][:23] + "…", r["name"], r["owner"], len(r["datasets"]), len(r["parents"])] for r in rows],
        )


@app.command("show")
def show(
    model_id: Annotated[str, typer.Argument(help="Model id (sha256:...).")],
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Show one model's registration."""
    check_id(model_id, "model")
    from ..documents import model_detail

    with home_of(home).open_ledger(as_validator=False) as ledger:
        data = model_detail(ledger, model_id)
    if json_out:
        emit_json(data)
    else:
        for key, value in data.items():
            console.print(f"{key:>14}: {value}", highlight=False)


def _tree(node: dict[str, Any], into: Tree | None = None) -> Tree:
    label = f"[bold]{node['type']}[/] {node.get('name', '?')} [dim]{node['id']}[/]" + (
        "" if node.get("registered", True) else " [red](not registered)[/]"
    )
    branch = Tree(label) if into is None else into.add(label)
    for child in [*node.get("datasets", []), *node.get("parents", [])]:
        _tree(child, branch)
    return branch


@app.command("lineage")
def lineage_cmd(
    model_id: Annotated[str, typer.Argument(help="Model id (sha256:...).")],
    fmt: Annotated[str, typer.Option("--format", help="tree, dot or json.")] = "tree",
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Print a model's lineage: its datasets (and their parents) and parent models, recursively."""
    check_id(model_id, "model")
    fmt = "json" if json_out else fmt
    if fmt not in ("tree", "dot", "json"):
        raise ConfigError("--format must be tree, dot or json")
    with home_of(home).open_ledger(as_validator=False) as ledger:
        graph = lineage(ledger.state(), model_id)
    if fmt == "json":
        emit_json(graph)
    elif fmt == "dot":
        typer.echo(lineage_dot(graph), nl=False)
    else:
        console.print(_tree(graph))


@app.command("attest")
def attest_cmd(
    model_id: Annotated[str, typer.Argument(help="Model id (sha256:...).")],
    out: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")] = None,
    home: HomeOption = None,
    acting: AsOption = None,
    json_out: JsonOption = True,
) -> None:
    """Print an in-toto/SLSA attestation (DSSE envelope, one JSON line) signed by the registrant."""
    check_id(model_id, "model")
    check_out(out)
    target = home_of(home)
    with target.open_ledger(as_validator=False) as ledger:
        envelope = attest(ledger, target.identity(acting), model_id)
    write_json(envelope, out, jsonl=True)
