"""``ledgerml scenario list|run``: the application-domain scenarios (healthcare, finance, supply chain, IoT,
cybersecurity) on the real data under ``$LEDGERML_DATA``, each measured against centralised and local-only
baselines, with an HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._common import JsonOption, LogLevelOption, StageProgress, VerboseOption, console, emit_json, err_console, table

app = typer.Typer(help="Run the application-domain scenarios on real data.", no_args_is_help=True)

ScenarioHome = Annotated[
    Path | None,
    typer.Option(
        "--home", help="A fresh folder for the scenario's ledger home \\[default: a new temporary folder, kept]."
    ),
]


@app.command("list")
def list_command(as_json: JsonOption = False, home: ScenarioHome = None) -> None:
    """The scenarios, by name (``--home`` is accepted and unused)."""
    from ..scenarios import names

    if as_json:
        emit_json(names())
        return
    for name in names():
        console.print(name, highlight=False)


@app.command("run")
def run_command(
    name: Annotated[str, typer.Argument(help="The scenario: see 'ledgerml scenario list'.")],
    home: ScenarioHome = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
    log_level: LogLevelOption = None,
) -> None:
    """Run one scenario end to end in a fresh ledger home on the data under $LEDGERML_DATA."""
    from ..scenarios import get
    from ._common import quiet_flower

    quiet_flower(verbose, log_level)
    get(name)  # an unknown name is one error line before anything else
    from .._extras import require_extra

    require_extra("fl", "'ledgerml scenario run'")
    from ..scenarios.runner import run_scenario

    with StageProgress(0, enabled=True) as progress:

        def stage(label: str, rounds: int | None) -> None:
            progress.rounds = rounds or 0
            progress.stage(label)

        result = run_scenario(name, home, stage=stage, on_round=progress.round_done)
    err_console.print(f"report: {result.report}  home: {result.home}  ({result.seconds} s)", highlight=False)
    if as_json:
        emit_json(result.to_dict())
    else:
        _print(result)
    if not result.audit_ok:
        from ..errors import TamperDetected

        raise TamperDetected(f"an audit check failed; see {result.report}")


def _print(result: object) -> None:
    """Each study's measures, then the audit line."""
    from ..scenarios.report import MEASURE_HEADERS, measures_rows

    for study in result.studies:  # type: ignore[attr-defined]
        table(study.study.title, MEASURE_HEADERS, measures_rows(study))
    console.print(f"audit: {'PASS' if result.audit_ok else 'FAIL'}")  # type: ignore[attr-defined]
