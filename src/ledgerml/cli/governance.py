"""``ledgerml governance policy|propose|approve|reject|execute|list|show``: k-of-n approval of consortium actions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import ConfigError
from ._common import AsOption, HomeOption, JsonOption, console, emit_json, home_of, table

if TYPE_CHECKING:
    from ..events import Payload
    from ..governance.api import Proposed
    from ..home import Home
    from ..identity import Identity
    from ..ledger.base import LedgerBackend

app = typer.Typer(
    help="k-of-n approval of consortium-wide actions: policy, proposals, approvals.", no_args_is_help=True
)
policy_app = typer.Typer(help="Show or set the governance policy.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")

IdArg = Annotated[int, typer.Argument(help="The proposal's number (see 'ledgerml governance list').", min=1)]
ExpiresOption = Annotated[
    float, typer.Option("--expires-in", help="Hours until the proposal expires (at most 2160, 90 days).")
]
ProposeOption = Annotated[
    bool, typer.Option("--propose", help="Record a governance proposal of this action instead of acting alone.")
]
MAX_PAYLOAD_TEXT = 16384


def ttl_ms(hours: float) -> int:
    """``--expires-in`` hours as milliseconds; ``ConfigError`` outside (0, 2160]."""
    if not 0 < hours <= 2160:  # also refuses NaN
        raise ConfigError(f"--expires-in must be more than 0 and at most 2160 hours, not {hours}")
    return int(hours * 3_600_000)


def propose_action(ledger: LedgerBackend, actor: Identity, payload: Payload, hours: float) -> Proposed:
    """Record ``payload`` as a governance proposal by ``actor`` expiring in ``hours`` (the ``--propose`` path)."""
    from ..governance.api import propose

    return propose(ledger, actor, payload, ttl_ms=ttl_ms(hours))


def print_proposed(proposed: Proposed, json_out: bool, extra: dict[str, Any] | None = None) -> None:
    """``{"proposal": ID, ...}`` with ``--json``, else one line naming the proposal and how to approve it."""
    if json_out:
        emit_json({**proposed.to_dict(), **(extra or {})})
        return
    console.print(
        f"proposal {proposed.proposal}: {proposed.kind} {proposed.digest} (event {proposed.receipt.seq}); "
        f"approve with 'ledgerml governance approve {proposed.proposal} --as NAME'",
        highlight=False,
    )


def _member_addresses(target: Home, members: str) -> list[str]:
    names = [m.strip() for m in members.split(",")]
    if not members.strip() or any(not n for n in names):
        raise ConfigError("--members must be a comma-separated list of identity names or addresses")
    return [target.resolve_address(name) for name in names]


ADDRESS_FIELDS = ("subject", "to")
"""Payload fields that name an account: an identity name there is replaced by its address (``members`` too)."""


def _resolve_names(target: Home, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with identity names in address fields replaced by addresses (``NotFound`` for an unknown name)."""
    fields = {str(k): v for k, v in data.items()}
    reserved = sorted(set(fields) & {"payload_type", "what"})  # build_payload's own parameters: no payload has them
    if reserved:
        raise ConfigError(f"--payload: {reserved[0]}: not a field of this kind")
    for key in ADDRESS_FIELDS:
        if isinstance(fields.get(key), str):
            fields[key] = target.resolve_address(fields[key])
    if isinstance(fields.get("members"), list):
        fields["members"] = [target.resolve_address(m) if isinstance(m, str) else m for m in fields["members"]]
    return fields


def _document(target: Home, ledger: LedgerBackend, open_only: bool = False) -> dict[str, Any]:
    from ..documents import names
    from ..events import now_ms
    from ..governance.views import governance_document

    return governance_document(ledger.state(), names(target), now_ms(), open_only=open_only)


@policy_app.command("show")
def policy_show(home: HomeOption = None, json_out: JsonOption = False) -> None:
    """The policy in force: threshold, members and the actions it governs (none: one admin acts alone)."""
    from ..documents import names
    from ..governance.views import policy_document
    from ..vocab.governance import policy

    target = home_of(home)
    with target.open_ledger(as_validator=False) as ledger:
        shown = policy_document(policy(ledger.state()), names(target))
    if json_out:
        emit_json({"policy": shown})
    elif shown is None:
        console.print("no governance policy: each admin acts alone")
    else:
        members = ", ".join(m["name"] or m["address"] for m in shown["members"])
        console.print(
            f"policy v{shown['version']}: {shown['threshold']} of {len(shown['members'])} ({members}) approve "
            + ", ".join(shown["actions"]),
            highlight=False,
        )


@policy_app.command("set")
def policy_set(
    threshold: Annotated[int, typer.Option("--threshold", help="Approvals needed (K of the members).")],
    members: Annotated[str, typer.Option("--members", help="Comma-separated identity names or addresses.")],
    actions: Annotated[
        str | None,
        typer.Option("--actions", help="Comma-separated kinds to govern \\[default: all governable kinds]."),
    ] = None,
    propose: ProposeOption = False,
    expires_in: ExpiresOption = 168.0,
    home: HomeOption = None,
    acting: AsOption = None,
    json_out: JsonOption = False,
) -> None:
    """Set the policy: an admin alone while none is set; afterwards only with --propose and the members' approvals."""
    from ..governance.api import policy_payload

    target = home_of(home)
    kinds = None if actions is None else [a.strip() for a in actions.split(",")]
    payload = policy_payload(threshold, _member_addresses(target, members), kinds)
    actor = target.identity(acting)
    with target.open_ledger() as ledger:
        if propose:
            print_proposed(propose_action(ledger, actor, payload, expires_in), json_out)
            return
        done = ledger.submit(actor, payload)
    if json_out:
        emit_json({"seq": done.seq, "id": done.event_id, "kind": "GovernancePolicySet"})
    else:
        console.print(f"GovernancePolicySet: {threshold} of {len(payload.members)} (event {done.seq})")


@app.command("propose")
def propose_cmd(
    kind: Annotated[
        str, typer.Argument(help="RoleGranted, RoleRevoked, TokensMinted, TaskCreated or GovernancePolicySet.")
    ],
    payload_json: Annotated[
        str,
        typer.Option("--payload", help="The event's payload as a JSON object (identity names allowed for accounts)."),
    ],
    expires_in: ExpiresOption = 168.0,
    home: HomeOption = None,
    acting: AsOption = None,
    json_out: JsonOption = False,
) -> None:
    """Propose the exact event KIND with PAYLOAD; your proposal is its first approval."""
    from .._json import loads_bounded
    from ..events import build_payload, payload_types
    from ..vocab.governance import GOVERNABLE

    if kind not in GOVERNABLE:
        raise ConfigError(f"{kind!r} cannot be proposed; governable kinds: {', '.join(GOVERNABLE)}")
    data = loads_bounded(payload_json, what="--payload", max_bytes=MAX_PAYLOAD_TEXT, error=ConfigError)
    if not isinstance(data, dict):
        raise ConfigError("--payload must be a JSON object")
    target = home_of(home)
    payload = build_payload(payload_types()[kind], **_resolve_names(target, data))
    actor = target.identity(acting)
    with target.open_ledger() as ledger:
        proposed = propose_action(ledger, actor, payload, expires_in)
    print_proposed(proposed, json_out)


@app.command("approve")
def approve_cmd(
    proposal: IdArg,
    no_execute: Annotated[
        bool, typer.Option("--no-execute", help="Only approve, even if this approval reaches the threshold.")
    ] = False,
    home: HomeOption = None,
    acting: AsOption = None,
    json_out: JsonOption = False,
) -> None:
    """Approve a proposal; the approval that reaches the threshold also executes it."""
    from ..governance.api import approve

    target = home_of(home)
    actor = target.identity(acting)
    with target.open_ledger() as ledger:
        vote = approve(ledger, actor, proposal, execute=not no_execute)
    executed = vote.executed
    if json_out:
        emit_json(
            {
                "proposal": proposal,
                "approved": vote.receipt.event_id,
                "seq": vote.receipt.seq,
                "executed": executed.event_id if executed else None,
                "execution_error": vote.execution_error,
            }
        )
        return
    console.print(f"approved proposal {proposal} (event {vote.receipt.seq})", highlight=False)
    if executed is not None:
        console.print(f"executed proposal {proposal} (event {executed.seq})", highlight=False)
    elif vote.execution_error:
        console.print(f"not executed: {vote.execution_error}", highlight=False)


@app.command("reject")
def reject_cmd(
    proposal: IdArg,
    reason: Annotated[str, typer.Option("--reason", help="Why (at most 256 characters).")] = "",
    home: HomeOption = None,
    acting: AsOption = None,
    json_out: JsonOption = False,
) -> None:
    """Reject a proposal; it fails once the threshold can no longer be reached."""
    from ..events import now_ms
    from ..governance.api import reject, require_proposal

    target = home_of(home)
    actor = target.identity(acting)
    with target.open_ledger() as ledger:
        receipt = reject(ledger, actor, proposal, reason)
        status = require_proposal(ledger, proposal).status_at(now_ms())
    if json_out:
        emit_json({"proposal": proposal, "rejected": receipt.event_id, "seq": receipt.seq, "status": status})
    else:
        console.print(f"rejected proposal {proposal} (event {receipt.seq}); it is {status}", highlight=False)


@app.command("execute")
def execute_cmd(
    proposal: IdArg, home: HomeOption = None, acting: AsOption = None, json_out: JsonOption = False
) -> None:
    """Apply an approved proposal's event (e.g. after 'approve --no-execute', or once what it needs exists)."""
    from ..governance.api import execute

    target = home_of(home)
    actor = target.identity(acting)
    with target.open_ledger() as ledger:
        receipt = execute(ledger, actor, proposal)
    if json_out:
        emit_json({"proposal": proposal, "executed": receipt.event_id, "seq": receipt.seq})
    else:
        console.print(f"executed proposal {proposal} (event {receipt.seq})", highlight=False)


@app.command("list")
def list_cmd(
    open_only: Annotated[bool, typer.Option("--open", help="Only proposals still open.")] = False,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """The policy and every proposal, newest first: the exact event, who approved and rejected it, its status."""
    target = home_of(home)
    with target.open_ledger(as_validator=False) as ledger:
        document = _document(target, ledger, open_only)
    if json_out:
        emit_json(document)
        return
    rows = [
        [
            p["proposal"],
            p["kind"],
            p["status"],
            ", ".join(a["name"] or a["address"] for a in p["approvals"]),
            ", ".join(r["name"] or r["address"] for r in p["rejections"]),
            p["proposer"]["name"] or p["proposer"]["address"],
        ]
        for p in document["proposals"]
    ]
    table("governance proposals", ["id", "kind", "status", "approved by", "rejected by", "proposer"], rows)


@app.command("show")
def show_cmd(proposal: IdArg, home: HomeOption = None, json_out: JsonOption = False) -> None:
    """One proposal with its exact event, digest and votes (always JSON)."""
    from ..documents import names
    from ..events import now_ms
    from ..governance.api import require_proposal
    from ..governance.views import proposal_document

    target = home_of(home)
    with target.open_ledger(as_validator=False) as ledger:
        shown = proposal_document(require_proposal(ledger, proposal), names(target), now_ms())
    emit_json(shown)
