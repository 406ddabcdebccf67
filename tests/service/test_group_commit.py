"""Group commit of single-event posts: events posted together share one transaction, each is judged on its own
(a bad one fails alone), order and nonces hold, and the fast write path answers as the declared route does."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from ledgerml.errors import NonceGap, SignerMismatch, StorageError
from ledgerml.events import Event, sign_event
from ledgerml.ledger.base import Receipt
from ledgerml.service.app import create_app
from ledgerml.service.groupcommit import GroupCommit
from ledgerml.service.writepath import EventPosts
from ledgerml.vocab.core import DatasetRegistered

from .._cli import event_count
from .conftest import Demo

GOOD = ("st-mary", "north-general", "lakeview", "hillcrest")


def _signed(demo: Demo, name: str, offset: int = 0, ledger_id: str | None = None) -> dict[str, Any]:
    identity = demo.home.identity(name)
    with demo.home.open_ledger(as_validator=False) as ledger:
        nonce, own_id = ledger.next_nonce(identity.address), ledger.ledger_id
    payload = DatasetRegistered(dataset_id="sha256:" + secrets.token_hex(32), name=f"{name} cohort")
    return sign_event(identity, ledger_id or own_id, payload, nonce + offset).to_dict()


def _unknown_kind(demo: Demo) -> dict[str, Any]:
    template = _signed(demo, "auditor")
    fields = {k: template[k] for k in ("ledger", "actor", "nonce", "time", "payload")}
    signature = demo.home.identity("auditor").sign_digest(Event(kind="NoSuchKind", **fields).digest)
    return Event(kind="NoSuchKind", signature=signature, **fields).to_dict()


def _wave(demo: Demo) -> list[tuple[dict[str, Any], int, str | None]]:
    """Good events (one per data owner) among bad ones whose verdict does not depend on their order."""
    forged = _signed(demo, "st-mary", offset=1)
    forged["payload"]["name"] = "changed after signing"
    return [
        (_signed(demo, GOOD[0]), 201, None),
        (forged, 422, "SignerMismatch"),
        (_signed(demo, GOOD[1]), 201, None),
        (_signed(demo, "north-general", offset=7), 409, "NonceGap"),
        (_signed(demo, GOOD[2]), 201, None),
        (_signed(demo, "lakeview", ledger_id="ab" * 16), 422, "WrongLedger"),
        (_unknown_kind(demo), 422, "UnknownEventKind"),
        (_signed(demo, GOOD[3]), 201, None),
    ]


def _hold(lock: Any, release: threading.Event, held: threading.Event) -> None:
    with lock:
        held.set()
        release.wait(30)


async def _post_together(app: Any, events: list[dict[str, Any]]) -> list[httpx.Response]:
    """Post ``events`` concurrently while the ledger's writer is held, so they queue and commit as a group."""
    service = app.state.service
    release, held = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold, args=(service.ledger._lock, release, held))
    holder.start()
    held.wait(30)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        posts = [asyncio.ensure_future(client.post("/api/events", json=e)) for e in events]
        deadline = time.monotonic() + 30
        queued = service.appends._pending.qsize
        while queued() + service.appends.stats.events < len(events) and time.monotonic() < deadline:
            await asyncio.sleep(0.005)  # every post queued, or taken by the writer (which waits for the lock)
        release.set()
        answers = await asyncio.gather(*posts)
    holder.join()
    return answers


def test_concurrent_posts_land_together_and_bad_ones_fail_alone(demo: Demo) -> None:
    # Prepare
    wave = _wave(demo)
    before = event_count(demo.home.path)
    with TestClient(create_app(demo.home)) as client:
        app: Any = client.app
        # Execute
        answers = asyncio.run(_post_together(app, [event for event, _, _ in wave]))
        stats = app.state.service.appends.stats
    # Assert: each post its own verdict; the good ones stored at their receipts' seq; a group formed
    assert [(a.status_code, a.json().get("error")) for a in answers] == [(s, e) for _, s, e in wave]
    assert all(a.headers["content-type"] == "application/problem+json" for a in answers if a.status_code != 201)
    with demo.home.open_ledger(as_validator=False) as ledger:
        for (event, status, _), answer in zip(wave, answers, strict=True):
            if status == 201:
                assert ledger.get_event(answer.json()["seq"]).event.to_dict() == event
        assert ledger.size == before + len(GOOD) and ledger.verify().ok
    assert stats.events == len(wave) and stats.groups <= 2  # what the writer took first, then all the rest


class _Ledger:
    """A ledger stand-in whose ``append_many`` records its groups; the first call waits for ``go``."""

    def __init__(self, fail: BaseException | None = None) -> None:
        self.groups: list[list[int]] = []
        self.go, self.entered, self.fail = threading.Event(), threading.Event(), fail

    def append_many(self, events: list[Any]) -> list[Receipt | Exception]:
        if not self.groups:
            self.entered.set()
            self.go.wait(30)
        self.groups.append([e.nonce for e in events])
        if self.fail is not None:
            raise self.fail
        return [NonceGap(f"gap {e.nonce}") if e.nonce % 3 == 2 else Receipt(e.nonce, f"id{e.nonce}") for e in events]


class _Event:
    def __init__(self, nonce: int) -> None:
        self.nonce = nonce


async def _appends(commit: GroupCommit, ledger: _Ledger, count: int) -> list[Any]:
    first = asyncio.ensure_future(commit.append(_Event(0)))  # type: ignore[arg-type]
    while not ledger.entered.is_set():
        await asyncio.sleep(0.001)  # the writer took it and waits in append_many
    rest = [asyncio.ensure_future(commit.append(_Event(i))) for i in range(1, count)]  # type: ignore[arg-type]
    await asyncio.sleep(0.01)
    ledger.go.set()
    return await asyncio.gather(first, *rest, return_exceptions=True)


def test_what_arrives_during_a_commit_is_the_next_group_in_order_each_with_its_own_outcome() -> None:
    ledger = _Ledger()
    commit = GroupCommit(ledger)
    outcomes = asyncio.run(_appends(commit, ledger, 7))
    commit.close()
    assert ledger.groups == [[0], [1, 2, 3, 4, 5, 6]]
    assert [type(o).__name__ for o in outcomes] == ["Receipt", "Receipt", "NonceGap"] * 2 + ["Receipt"]
    assert [o.seq for o in outcomes if isinstance(o, Receipt)] == [0, 1, 3, 4, 6]


def test_a_failed_transaction_answers_every_caller_of_its_group() -> None:
    ledger = _Ledger(fail=StorageError("disk full; nothing was appended"))
    commit = GroupCommit(ledger)
    outcomes = asyncio.run(_appends(commit, ledger, 4))
    commit.close()
    assert all(isinstance(o, StorageError) for o in outcomes) and len(outcomes) == 4


def test_a_closed_group_commit_refuses_and_a_ledger_without_append_many_goes_one_by_one() -> None:
    class OneByOne:
        def append(self, event: Any) -> Receipt:
            if event.nonce == 1:
                raise SignerMismatch("forged")
            return Receipt(event.nonce, "id")

    single = GroupCommit(OneByOne())
    results = asyncio.run(_gather(single, 3))
    assert [type(r).__name__ for r in results] == ["Receipt", "SignerMismatch", "Receipt"] and not single.grouped
    closed = GroupCommit(_Ledger())
    closed.close()
    with pytest.raises(StorageError):
        asyncio.run(closed.append(_Event(0)))  # type: ignore[arg-type]


async def _gather(commit: GroupCommit, count: int) -> list[Any]:
    return await asyncio.gather(*(commit.append(_Event(i)) for i in range(count)), return_exceptions=True)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def twin_clients(demo: Demo) -> Iterator[tuple[TestClient, TestClient]]:
    """The service, and the same service without the fast write path (the declared FastAPI route answers)."""
    plain = create_app(demo.home)
    plain.user_middleware = [m for m in plain.user_middleware if m.cls is not EventPosts]
    with TestClient(create_app(demo.home)) as fast, TestClient(plain) as routed:
        yield fast, routed


CASES = {
    "malformed JSON": {"content": b'{"v": 1,', "headers": {"content-type": "application/json"}},
    "wrong content type": {"content": b"{}", "headers": {"content-type": "text/plain"}},
    "oversized": {"content": b" " * (70 * 1024), "headers": {"content-type": "application/json"}},
    "not an event": {"json": [1, 2]},
    "unknown token": {"json": {}, "headers": {"authorization": "Bearer lml_nope"}},
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_fast_path_answers_as_the_declared_route(twin_clients: tuple[TestClient, TestClient], case: str) -> None:
    fast, routed = twin_clients
    answers = [c.post("/api/events", **{**CASES[case]}) for c in (fast, routed)]
    assert answers[0].status_code == answers[1].status_code and answers[0].status_code >= 400
    assert answers[0].json() == answers[1].json()
    assert answers[0].headers.get("www-authenticate") == answers[1].headers.get("www-authenticate")


def test_the_declared_route_appends_too(twin_clients: tuple[TestClient, TestClient], demo: Demo) -> None:
    _, routed = twin_clients
    event = _signed(demo, "st-mary")
    answer = routed.post("/api/events", json=event)
    assert answer.status_code == 201 and answer.json()["id"] == Event(**_fields(event)).id


def _fields(data: dict[str, Any]) -> dict[str, Any]:
    fields = {k: data[k] for k in ("ledger", "kind", "actor", "nonce", "time", "payload")}
    return {**fields, "signature": bytes.fromhex(data["signature"][2:])}


def test_a_client_gone_before_its_body_is_complete_gets_no_answer_and_appends_nothing(demo: Demo) -> None:
    app = create_app(demo.home)
    sent: list[Any] = []
    messages = [{"type": "http.disconnect"}, {"type": "http.request", "body": b'{"v"', "more_body": True}]

    async def receive() -> Any:
        return messages.pop()

    async def send(message: Any) -> None:
        sent.append(message)

    headers = [(b"content-type", b"application/json")]
    scope = {"type": "http", "method": "POST", "path": "/api/events", "headers": headers, "client": ("127.0.0.1", 1)}
    before = event_count(demo.home.path)
    asyncio.run(EventPosts(app, app.state.service)(scope, receive, send))
    app.state.service.close()
    assert sent == [] and event_count(demo.home.path) == before
