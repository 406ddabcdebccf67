"""Payload templates: for any event kind, a complete payload that passes its schema, and every field's type."""

from __future__ import annotations

import enum
import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from ..errors import UnknownEventKind

EXAMPLE_DIGEST = "sha256:" + "ab" * 32
EXAMPLE_ADDRESS = "0x" + "00" * 20
_CANDIDATES: tuple[Any, ...] = ("example", EXAMPLE_DIGEST, EXAMPLE_ADDRESS, "ab" * 32, 1, 0, 1.0, False, [], {})
"""Values tried, in order, for a field without a default: the first its type accepts goes in the template."""


@dataclass(frozen=True)
class FieldSpec:
    """One payload field: its name, its type as written in the schema, and whether it must be given."""

    name: str
    type: str
    required: bool
    description: str


@dataclass(frozen=True)
class PayloadTemplate:
    """A kind's complete example payload (canonical: every field given) and its fields."""

    kind: str
    doc: str
    payload: dict[str, Any]
    fields: tuple[FieldSpec, ...]


def _bounds(metadata: list[Any], unit: str = "characters") -> str:
    """Numeric bounds and length limits of a field, as `` >= 1``, `` <= 256 characters``."""
    parts = []
    for item in metadata:
        for attr, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            if getattr(item, attr, None) is not None:
                parts.append(f"{sign} {getattr(item, attr)}")
        if getattr(item, "max_length", None) is not None:
            parts.append(f"at most {item.max_length} {unit}")
    return f" ({', '.join(parts)})" if parts else ""


def type_name(annotation: Any, metadata: list[Any] | None = None) -> str:
    """A field's JSON type in words: ``digest (sha256:<64 hex>)``, ``list of addresses``, ``integer (>= 1)``."""
    meta = list(metadata or [])
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    text = repr(meta)
    if origin is typing.Annotated:
        return type_name(args[0], [*meta, *annotation.__metadata__])
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        others = [a for a in args if a is not type(None)]
        return " or ".join(type_name(a, meta) for a in others) + (" or null" if len(others) < len(args) else "")
    if origin is list:
        return f"list of {type_name(args[0])}{_bounds(meta, 'items')}"
    if origin is dict:
        return f"object of {type_name(args[0])} -> {type_name(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "one of " + ", ".join(repr(m.value) for m in annotation)
    if "_check_digest" in text:
        return "digest (sha256:<64 hex>)"
    if "_check_address" in text:
        return "address (EIP-55 checksummed)"
    pattern = next((m.pattern for m in meta if getattr(m, "pattern", None)), None)
    names = {str: "text", int: "integer", float: "number", bool: "true or false"}
    base = names.get(annotation, getattr(annotation, "__name__", repr(annotation)))
    return base + (f" matching {pattern}" if pattern else "") + _bounds(meta)


def _example(info: FieldInfo) -> Any:
    """The first candidate value the field's type accepts (the first enum member for an enum)."""
    target: Any = typing.Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
    adapter: TypeAdapter[Any] = TypeAdapter(target)
    annotation = info.annotation
    candidates = _CANDIDATES
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):  # a nested table: its own template
        return _complete(annotation)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        candidates = tuple(m.value for m in annotation)
    elif typing.get_origin(annotation) is typing.Literal:
        candidates = typing.get_args(annotation)
    for value in candidates:
        try:
            adapter.validate_python(value)
        except ValidationError:
            continue
        return value
    raise AssertionError(f"no example value fits {info.annotation!r}")  # pragma: no cover - completeness test


def _complete(schema: type[Any]) -> dict[str, Any]:
    """Required fields filled with examples; if a model-level rule wants one of the optional ones (``to`` or
    ``task_id``), the first optional field whose example makes it valid is filled too."""
    fields = schema.model_fields
    required = {name: _example(info) for name, info in fields.items() if info.is_required()}
    tries = [required] + [{**required, name: _example(info)} for name, info in fields.items() if info.default is None]
    for values in tries:
        try:
            return dict(schema.model_validate(values).model_dump(mode="json"))
        except ValidationError:
            continue
    raise AssertionError(f"no template fits {schema.__name__}")  # pragma: no cover - completeness test


def payload_template(kind: str) -> PayloadTemplate:
    """The template of ``kind``; ``UnknownEventKind`` naming the known kinds otherwise."""
    from ..events import payload_types, validate_payload

    types = payload_types()
    schema = types.get(kind)
    if schema is None:
        raise UnknownEventKind(f"unknown event kind {kind!r}; known: {', '.join(sorted(types))}")
    payload = _complete(schema)
    validate_payload(kind, payload)  # complete and canonical, by construction
    fields = tuple(
        FieldSpec(name, type_name(info.annotation, info.metadata), info.is_required(), info.description or "")
        for name, info in schema.model_fields.items()
    )
    return PayloadTemplate(kind, (schema.__doc__ or "").strip().splitlines()[0], payload, fields)


def event_kinds() -> list[str]:
    """Every event kind, sorted."""
    from ..events import payload_types

    return sorted(payload_types())
