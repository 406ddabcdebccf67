"""Canonical JSON: the one byte encoding that digests and signatures are computed over."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .errors import MalformedEvent

_encoder = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_json(value: Any) -> bytes:
    """Encode ``value`` as sorted-key, whitespace-free UTF-8 JSON.

    For documents without floats this is byte-identical to RFC 8785 (JCS). Floats are written in
    Python's shortest round-trip form; NaN and infinities are refused.
    """
    try:
        return _encoder.encode(value).encode("utf-8")
    except ValueError as exc:  # NaN / inf
        raise MalformedEvent(f"value cannot be encoded canonically: {exc}") from exc
    except TypeError as exc:
        raise MalformedEvent(f"value is not JSON data: {exc}") from exc


def canonical_text(value: Any) -> str:
    """The text :func:`canonical_json` encodes to UTF-8, its encoder's errors (``ValueError``, ``TypeError``) raw."""
    return _encoder.encode(value)


def canonical_written(write: Callable[[], str]) -> bytes:
    """``write()``, a canonical JSON text built from :func:`canonical_text` pieces, as :func:`canonical_json`'s
    bytes: the same UTF-8 step, and its failures reported as :func:`canonical_json` reports them."""
    try:
        return write().encode("utf-8")
    except ValueError as exc:  # NaN / inf, a lone surrogate
        raise MalformedEvent(f"value cannot be encoded canonically: {exc}") from exc
    except TypeError as exc:
        raise MalformedEvent(f"value is not JSON data: {exc}") from exc
