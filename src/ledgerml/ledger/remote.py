"""``RemoteLedger``: the ``LedgerBackend`` protocol over HTTP, against a ledger served by ``ledgerml serve``.

The same code runs against a local file or the service: ``Ledger.open("http://127.0.0.1:8000")`` (token from
``LEDGERML_TOKEN`` or the URL option ``token_file=PATH``). Events are signed here, with the caller's key; the
service holds no participant keys. ``state()`` is this process's own replay of the served log (every signature
checked), not the server's word; ``verify()`` is the server's report (an auditor checks proofs offline, or replays
with ``state()``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .._files import read_bounded
from .._json import loads_bounded
from ..errors import ConfigError, LedgerMLError, RejectedEvent, ReplayedNonce
from ..events import Event, Payload, event_from_dict, sign_event
from ..identity import Identity
from ..state import State, apply
from .base import Capabilities, ProgressCallback, Receipt, StoredEvent, VerifyReport
from .blocks import BlockHeader
from .proofs import ConsistencyProof, InclusionProof
from .registry import LedgerURL, url_options

PAGE = 1000
"""Events or blocks fetched per request."""
NONCE_RETRIES = 8
"""How often ``submit`` re-signs with a fresh nonce when another writer took its nonce first."""


class Unauthenticated(LedgerMLError, PermissionError):
    """A request carries no API token, or one that is unknown or revoked (HTTP 401)."""

    exit_code = 40


class Forbidden(LedgerMLError, PermissionError):
    """The API token is valid but does not allow this request (HTTP 403)."""

    exit_code = 41


class RateLimited(LedgerMLError):
    """Too many writes from one token; retry after ``retry_after`` seconds (HTTP 429)."""

    exit_code = 42
    retry_after: float = 1.0


class BadRequest(LedgerMLError, ValueError):
    """The HTTP request itself is wrong: its content type, its size or its parameters (HTTP 400, 413 or 415)."""

    exit_code = 43
    status = 400


class UnsupportedMediaType(BadRequest):
    """A request body that is not ``application/json`` (HTTP 415)."""

    status = 415


class BodyTooLarge(BadRequest):
    """A request body larger than the endpoint accepts (HTTP 413)."""

    status = 413


def _known_classes() -> dict[str, type[LedgerMLError]]:
    """Error classes by name: every loaded subclass of ``LedgerMLError`` (a vocabulary's own rejections too), with
    ``ledgerml.errors`` and this module's winning a clash of names."""
    from .. import errors
    from .._json import JsonTooLarge
    from ..events import load_vocabularies

    load_vocabularies()
    found: dict[str, type[LedgerMLError]] = {}
    pending: list[type[LedgerMLError]] = [LedgerMLError]
    while pending:
        cls = pending.pop()
        found.setdefault(cls.__name__, cls)
        pending.extend(cls.__subclasses__())
    found |= {v.__name__: v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, LedgerMLError)}
    for cls in (Unauthenticated, Forbidden, RateLimited, BadRequest, UnsupportedMediaType, BodyTooLarge, JsonTooLarge):
        found[cls.__name__] = cls
    return found


def error_from_problem(doc: object, status: int) -> LedgerMLError:
    """The error an RFC 9457 problem document names, rebuilt on the client (an unknown class: ``LedgerMLError``)."""
    if not isinstance(doc, dict):
        return LedgerMLError(f"the service answered HTTP {status} without a problem document")
    cls = _known_classes().get(str(doc.get("error") or doc.get("title")), LedgerMLError)
    exc = cls(str(doc.get("detail") or f"HTTP {status}"))
    index = doc.get("index")
    if isinstance(index, int) and isinstance(exc, RejectedEvent):
        exc.index = index
    if isinstance(exc, RateLimited) and isinstance(doc.get("retry_after"), int | float):
        exc.retry_after = float(doc["retry_after"])
    return exc


def _client(base_url: str, token: str | None, timeout: float) -> Any:
    try:
        import httpx
    except ImportError:
        raise ConfigError("the remote ledger client needs httpx: pip install 'ledgerml[service]'") from None
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base_url, headers=headers, timeout=timeout)


class RemoteLedger:
    """A ledger served over HTTP by ``ledgerml serve``; see the module docstring for what is checked where."""

    def __init__(self, base_url: str, token: str | None = None, *, client: Any = None, timeout: float = 60.0) -> None:
        self.url = base_url.rstrip("/")
        self._http = client if client is not None else _client(self.url, token, timeout)
        if client is not None and token:
            self._http.headers["Authorization"] = f"Bearer {token}"
        head = self._call("GET", "/api/head")
        self._ledger_id: str = head["ledger_id"]
        self.capabilities = Capabilities(**head["capabilities"])
        self._state = State()
        self._folded = 0

    @classmethod
    def open_url(cls, url: LedgerURL, *, validator: Identity | None, signers: Sequence[Identity] = ()) -> RemoteLedger:
        """Open ``http(s)://HOST:PORT``; the token comes from ``token_file=PATH`` or ``$LEDGERML_TOKEN``."""
        options = url_options(url.options, floats=("timeout",), token_file="text")
        token = os.environ.get("LEDGERML_TOKEN")
        if "token_file" in options:
            token = read_bounded(Path(options["token_file"]), 4096, what="token_file").decode().strip()
        return cls(url.path, token, timeout=options.get("timeout", 60.0))

    @classmethod
    def create_url(cls, url: LedgerURL, *, admin: Identity, validator: Identity | None, name: str) -> RemoteLedger:
        """Refused: a served ledger is created where it is served (``ledgerml init`` there)."""
        raise ConfigError(f"{url.path} is a served ledger: create it on its own machine with 'ledgerml init'")

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request; an error answer becomes the error class its problem document names."""
        try:
            response = self._http.request(method, path, **kwargs)
        except Exception as exc:  # httpx.TransportError and friends: no answer at all
            if isinstance(exc, LedgerMLError):
                raise
            raise ConfigError(f"cannot reach the ledger service at {self.url}: {exc}") from None
        try:
            body = loads_bounded(response.content, what=f"the answer to {method} {path}") if response.content else None
        except LedgerMLError:
            body = None
            if response.status_code < 400:
                raise
        if response.status_code >= 400:
            raise error_from_problem(body, response.status_code)
        return body

    def get(self, path: str, **params: Any) -> Any:
        """A served JSON document, e.g. ``get("/api/tasks")`` (see the service's ``/openapi.json``)."""
        return self._call("GET", path, params=params)

    @property
    def ledger_id(self) -> str:
        """The served ledger's id."""
        return self._ledger_id

    @property
    def size(self) -> int:
        """Events in the served log."""
        size: int = self._call("GET", "/api/head")["size"]
        return size

    @property
    def validator(self) -> Identity | None:
        """None: the service seals blocks (with its own validator key), never a client."""
        return None

    def state(self) -> State:
        """This process's replay of the served log, caught up (each event's signature and rule checked here)."""
        for stored in self.events(self._folded):
            apply(self._state, stored.event)
            self._folded = stored.seq + 1
        return self._state

    def next_nonce(self, address: str) -> int:
        """The nonce ``address`` signs its next event with, as the service sees it."""
        nonce: int = self._call("GET", f"/api/nonces/{address}")["next_nonce"]
        return nonce

    def append(self, event: Event) -> Receipt:
        """Send one signed event; the service's state machine decides (its specific error is raised here)."""
        data = self._call("POST", "/api/events", json=event.to_dict())
        return Receipt(data["seq"], data["id"])

    def append_batch(self, events: Sequence[Event]) -> list[Receipt]:
        """Send signed events as one batch (all or nothing where the served backend's batches are atomic)."""
        data = self._call("POST", "/api/events/batch", json=[e.to_dict() for e in events])
        return [Receipt(r["seq"], r["id"]) for r in data]

    def submit(self, identity: Identity, payload: Payload) -> Receipt:
        """Sign ``payload`` here with the next nonce and send it; re-signed if another writer took the nonce."""
        return self.submit_batch(identity, [payload])[0]

    def submit_batch(self, identity: Identity, payloads: Sequence[Payload]) -> list[Receipt]:
        """Sign payloads here with consecutive nonces and send them as one batch (re-signed on a nonce race)."""
        for attempt in range(NONCE_RETRIES):
            nonce = self.next_nonce(identity.address)
            events = [sign_event(identity, self._ledger_id, p, nonce + i) for i, p in enumerate(payloads)]
            try:
                return [self.append(events[0])] if len(events) == 1 else self.append_batch(events)
            except ReplayedNonce:
                if attempt == NONCE_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def get_event(self, ref: int | str) -> StoredEvent:
        """An event by sequence number or id."""
        return _stored(self._call("GET", f"/api/events/{ref}"), "block")

    def events(self, start: int = 0, stop: int | None = None) -> Iterator[StoredEvent]:
        """Events with ``start <= seq < stop``, fetched a page at a time (block heights not filled in, as SQLite's;
        ``get_event`` has them)."""
        position = start
        while stop is None or position < stop:
            limit = PAGE if stop is None else min(PAGE, stop - position)
            page = self._call("GET", "/api/events", params={"start": position, "limit": limit})
            for item in page["events"]:
                yield StoredEvent(item["seq"], _event(item), None)
            if page["next"] is None or not page["events"]:
                return
            position = page["next"]

    def block(self, height: int | None = None) -> BlockHeader:
        """The signed header at ``height`` (default: the latest)."""
        data = self._call("GET", "/api/head")["block"] if height is None else self._call("GET", f"/api/blocks/{height}")
        return BlockHeader.from_dict(data)

    def blocks(self, start: int = 0, stop: int | None = None) -> Iterator[BlockHeader]:
        """Headers with ``start <= height < stop``, fetched a page at a time."""
        position = start
        while stop is None or position < stop:
            limit = PAGE if stop is None else min(PAGE, stop - position)
            found = self._call("GET", "/api/blocks", params={"start": position, "limit": limit})["blocks"]
            yield from (BlockHeader.from_dict(b) for b in found)
            if len(found) < limit:
                return
            position += len(found)

    def seal(self) -> BlockHeader | None:
        """Ask the service to seal pending events now (an admin token is needed)."""
        data = self._call("POST", "/api/seal", json={})
        return None if data is None else BlockHeader.from_dict(data)

    def inclusion_proof(self, ref: int | str, height: int | None = None) -> InclusionProof:
        """The service's inclusion proof of an event (verify it with ``verify_inclusion_proof``)."""
        params = {} if height is None else {"block": height}
        return InclusionProof.from_dict(self._call("GET", f"/api/events/{ref}/proof", params=params))

    def consistency_proof(self, old_height: int, new_height: int | None = None) -> ConsistencyProof:
        """The service's consistency proof between two blocks."""
        params = {"old": old_height} | ({} if new_height is None else {"new": new_height})
        return ConsistencyProof.from_dict(self._call("GET", "/api/consistency", params=params))

    def verify(self, progress: ProgressCallback | None = None) -> VerifyReport:
        """The service's own whole-ledger audit (``GET /api/verify``), with a note saying so."""
        data = self._call("GET", "/api/verify")
        report = VerifyReport(**data)
        report.notes.append(f"reported by the service at {self.url}; check proofs offline to rely on it less")
        return report

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def __enter__(self) -> RemoteLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _event(data: dict[str, Any]) -> Event:
    """The event in a served document (which adds ``seq``, ``id`` and ``sealed``/``block``); its id is checked."""
    from ..errors import TamperDetected

    envelope = {k: v for k, v in data.items() if k not in ("seq", "id", "sealed", "block")}
    event = event_from_dict(envelope)
    if event.id != data.get("id"):
        raise TamperDetected(f"the service sent event {data.get('seq')} with id {data.get('id')}, but it is {event.id}")
    return event


def _stored(data: dict[str, Any], block_key: str) -> StoredEvent:
    return StoredEvent(data["seq"], _event(data), data.get(block_key))


__all__ = [
    "BadRequest",
    "BodyTooLarge",
    "Forbidden",
    "RateLimited",
    "RemoteLedger",
    "Unauthenticated",
    "UnsupportedMediaType",
    "error_from_problem",
]
