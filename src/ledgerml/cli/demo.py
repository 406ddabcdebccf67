"""``ledgerml demo``: five hospitals train one model together on the embedded ledger while one of them
poisons its updates; robust aggregation keeps the model good, a FedAvg baseline shows what the attack would
have done, and an auditor checks the ledger, every round and the final model. Writes an HTML report.
Handwritten digits stand in for the hospitals' records; real clinical data: ``ledgerml scenario run healthcare``."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .._extras import require_extra
from ..errors import ConfigError, TamperDetected
from ..localnode import anvil_binary, launch, shutdown
from ._common import (
    HomeOption,
    JsonOption,
    LogLevelOption,
    VerboseOption,
    console,
    emit_json,
    err_console,
    quiet_flower,
    table,
)

if TYPE_CHECKING:
    from ..workflows.demo import DemoResult


def demo(
    home: HomeOption = None,
    rounds: Annotated[int, typer.Option(help="Training rounds per run.")] = 15,
    attack: Annotated[
        str,
        typer.Option(
            help="What the poisoning hospital does: sign_flip, scaling, gaussian_noise, label_flip, free_ride."
        ),
    ] = "sign_flip",
    report: Annotated[
        Path | None,
        typer.Option(
            help="Where to write the HTML report \\[default: HOME/report.html, "
            "or ./ledgerml-demo-report.html for a temporary home]."
        ),
    ] = None,
    ledger_kind: Annotated[
        str,
        typer.Option(
            "--ledger",
            help="sqlite: the embedded ledger; evm: the Vyper contracts on a local anvil node the demo starts "
            "(state in HOME/node) and stops.",
        ),
    ] = "sqlite",
    verbose: VerboseOption = False,
    log_level: LogLevelOption = None,
    json_out: JsonOption = False,
) -> None:
    """Run the federated scenario end to end in a fresh ledger home (temporary unless --home is given)."""
    if ledger_kind not in ("sqlite", "evm"):
        raise ConfigError(f"--ledger is sqlite or evm, not {ledger_kind!r}")
    require_extra("fl", "'ledgerml demo'")
    if ledger_kind == "evm":
        require_extra("evm", "'ledgerml demo --ledger evm'")
        anvil_binary()  # NotFound now, not after the demo has started
    quiet_flower(verbose, log_level)
    from ..workflows.demo import check_demo_options, new_demo_home, run_demo

    started = time.perf_counter()
    check_demo_options(rounds, attack, report, Path(home) if home is not None else None)  # before any output
    target = new_demo_home(Path(home) if home is not None else None)
    say = (lambda *a, **k: None) if json_out else console.print
    err_console.print("[yellow]note[/]: demo identities are stored UNENCRYPTED; never do this with real keys")
    result = run_demo(
        target,
        keep=home is not None,
        rounds=rounds,
        attack=attack,
        report=report,
        node=_anvil(say) if ledger_kind == "evm" else None,
        say=say,
        on_run=lambda label: _ticker(say, label, rounds, json_out),
    )
    if json_out:
        emit_json(result.to_dict(time.perf_counter() - started))
    else:
        _print_result(result)
    if not result.ok:
        raise TamperDetected("an audit check failed; see the report")


def _print_result(result: DemoResult) -> None:
    """The model line, every audit check, the summary table and where the report is."""
    console.print(
        f"final robust model registered: {result.model_id[:23]}… with lineage; attestation {result.attestation.name}"
    )
    for check in result.checks:
        console.print(f"  auditor: {check.result} {check.name}: {check.detail}", highlight=False)
    table("demo summary", ["what", "value"], result.summary)
    console.print(f"report: {result.report}")


def _anvil(say: Any) -> Any:
    """A node starter for the demo: anvil on a free local port with its state in HOME/node, stopped at the end."""

    @contextlib.contextmanager
    def start(home_path: Path) -> Iterator[str]:
        pid, evm_rpc, chain_id = launch(home_path)
        try:
            say(f"anvil started (pid {pid}) at {evm_rpc}, chain id {chain_id}; the ledger runs in its contracts")
            yield evm_rpc
        finally:
            shutdown(home_path)

    return start


def _ticker(say: Any, label: str, rounds: int, quiet: bool) -> Any:
    """A per-round progress line (a rich bar when on a terminal)."""
    if quiet or not err_console.is_terminal:
        return lambda outcome: None
    from rich.progress import Progress

    progress = Progress(console=err_console, transient=True)
    task = progress.add_task(label, total=rounds)
    progress.start()

    def tick(outcome: Any) -> None:
        progress.advance(task)
        if progress.finished:
            progress.stop()
            say(f"{label}: {rounds} rounds, final validation accuracy {outcome.metrics.get('val_accuracy', 0):.3f}")

    return tick
