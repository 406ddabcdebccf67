"""``ledgerml alerts list|show ID``: the signed alerts on the ledger and their stored explanations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ..errors import ConfigError
from ._common import AsOption, HomeOption, JsonOption, check_out, console, emit_json, home_of, table, write_output

app = typer.Typer(help="List and show signed alerts with their explanations.", no_args_is_help=True)
FORMATS = ("text", "json", "html")


@app.command("list")
def list_cmd(
    detector: Annotated[str | None, typer.Option("--detector", help="Only this detector's alerts.")] = None,
    subject_type: Annotated[
        str | None, typer.Option("--type", help="Only alerts about participant, account, block_range or contract.")
    ] = None,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Every alert, newest first: detector, subject, score against threshold, decision."""
    from ..alerts.documents import alert_list
    from ..vocab.alerts import SUBJECT_TYPES

    if subject_type is not None and subject_type not in SUBJECT_TYPES:
        raise ConfigError(f"--type must be one of {', '.join(SUBJECT_TYPES)}, not {subject_type!r}")
    with home_of(home).open_ledger(as_validator=False) as ledger:
        rows = alert_list(ledger.state(), detector=detector, subject_type=subject_type)
    if json_out:
        emit_json({"alerts": rows})
        return
    table(
        f"{len(rows)} alert(s)",
        ["id", "detector", "subject", "score", "threshold", "decision"],
        [
            [
                r["id"][:19],
                r["detector"],
                f"{r['subject']['type']} {r['subject']['id']}",
                f"{r['score']:.4g}",
                f"{r['threshold']:.4g}",
                r["decision"],
            ]
            for r in rows
        ],
    )


@app.command("show")
def show_cmd(
    alert_id: Annotated[str, typer.Argument(help="Alert id (its event id, or a unique prefix of 8+ hex digits).")],
    fmt: Annotated[str, typer.Option("--format", help="text, json or html (draws the explanation).")] = "text",
    out: Annotated[Path | None, typer.Option("--out", help="Write the page or JSON to this file.")] = None,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """One alert with its explanation from the artifact store (SHAP values, the signals or features that fired)."""
    from ..alerts.documents import alert_detail

    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    check_out(out)
    target = home_of(home)
    with target.open_ledger(as_validator=False) as ledger:
        detail = alert_detail(ledger.state(), target.store(), alert_id)
    if fmt == "html":
        from ..alerts.html import alert_page

        _print_or_write(alert_page(detail), out)
    elif json_out or fmt == "json":
        _print_or_write(json.dumps(detail, indent=2, sort_keys=True) + "\n", out)
    else:
        _print_text(detail)


@app.command("fraud")
def fraud_cmd(
    data: Annotated[Path, typer.Option("--data", help="Account table (CSV or Parquet) to score.")],
    model: Annotated[Path, typer.Option("--model", help="A 'fraud train' folder registered on the ledger.")],
    top: Annotated[int, typer.Option("--top", help="SHAP contributions kept per account.")] = 10,
    limit: Annotated[int, typer.Option("--limit", help="Most alerts raised (highest scores first).")] = 50,
    acting: AsOption = None,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Raise a signed alert, explained by its TreeSHAP values, for every account the registered model flags."""
    from ..alerts.fraud import raise_fraud_alerts

    rows = raise_fraud_alerts(home_of(home), data, model, acting=acting, top=top, limit=limit)
    if json_out:
        emit_json({"alerts": rows})
        return
    table(
        f"{len(rows)} alert(s)",
        ["address", "score", "alert"],
        [[r["address"], f"{r['score']:.4f}", r["alert_id"]] for r in rows],
    )


def _print_or_write(text: str, out: Path | None) -> None:
    if out is None:
        typer.echo(text, nl=False)
    else:
        write_output(out, text.encode())
        typer.echo(f"wrote {out}")


def _print_text(detail: dict) -> None:  # type: ignore[type-arg]
    subject = ", ".join(f"{k} {v}" for k, v in detail["subject"].items())
    console.print(f"alert {detail['id']}\ndetector {detail['detector']}\nsubject {subject}")
    console.print(f"score {detail['score']:.6g} (threshold {detail['threshold']:.6g}): {detail['decision']}")
    console.print(f"signed by {detail['actor']}; explanation {detail['explanation_digest']}")
    if detail["explanation"] is None:
        console.print(f"[red]explanation unavailable[/]: {detail['explanation_error']}")
        return
    console.print_json(json.dumps(detail["explanation"], sort_keys=True))
