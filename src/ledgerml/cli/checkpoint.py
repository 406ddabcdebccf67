"""``ledgerml checkpoint publish``: the sealed head as a C2SP checkpoint, cosigned by the trusted witnesses."""

from __future__ import annotations

from typing import Annotated

import typer

from ._common import HomeOption, JsonOption, console, emit_json, err_console, home_of

app = typer.Typer(help="Publish signed checkpoints to witnesses and collect their cosignatures.", no_args_is_help=True)


@app.command("publish")
def publish(
    witness: Annotated[
        list[str] | None,
        typer.Option("--witness", help="A trusted witness URL (repeatable) \\[default: every trusted witness]."),
    ] = None,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Seal pending events, sign the head as a checkpoint, and store the witnesses' cosignatures."""
    from ..witness.client import check_url
    from ..witness.home import publish as publish_checkpoint

    for url in witness or []:
        check_url(url)
    target = home_of(home)
    with target.open_ledger() as ledger:
        result = publish_checkpoint(target, ledger, witness)
    if json_out:
        emit_json(result.to_dict())
        return
    console.print(
        f"checkpoint {result.checkpoint.origin} size {result.checkpoint.size} cosigned by "
        f"{len(result.cosigned_by)}: {', '.join(result.cosigned_by)}",
        highlight=False,
    )
    for name, reason in result.failed.items():
        err_console.print(f"warning: witness {name} did not cosign: {reason}", highlight=False)
