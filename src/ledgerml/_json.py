"""Bounded JSON parsing: every JSON text from outside (files, replies, HTTP bodies, stored rows) goes through here.

``json.loads`` recurses once per nesting level in C; with the recursion limit raised (``py_ecc`` sets it to
100,000 on import) a deeply nested array overflows the C stack and kills the process. Size and depth are
checked on the raw text before anything is parsed, in linear time and without recursion.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ._files import read_bounded
from .errors import LedgerMLError, MalformedEvent

if TYPE_CHECKING:
    from pydantic import BaseModel

ModelT = TypeVar("ModelT", bound="BaseModel")

MAX_JSON_BYTES = 64 * 1024 * 1024
"""Largest JSON text parsed by default (64 MiB); callers that know their format pass a smaller bound."""
MAX_JSON_DEPTH = 64
"""Deepest nesting of arrays and objects parsed by default."""

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


class JsonTooLarge(MalformedEvent):
    """A JSON text is larger or nested deeper than its reader allows."""


def nesting_depth(raw: bytes, stop_above: int | None = None) -> int:
    """The deepest nesting of ``[``/``{`` in ``raw``, brackets inside strings not counted (no recursion).

    With ``stop_above``, counting stops as soon as the depth exceeds it (the result is then that depth).
    """
    if b"[" not in raw and b"{" not in raw:
        return 0
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', raw)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
            if stop_above is not None and deepest > stop_above:
                return deepest
        else:
            depth -= 1
    return deepest


def loads_bounded(
    text: bytes | str,
    *,
    what: str = "JSON",
    max_bytes: int = MAX_JSON_BYTES,
    max_depth: int = MAX_JSON_DEPTH,
    error: type[LedgerMLError] = MalformedEvent,
) -> Any:
    """Parse ``text`` as JSON after checking its size and nesting; ``error`` (one line) on anything wrong."""
    if isinstance(text, str) and _utf8_text(text, max_bytes, max_depth):
        try:  # the result json.loads gives for the UTF-8 bytes of text, without encoding and decoding them
            return json.loads(text)
        except (ValueError, RecursionError) as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise error(f"{what} is not valid JSON: {message}") from None
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    if len(raw) > max_bytes:
        raise _error(error, f"{what} is {len(raw):,} bytes; at most {max_bytes:,} are accepted")
    # no more opening brackets than the bound (in strings or not): the text cannot nest deeper, skip the scan
    opening = raw.count(b"[") + raw.count(b"{")
    if opening > max_depth and nesting_depth(raw, max_depth) > max_depth:
        raise _error(error, f"{what} is nested more than {max_depth} levels deep; nesting is limited")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise error(f"{what} is not valid JSON: {message}") from None


def validate_bounded(
    schema: type[ModelT],
    text: str,
    *,
    what: str = "JSON",
    max_bytes: int = MAX_JSON_BYTES,
    max_depth: int = MAX_JSON_DEPTH,
    error: type[LedgerMLError] = MalformedEvent,
) -> ModelT:
    """``schema.model_validate_json(text)`` (pydantic's own parser) after :func:`loads_bounded`'s size and nesting
    checks (``error`` when they fail); the schema's ``ValidationError`` passes through."""
    if len(text) * 4 > max_bytes:  # at most 4 UTF-8 bytes a character: only a long text needs encoding
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > max_bytes:
            raise _error(error, f"{what} is {size:,} bytes; at most {max_bytes:,} are accepted")
    opening = text.count("[") + text.count("{")
    if opening > max_depth and nesting_depth(text.encode("utf-8", "surrogatepass"), max_depth) > max_depth:
        raise _error(error, f"{what} is nested more than {max_depth} levels deep; nesting is limited")
    return schema.model_validate_json(text)


def _utf8_text(text: str, max_bytes: int, max_depth: int) -> bool:
    """Whether ``text`` is within both bounds without being encoded (at most 4 UTF-8 bytes a character, no more
    opening brackets than the depth) and its UTF-8 bytes are ones ``json.loads`` would decode as UTF-8 (an
    opening bracket first, no NUL second: no BOM, not taken for UTF-16/32)."""
    return (
        len(text) * 4 <= max_bytes
        and text[:1] in ("{", "[")
        and text[1:2] != "\x00"
        and text.count("[") + text.count("{") <= max_depth
    )


def load_file(path: str | Path, *, what: str | None = None, **bounds: Any) -> Any:
    """Read and parse a JSON file with :func:`loads_bounded`, refusing files larger than the bound unread."""
    label = what or str(path)
    error: type[LedgerMLError] = bounds.get("error", MalformedEvent)
    too_large = JsonTooLarge if error is MalformedEvent else error
    max_bytes = int(bounds.get("max_bytes", MAX_JSON_BYTES))
    raw = read_bounded(Path(path), max_bytes, what=label, error=too_large, unreadable=error)
    return loads_bounded(raw, what=label, **bounds)


def _error(error: type[LedgerMLError], message: str) -> LedgerMLError:
    return JsonTooLarge(message) if error is MalformedEvent else error(message)


__all__ = [
    "MAX_JSON_BYTES",
    "MAX_JSON_DEPTH",
    "JsonTooLarge",
    "load_file",
    "loads_bounded",
    "nesting_depth",
    "validate_bounded",
]
