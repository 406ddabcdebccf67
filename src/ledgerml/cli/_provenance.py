"""Helpers shared by the data, model and fraud command groups: sealing, output files checked before any work."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from ..errors import NotFound, StorageError
from ..ledger.base import LedgerBackend


def seal_if_possible(ledger: LedgerBackend) -> None:
    """Seal a block over the new events when this process holds the validator key, so proofs exist at once."""
    if ledger.validator is not None:
        ledger.seal()


_ID = re.compile(r"sha256:[0-9a-f]{64}")


def check_id(value: str, what: str) -> str:
    """A dataset or model id as given; ``NotFound`` (quoting at most 80 characters of it) if it cannot be one."""
    if not _ID.fullmatch(value):
        shown = value if len(value) <= 80 else value[:80] + "…"
        raise NotFound(f"{what} {shown!r} is not registered: ids are 'sha256:' and 64 lowercase hex digits")
    return value


def check_out(out: Path | None, option: str = "--out") -> None:
    """Refuse an output path that cannot be written (missing folder, a folder) before any work is done."""
    if out is None:
        return
    if out.is_dir():
        raise StorageError(f"{option} {out} is a folder; name a file to write")
    parent = out.parent
    if not parent.is_dir():
        raise StorageError(f"{option} {out}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise StorageError(f"{option} {out}: the folder {parent} is not writable")


def write_text_atomic(out: Path, text: str, option: str = "--out") -> None:
    """Write ``text`` to ``out`` through a temporary file and a rename: all of it or nothing."""
    check_out(out, option)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StorageError(f"cannot write {option} {out}: {exc.strerror or exc}") from None


def write_json_out(data: Any, out: Path | None, *, jsonl: bool = False) -> None:
    """Print JSON (one line for ``jsonl``) to stdout, or write it atomically to ``out``."""
    from ._common import console, write_json

    if out is None:
        write_json(data, None, jsonl=jsonl)
        return
    text = (
        json.dumps(data, sort_keys=True, separators=(",", ":")) if jsonl else json.dumps(data, indent=2, sort_keys=True)
    ) + "\n"
    write_text_atomic(out, text)
    console.print(f"wrote {out}")
