"""``ledgerml verify --witnesses K``: the ledger's blocks against the checkpoints trusted witnesses cosigned.

Every cosigned checkpoint of this ledger's origin with a valid cosignature by a trusted witness must match the
block that seals exactly that many events (same root), at any depth; and at least K distinct trusted witnesses
must have cosigned a checkpoint at or beyond the newest block.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from ..errors import ConfigError
from ..ledger.blocks import BlockHeader
from .checkpoint import cosignature_by, parse_checkpoint_text
from .home import TrustedWitness, origin_of
from .note import NoteError, parse_note


@dataclass
class WitnessReport:
    """The outcome: the first problem (naming the witness and the size), or the coverage found."""

    problem: str | None = None
    newest: dict[str, int] = field(default_factory=dict)
    checked: int = 0


def check_binding(ledger_id: str, vkey: str, binding: str, validators: set[str]) -> str | None:
    """The problem with the validator's signature binding checkpoint key ``vkey`` to the ledger, or None."""
    from ..errors import InvalidSignature
    from ..identity import recover_signer
    from .home import binding_digest

    try:
        signer = recover_signer(binding_digest(ledger_id, vkey), bytes.fromhex(binding.removeprefix("0x")))
    except (InvalidSignature, ValueError) as exc:
        return f"the checkpoint key's binding signature is malformed: {exc}"
    if signer not in validators:
        return f"the checkpoint key {vkey} is bound by {signer}, who is not a validator of this ledger"
    return None


def check_k(k: int, trusted: list[TrustedWitness]) -> None:
    """``ConfigError`` unless 1 <= K <= the number of distinct trusted witnesses."""
    if k < 1:
        raise ConfigError("--witnesses must be at least 1")
    distinct = len({w.vkey for w in trusted})
    if k > distinct:
        raise ConfigError(f"--witnesses {k} asks for more witnesses than the {distinct} this home trusts")


def check_witnessed(
    ledger_id: str, blocks: list[BlockHeader], notes: list[str], trusted: list[TrustedWitness], k: int
) -> WitnessReport:
    """Check the audited ``blocks`` against every cosigned checkpoint in ``notes``; see the module docstring."""
    report = WitnessReport()
    roots = {b.log_size: b.log_root for b in blocks}
    origin = origin_of(ledger_id)
    for index, text in enumerate(notes):
        try:
            note = parse_note(text)
            checkpoint = parse_checkpoint_text(note.text)
        except NoteError as exc:
            report.problem = f"stored cosigned checkpoint {index} is malformed: {exc}"
            return report
        if checkpoint.origin != origin:
            continue
        for witness in trusted:
            try:
                signed = cosignature_by(witness.key, note.text, note.signatures) is not None
            except NoteError as exc:
                report.problem = f"witness {witness.name}, size {checkpoint.size}: {exc}"
                return report
            if not signed:
                continue
            report.checked += 1
            root = roots.get(checkpoint.size)
            if root != checkpoint.root:
                held = "no block seals exactly that many events" if root is None else "the block there has another root"
                report.problem = (
                    f"history contradicts the checkpoint witness {witness.name} cosigned at size {checkpoint.size} "
                    f"(root {base64.b64encode(checkpoint.root).decode()}): {held}"
                )
                return report
            report.newest[witness.name] = max(checkpoint.size, report.newest.get(witness.name, 0))
    head = blocks[-1] if blocks else None
    if head is not None:
        keys = {w.name: w.key.public_key for w in trusted}
        covering = {keys[n] for n, size in report.newest.items() if size >= head.log_size}
        if len(covering) < k:
            seen = ", ".join(f"{n} at {s}" for n, s in sorted(report.newest.items())) or "none"
            report.problem = (
                f"block {head.height} (log size {head.log_size}) is cosigned by {len(covering)} trusted witness(es), "
                f"{k} required (newest cosigned sizes: {seen}); run 'ledgerml checkpoint publish'"
            )
    return report


__all__ = ["WitnessReport", "check_binding", "check_k", "check_witnessed"]
