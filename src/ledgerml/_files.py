"""Replacing a file whole or not at all: a temporary file beside it, then one rename."""

from __future__ import annotations

import os
from pathlib import Path


def replace_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through ``.NAME.tmp-PID`` and ``os.replace``: readers and a crash see the old
    file or the new one, never half of one. The temporary file is removed when writing fails (``OSError``)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


__all__ = ["replace_atomically"]
