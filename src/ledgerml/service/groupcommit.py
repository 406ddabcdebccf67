"""Group commit: single events posted together are appended in one ledger transaction, each judged on its own."""

from __future__ import annotations

import asyncio
import queue
import threading
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from ..errors import StorageError
from ..events import Event
from ..ledger.base import Receipt

MAX_GROUP = 256
"""Most events one transaction takes (later arrivals wait for the next one)."""


@dataclass
class GroupStats:
    """How many transactions the writer ran, how many events they judged, and the largest group."""

    groups: int = 0
    events: int = 0
    largest: int = 0

    def add(self, size: int) -> None:
        """Count one transaction of ``size`` events."""
        self.groups, self.events, self.largest = self.groups + 1, self.events + size, max(self.largest, size)


def take_group(pending: queue.SimpleQueue[Any], first: Any, limit: int) -> tuple[list[Any], bool]:
    """``first`` and whatever else is already waiting in ``pending``, up to ``limit`` items; and whether the stop
    mark (``None``) was met."""
    group = [first]
    while len(group) < limit:
        try:
            item = pending.get_nowait()
        except queue.Empty:
            return group, False
        if item is None:
            return group, True
        group.append(item)
    return group, False


Waiter = tuple[Event, asyncio.AbstractEventLoop, "asyncio.Future[Receipt]"]
"""A queued event, the event loop its caller waits on, and the future the caller awaits."""


def settle(pairs: list[tuple[asyncio.Future[Receipt], Receipt | BaseException]]) -> None:
    """Resolve each still-waiting future with its outcome (run on the futures' loop)."""
    for future, outcome in pairs:
        if future.done():  # the caller went away
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


class GroupCommit:
    """One writer thread over ``ledger.append_many``: what arrives while a transaction commits goes into the next
    one, and each caller is answered with its own receipt or rejection once that transaction is durable (one
    wake-up of the caller's event loop per transaction). A ledger without ``append_many`` (EVM) appends each event
    on its own in the thread pool, as before."""

    def __init__(self, ledger: Any, max_group: int = MAX_GROUP) -> None:
        self.ledger, self.max_group = ledger, max_group
        self.grouped = callable(getattr(ledger, "append_many", None))
        self.stats = GroupStats()
        self._pending: queue.SimpleQueue[Waiter | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._lock = threading.Lock()

    async def append(self, event: Event) -> Receipt:
        """Append ``event`` (with others that arrive meanwhile); its receipt, or its own rejection raised."""
        if not self.grouped:
            from starlette.concurrency import run_in_threadpool

            receipt: Receipt = await run_in_threadpool(self.ledger.append, event)
            return receipt
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Receipt] = loop.create_future()
        with self._lock:
            if self._closed:
                raise StorageError("the service is stopping; nothing was appended")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ledgerml-group-commit", daemon=True)
                self._thread.start()
            self._pending.put((event, loop, future))
        return await future

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._pending.get()
            if first is None:
                return
            group, stop = take_group(self._pending, first, self.max_group)
            self._commit(group)

    def _commit(self, group: list[Waiter]) -> None:
        """One transaction for the group; then each caller's loop is woken once with its callers' outcomes."""
        self.stats.add(len(group))
        outcomes: list[Receipt | BaseException]
        try:
            outcomes = list(self.ledger.append_many([event for event, _, _ in group]))
        except BaseException as exc:  # the transaction failed: none landed, every caller hears why
            outcomes = [exc] * len(group)
            if not isinstance(exc, Exception):
                self._answer(group, outcomes)
                raise
        self._answer(group, outcomes)

    @staticmethod
    def _answer(group: list[Waiter], outcomes: list[Receipt | BaseException]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Receipt], Receipt | BaseException]]] = {}
        for (_, loop, future), outcome in zip(group, outcomes, strict=True):
            by_loop.setdefault(loop, []).append((future, outcome))
        for loop, pairs in by_loop.items():
            with suppress(RuntimeError):  # a closed loop: nobody is waiting there any more
                loop.call_soon_threadsafe(settle, pairs)

    def close(self) -> None:
        """Finish what is queued, then stop the writer thread (before the ledger is closed)."""
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
        if thread is not None:
            self._pending.put(None)
            thread.join()


__all__ = ["MAX_GROUP", "GroupCommit", "GroupStats", "settle", "take_group"]
