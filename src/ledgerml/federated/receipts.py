"""Signed receipts: the aggregator's acknowledgement, per reply, that it received a participant's commitment.

When a reply's commitment is for the open round and signed by its participant, the aggregator signs (EIP-191
over a 32-byte digest) a receipt naming the ledger, task, round and the commitment event's id, before it
tries to append the commitment, and sends it back to the participant, who keeps it: one line per receipt in
``DIR/TASK/receipts.jsonl`` (one append, not a new file per round; ``round-R-<commitment>.json`` files kept by
earlier versions are read too). An aggregator that drops a received update without committing it is then
caught: the participant holds a receipt for a commitment the round does not list. ``audit task --receipts DIR``
checks every receipt found in DIR.

A commitment the state machine refused (listed under the round's ``invalid`` with its reason) is not a
drop; the reason is on the ledger for anyone to dispute with the signed event the receipt carries.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._files import append_line, iter_lines, read_bounded
from .._json import loads_bounded
from ..errors import ConfigError, LedgerMLError
from ..events import Event, event_from_dict
from ..identity import Identity, recover_signer
from ..ledger.base import LedgerBackend
from ..state import check_envelope
from ..vocab.tasks import commits, progress, round_record, task

RECEIPT_VERSION = 1
_TASK_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_COMMITMENT = re.compile(r"^sha256:[0-9a-f]{64}$")
_TEXT_FIELDS = ("ledger", "task", "participant", "commitment", "aggregator", "signature")
"""A receipt's string fields: ids, addresses and a signature (ASCII)."""
MAX_RECEIPT_BYTES = 64 * 1024
"""Largest receipt file, log line or message read."""
MAX_RECEIPT_DEPTH = 8
"""Deepest JSON nesting of a receipt."""
MAX_RECEIPTS = 100_000
"""Most receipts (log lines and files) one audit reads."""
RECEIPT_LOG = "receipts.jsonl"
"""The file in ``DIR/TASK/`` a participant's receipts for the task are appended to, one JSON object per line."""
MAX_LOG_BYTES = MAX_RECEIPTS * (MAX_RECEIPT_BYTES + 1)
"""Largest receipt log read (:data:`MAX_RECEIPTS` lines of the largest receipt)."""


def receipt_digest(ledger_id: str, task_id: str, round_: int, participant: str, commitment: str) -> bytes:
    """The 32 bytes the aggregator signs for one receipt."""
    text = f"ledgerml receipt v{RECEIPT_VERSION}\n{ledger_id}\n{task_id}\n{round_}\n{participant}\n{commitment}"
    return hashlib.sha256(text.encode()).digest()


def issue_receipt(aggregator: Identity, event: Event, task_id: str, round_: int) -> dict[str, Any]:
    """The aggregator's signed receipt for a received commitment ``event``."""
    digest = receipt_digest(event.ledger, task_id, round_, event.actor, event.id)
    return {
        "v": RECEIPT_VERSION,
        "ledger": event.ledger,
        "task": task_id,
        "round": round_,
        "participant": event.actor,
        "commitment": event.id,
        "event": event.to_dict(),
        "aggregator": aggregator.address,
        "signature": "0x" + aggregator.sign_digest(digest).hex(),
    }


def parse_receipt(text: str | bytes, what: str = "receipt") -> dict[str, Any]:
    """A receipt from JSON, its fields checked (not its signature); ``ConfigError`` if malformed."""
    data = loads_bounded(text, what=what, max_bytes=MAX_RECEIPT_BYTES, max_depth=MAX_RECEIPT_DEPTH, error=ConfigError)
    return _checked(data, what)


def _checked(data: Any, what: str) -> dict[str, Any]:
    wanted = {"v", "ledger", "task", "round", "participant", "commitment", "event", "aggregator", "signature"}
    if not isinstance(data, dict) or set(data) != wanted or data["v"] != RECEIPT_VERSION:
        raise ConfigError(f"{what} is not a ledgerml receipt (v{RECEIPT_VERSION})")
    if type(data["round"]) is not int or not all(isinstance(data[k], str) for k in _TEXT_FIELDS):
        raise ConfigError(f"{what} has fields of the wrong type")
    if not all(data[k].isascii() for k in _TEXT_FIELDS):
        raise ConfigError(f"{what} has a field that is not ASCII (ids, addresses and signatures are)")
    return data


def receipt_signer(receipt: dict[str, Any]) -> str:
    """The address that signed ``receipt``; ``LedgerMLError`` if the signature cannot be recovered."""
    digest = receipt_digest(
        receipt["ledger"], receipt["task"], receipt["round"], receipt["participant"], receipt["commitment"]
    )
    try:
        signature = bytes.fromhex(receipt["signature"].removeprefix("0x"))
    except ValueError:
        raise ConfigError("receipt signature is not hex") from None
    return str(recover_signer(digest, signature))


def save_receipt(folder: Path, receipt: dict[str, Any]) -> Path:
    """Keep a receipt as one line of ``folder/TASK/receipts.jsonl`` (the participant's side), after checking
    that its names are safe in a path and that it is signed by the aggregator it names; the log's path."""
    if not _TASK_ID.match(str(receipt["task"])) or not _COMMITMENT.match(str(receipt["commitment"])):
        raise ConfigError("receipt names no valid task id or commitment id")
    if type(receipt["round"]) is not int or receipt["round"] < 1:
        raise ConfigError("receipt names no valid round")
    if receipt_signer(receipt) != receipt["aggregator"]:
        raise ConfigError("receipt is not signed by the aggregator it names")
    path: Path = folder / str(receipt["task"]) / RECEIPT_LOG
    if not path.parent.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
    append_line(path, json.dumps(receipt, sort_keys=True).encode())
    return path


def keep_receipt(text: object, participant: str, folder: Path | None) -> tuple[bool, str | None]:
    """The participant's side of a receipt the aggregator sent (on its own message, or riding on the next train
    message): kept by :func:`save_receipt` when it is for ``participant`` and ``folder`` is set; else ignored.
    Whether it was kept, and the problem as one line if it is unreadable or cannot be kept (else None)."""
    try:
        if not isinstance(text, str):
            raise ConfigError("the receipt the aggregator sent is not JSON text")
        receipt = parse_receipt(text)
        if receipt["participant"] != participant or folder is None:
            return False, None
        save_receipt(folder, receipt)
    except (LedgerMLError, OSError) as exc:
        return False, f"receipt not kept: {exc}"
    return True, None


def _kept(folder: Path) -> Iterator[tuple[str, tuple[str, ...], dict[str, Any] | LedgerMLError]]:
    """Every receipt under ``folder`` with the name problems report it by (its path under ``folder``), the
    folders that hold it (below ``folder``, outermost first), and the receipt or the error that made it
    unreadable: each line of each ``TASK/receipts.jsonl`` (``TASK/receipts.jsonl line N``), then each older
    ``*.json`` receipt file. ``ConfigError`` past :data:`MAX_RECEIPTS` of them."""
    found = sorted(path for path in folder.rglob("*") if path.name == RECEIPT_LOG or path.suffix == ".json")
    logs, files = [p for p in found if p.name == RECEIPT_LOG], [p for p in found if p.name != RECEIPT_LOG]
    if len(files) > MAX_RECEIPTS:
        raise ConfigError(f"{folder} holds more than {MAX_RECEIPTS} receipt files")
    count = len(files)
    for log in logs:
        where = log.relative_to(folder)
        for name, line in _log_lines(log, where.as_posix()):
            count += 1
            if count > MAX_RECEIPTS:
                raise ConfigError(f"{folder} holds more than {MAX_RECEIPTS} receipts")
            yield name, where.parent.parts, _receipt(line)
    for path in files:
        try:
            text: bytes | LedgerMLError = read_bounded(path, MAX_RECEIPT_BYTES, what="the file", error=ConfigError)
        except LedgerMLError as exc:
            text = exc
        where = path.relative_to(folder)
        yield where.as_posix(), where.parent.parts, _receipt(text)


def _log_lines(log: Path, name: str) -> Iterator[tuple[str, bytes | LedgerMLError | None]]:
    """A receipt log's lines named ``NAME line N``; a log that cannot be read (not a regular file, too large)
    ends as one error named ``NAME``, and the other logs are still read."""
    try:
        for number, line in enumerate(iter_lines(log, MAX_RECEIPT_BYTES, MAX_LOG_BYTES), 1):
            yield f"{name} line {number}", line
    except LedgerMLError as exc:
        yield name, exc


def _receipt(text: bytes | LedgerMLError | None) -> dict[str, Any] | LedgerMLError:
    """A receipt's text (None: a line too long to keep) as a checked receipt, or the error that makes it
    unreadable."""
    if isinstance(text, LedgerMLError):
        return text
    try:
        if text is None:
            raise ConfigError(f"the line is longer than {MAX_RECEIPT_BYTES:,} bytes")
        return parse_receipt(text, "the receipt")
    except LedgerMLError as exc:
        return exc


def audit_receipts(ledger: LedgerBackend, task_id: str, folder: str | Path) -> list[str]:
    """Check every receipt for ``task_id`` under ``folder``: signed by the task's aggregator, and naming a
    commitment that the finalized round lists (or lists as invalid, with its reason). Returns the problems."""
    state = ledger.state()
    record = task(state, task_id)
    if record is None:
        raise ConfigError(f"task {task_id!r} does not exist")
    problems: list[str] = []
    finalized = progress(state, task_id).finalized
    for name, folders, receipt in _kept(Path(folder)):
        if isinstance(receipt, LedgerMLError):
            # in another task's folder (the nearest one named after a task of this ledger): that task's problem
            owner = next((part for part in reversed(folders) if task(state, part) is not None), None)
            if owner in (None, task_id):
                problems.append(f"{name}: unreadable receipt: {receipt}")
            continue
        if receipt["task"] != task_id:
            continue
        round_, who = receipt["round"], receipt["participant"]
        try:
            signer = receipt_signer(receipt)
            event = event_from_dict(receipt["event"])
            check_envelope(state, event)
        except LedgerMLError as exc:
            problems.append(f"{name}: receipt or its commitment does not verify: {exc}")
            continue
        if signer != record.aggregator or receipt["aggregator"] != record.aggregator:
            problems.append(f"{name}: receipt is signed by {signer}, not by the task's aggregator")
            continue
        if event.id != receipt["commitment"] or event.actor != who or receipt["ledger"] != ledger.ledger_id:
            problems.append(f"{name}: receipt does not match the commitment it carries")
            continue
        if round_ > finalized:
            continue  # the round is still open
        listed = commits(state, task_id, round_).get(who)
        if listed is not None and listed.event_id == event.id:
            continue
        closed = round_record(state, task_id, round_)
        refused = closed is not None and any(p == who for p, _ in closed.invalid)
        if listed is None and not refused:
            problems.append(
                f"round {round_}: {who} holds a receipt for commitment {event.id} that the round does not list"
            )
    return problems


__all__ = ["RECEIPT_LOG", "audit_receipts", "issue_receipt", "parse_receipt", "receipt_signer", "save_receipt"]
