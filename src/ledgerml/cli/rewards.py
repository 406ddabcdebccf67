"""``ledgerml rewards show`` and ``ledgerml token balance|transfer|mint``: the incentive ledger."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ..documents import names as identity_names
from ..documents import rewards as rewards_document
from ..errors import ConfigError
from ..events import build_payload
from ..vocab.tokens import TokensMinted, TokensTransferred, balance, supply
from ._common import AsOption, HomeOption, JsonOption, console, emit_json, home_of, table

rewards_app = typer.Typer(help="Contributions, rewards and slashes of federated tasks.", no_args_is_help=True)
token_app = typer.Typer(help="The reward token: balances, transfers, minting (admin).", no_args_is_help=True)


@rewards_app.command("show")
def show(
    task_id: Annotated[str, typer.Argument(help="Task id.")], home: HomeOption = None, json_out: JsonOption = False
) -> None:
    """Per participant: contribution per round, reward, slashed, stake held, balance."""
    target = home_of(home)
    with target.open_ledger(as_validator=False) as ledger:
        doc = rewards_document(ledger.state(), task_id)
    if json_out:
        emit_json(doc)
        return
    rows, rounds = doc["participants"], doc["rounds"]
    names = identity_names(target)
    table(
        f"rewards of {task_id} (pool {doc['reward_pool']}, left {doc['pool_left']}, {rounds} rounds)",
        ["participant", "contribution per round (accuracy, x1e-6)", "reward", "slashed", "stake", "balance"],
        [
            [
                names.get(r["participant"], r["participant"]),
                " ".join("-" if c is None else str(c) for c in r["contributions_micro"]),
                r["reward"],
                r["slashed"],
                r["stake_held"],
                r["balance"],
            ]
            for r in rows
        ],
    )


@token_app.command("balance")
def balance_cmd(
    who: Annotated[str | None, typer.Argument(help="Identity name or address \\[default: all].")] = None,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Token balances (and the supply check: minted = balances + pools + stakes)."""
    target = home_of(home)
    with target.open_ledger(as_validator=False) as ledger:
        state = ledger.state()
        addresses = [target.resolve_address(who)] if who else sorted(state.rows("balances"))
        rows: list[dict[str, Any]] = [{"address": a, "balance": balance(state, a)} for a in addresses]
        totals = supply(state)
    if json_out:
        emit_json(
            {
                "balances": rows,
                "minted": totals.minted,
                "pools": totals.pools,
                "stakes": totals.stakes,
                "balanced": totals.balanced,
            }
        )
        return
    names = identity_names(target)
    table("balances", ["account", "balance"], [[names.get(r["address"], r["address"]), r["balance"]] for r in rows])
    console.print(
        f"minted {totals.minted} = balances {totals.balances} + pools {totals.pools} + stakes "
        f"{totals.stakes}: {'balanced' if totals.balanced else 'NOT BALANCED'}"
    )


@token_app.command("transfer")
def transfer(
    to: Annotated[str, typer.Argument(help="Identity name or address.")],
    amount: Annotated[int, typer.Argument(help="Whole tokens.")],
    home: HomeOption = None,
    acting: AsOption = None,
    json_out: JsonOption = False,
) -> None:
    """Send tokens from the acting identity."""
    target = home_of(home)
    with target.open_ledger() as ledger:
        receipt = ledger.submit(
            target.identity(acting), build_payload(TokensTransferred, to=target.resolve_address(to), amount=amount)
        )
    if json_out:
        emit_json({"seq": receipt.seq, "id": receipt.event_id})
    else:
        console.print(f"transferred {amount} (event {receipt.seq})")


@token_app.command("mint")
def mint(
    amount: Annotated[int, typer.Argument(help="Whole tokens.")],
    to: Annotated[str | None, typer.Option("--to", help="Identity name or address.")] = None,
    task_id: Annotated[str | None, typer.Option("--task", help="Fund this task's reward pool.")] = None,
    propose: Annotated[
        bool, typer.Option("--propose", help="Record a governance proposal instead (needed under a governance policy).")
    ] = False,
    expires_in: Annotated[
        float, typer.Option("--expires-in", help="With --propose: hours until the proposal expires.")
    ] = 168.0,
    home: HomeOption = None,
    acting: AsOption = None,
    json_out: JsonOption = False,
) -> None:
    """Create tokens on an account or in a task's reward pool (admin only)."""
    if (to is None) == (task_id is None):
        raise ConfigError("give either --to ACCOUNT or --task TASK_ID")
    target = home_of(home)
    with target.open_ledger() as ledger:
        payload = build_payload(
            TokensMinted, amount=amount, to=target.resolve_address(to) if to else None, task_id=task_id
        )
        if propose:
            from .governance import print_proposed, propose_action

            print_proposed(propose_action(ledger, target.identity(acting), payload, expires_in), json_out)
            return
        receipt = ledger.submit(target.identity(acting), payload)
    if json_out:
        emit_json({"seq": receipt.seq, "id": receipt.event_id})
    else:
        console.print(f"minted {amount} (event {receipt.seq})")
