"""``ledgerml role grant|revoke``: admins manage roles, as signed events."""

from __future__ import annotations

from typing import Annotated

import typer

from ..types import Role
from ..vocab.core import RoleGranted, RoleRevoked
from ._common import AsOption, HomeOption, JsonOption, console, emit_json, home_of

app = typer.Typer(help="Grant and revoke roles (admin only).", no_args_is_help=True)

ProposeOption = Annotated[
    bool, typer.Option("--propose", help="Record a governance proposal instead (needed under a governance policy).")
]
ExpiresOption = Annotated[float, typer.Option("--expires-in", help="With --propose: hours until the proposal expires.")]
RoleArg = Annotated[Role, typer.Argument(help="admin, validator, data_owner, trainer, aggregator or auditor.")]
SubjectArg = Annotated[str, typer.Argument(help="Identity name or 0x address.")]


def _submit(
    home: str | None,
    acting: str | None,
    payload_of: type[RoleGranted] | type[RoleRevoked],
    role: Role,
    subject: str,
    json_out: bool,
    propose: bool = False,
    expires_in: float = 168.0,
) -> None:
    target = home_of(home)
    address = target.resolve_address(subject)
    actor = target.identity(acting)
    if propose:
        from .governance import print_proposed, propose_action

        with target.open_ledger() as ledger:
            proposed = propose_action(ledger, actor, payload_of(subject=address, role=role), expires_in)
        print_proposed(proposed, json_out, {"subject": address, "role": role.value})
        return
    with target.open_ledger() as ledger:
        receipt = ledger.submit(actor, payload_of(subject=address, role=role))
    if json_out:
        emit_json(
            {
                "seq": receipt.seq,
                "id": receipt.event_id,
                "kind": payload_of.kind,
                "subject": address,
                "role": role.value,
            }
        )
    else:
        console.print(f"{payload_of.kind}: {role.value} for {address} (event {receipt.seq}, {receipt.event_id})")


@app.command("grant")
def grant(
    role: RoleArg,
    subject: SubjectArg,
    propose: ProposeOption = False,
    expires_in: ExpiresOption = 168.0,
    home: HomeOption = None,
    acting: AsOption = None,
    json_out: JsonOption = False,
) -> None:
    """Grant ROLE to SUBJECT."""
    _submit(home, acting, RoleGranted, role, subject, json_out, propose, expires_in)


@app.command("revoke")
def revoke(
    role: RoleArg,
    subject: SubjectArg,
    propose: ProposeOption = False,
    expires_in: ExpiresOption = 168.0,
    home: HomeOption = None,
    acting: AsOption = None,
    json_out: JsonOption = False,
) -> None:
    """Revoke ROLE from SUBJECT."""
    _submit(home, acting, RoleRevoked, role, subject, json_out, propose, expires_in)
