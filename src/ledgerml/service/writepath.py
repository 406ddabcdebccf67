"""The hot write path, ``POST /api/events``: token or address admission, the body read within its limit, one JSON
decode, the envelope, then group commit; answered by an ASGI middleware ahead of the router (same checks, same
documents as any route)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from .._json import loads_bounded
from ..errors import LedgerMLError, TamperDetected
from ..events import MAX_EVENT_DEPTH, event_from_dict
from .auth import TokenRecord, require_writer
from .context import MAX_EVENT_BODY, Service
from .problems import PROBLEM_TYPE, BodyTooLarge, RateLimited, UnsupportedMediaType, problem, problem_headers

EVENTS_PATH = "/api/events"
ASGIApp = Callable[[dict[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


def bearer_of(header: str) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header value."""
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _limited(wait: float, text: str) -> RateLimited:
    limited = RateLimited(text)
    limited.retry_after = wait
    return limited


def admit_token_write(service: Service, token: str | None) -> TokenRecord:
    """A live token (from the Authorization header, never the cookie), within its write rate."""
    record = service.tokens.authenticate(token)
    wait = service.writes.take(record.token_id)
    if wait:
        settings = service.settings
        raise _limited(
            wait,
            f"token {record.token_id} may send {settings.write_rate:g} writes per second "
            f"(bursts of {settings.write_burst}); retry in {wait:.2f} s",
        )
    return record


def admit_signed_write(service: Service, token: str | None, client: str | None) -> TokenRecord | None:
    """As ``admit_token_write`` when a token is given or the service is private; otherwise the event's signature
    authenticates it, within the write rate of the client's address (None)."""
    if token is not None or service.settings.private:
        return admit_token_write(service, token)
    host = client or "unknown"
    wait = service.writes.take(f"address:{host}")
    if wait:
        settings = service.settings
        raise _limited(
            wait,
            f"{host} may send {settings.write_rate:g} unauthenticated writes per second "
            f"(bursts of {settings.write_burst}); retry in {wait:.2f} s",
        )
    return None


async def read_json(headers: Mapping[str, str], chunks: AsyncIterator[bytes], limit: int) -> Any:
    """The JSON body: ``application/json``, at most ``limit`` bytes (checked while reading), decoded once."""
    kind = headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise UnsupportedMediaType(f"the body must be application/json, got {kind or 'no content type'}")
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"the body is {int(declared):,} bytes; this endpoint takes at most {limit:,}")
    parts, size = [], 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"the body is over {limit:,} bytes; this endpoint takes at most {limit:,}")
        parts.append(chunk)
    return loads_bounded(b"".join(parts), what="the request body", max_bytes=limit, max_depth=MAX_EVENT_DEPTH + 1)


async def post_event(
    service: Service, headers: Mapping[str, str], client: str | None, chunks: AsyncIterator[bytes]
) -> dict[str, Any]:
    """Admit, read and append one signed event; its receipt ``{"seq", "id"}`` or the specific error raised."""
    record = admit_signed_write(service, bearer_of(headers.get("authorization", "")), client)
    event = event_from_dict(await read_json(headers, chunks, MAX_EVENT_BODY))
    if record is not None:
        require_writer(record, event.actor)
    receipt = await service.appends.append(event)
    return {"seq": receipt.seq, "id": receipt.event_id}


class ClientGone(Exception):
    """The client disconnected before its body was complete (nobody to answer; nothing was appended)."""


async def _body_chunks(receive: Callable[[], Awaitable[Any]]) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


def as_ledgerml_error(exc: LedgerMLError | sqlite3.DatabaseError) -> LedgerMLError:
    """The error a problem document names: a database error is a ledger file that cannot be read (as the app's
    handler answers it)."""
    return exc if isinstance(exc, LedgerMLError) else TamperDetected(f"the ledger file cannot be read: {exc}")


class EventPosts:
    """ASGI middleware: ``POST /api/events`` answered here (no routing or dependency solving); the rest passes on."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app, self.service = app, service

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != EVENTS_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in reversed(scope["headers"])}
        client = scope.get("client")
        extra: dict[str, str] = {}
        try:
            doc = await post_event(self.service, headers, client[0] if client else None, _body_chunks(receive))
            status, kind = 201, "application/json"
        except ClientGone:
            return
        except (LedgerMLError, sqlite3.DatabaseError) as raised:
            exc = as_ledgerml_error(raised)
            doc = problem(exc, EVENTS_PATH)
            status, kind, extra = doc["status"], PROBLEM_TYPE, problem_headers(exc, doc)
        body = json.dumps(doc, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
        fields = [(b"content-type", kind.encode()), (b"content-length", str(len(body)).encode())]
        fields += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in extra.items()]
        await send({"type": "http.response.start", "status": status, "headers": fields})
        await send({"type": "http.response.body", "body": body})


__all__ = [
    "EVENTS_PATH",
    "EventPosts",
    "admit_signed_write",
    "admit_token_write",
    "bearer_of",
    "post_event",
    "read_json",
]
