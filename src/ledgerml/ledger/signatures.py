"""Signature recovery of stored event bodies in worker processes, for audits on more than one core.

Recovery is the audit's largest cost and needs nothing but the body, so workers recover chunks of bodies ahead
of the replay while the state machine runs sequentially in the auditing process. A worker reads the digest
and signature straight from the canonical body (the envelope's ``"signature"`` is its last string field); the
auditor uses a worker's answer only when that digest and signature equal what its own ``parse_event`` found,
and raises exactly the error a sequential ``apply`` would. The results are the same with any worker count.
Workers are forked (a spawned worker would re-import the caller's main script), so only where ``fork`` exists
and no other thread runs; elsewhere the audit runs in one process.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

from ..errors import InvalidSignature, SignerMismatch

MARK = b',"signature":"0x'
CHUNK = 2048
"""Bodies per task sent to a worker."""
PARALLEL_MIN_EVENTS = 20_000
"""Smaller ledgers are checked in one process: starting workers costs more than it saves."""
MAX_WORKERS = 8

Recovered = tuple[bytes, bytes, str]
"""``(digest, signature, address)``, or ``(digest, signature, "!" + reason)`` when recovery failed."""
Row = TypeVar("Row", bound=Sequence[Any])


def split_body(body: bytes) -> tuple[bytes, bytes] | None:
    """``(digest, signature)`` of a canonical event body, or None if it has no well-formed signature field."""
    cut = body.rfind(MARK)
    end = cut + len(MARK) + 130
    if cut < 0 or body[end : end + 1] != b'"':
        return None
    try:
        signature = bytes.fromhex(body[cut + len(MARK) : end].decode("ascii"))
    except ValueError:
        return None
    return hashlib.sha256(body[:cut] + body[end + 1 :]).digest(), signature


def recover_bodies(bodies: Sequence[bytes]) -> list[Recovered | None]:
    """Recover the signer of each body (run in a worker; ``None`` where the body has no signature field)."""
    from ..identity import recover_signer

    out: list[Recovered | None] = []
    for body in bodies:
        parts = split_body(body)
        if parts is None:
            out.append(None)
            continue
        digest, signature = parts
        try:
            out.append((digest, signature, str(recover_signer(digest, signature))))
        except InvalidSignature as exc:
            out.append((digest, signature, "!" + str(exc)))
    return out


def check_recovered(recovered: Recovered, actor: str) -> None:
    """Raise what ``state.check_envelope`` raises for this signature: ``InvalidSignature`` or ``SignerMismatch``."""
    signer = recovered[2]
    if signer.startswith("!"):
        raise InvalidSignature(signer[1:])
    if signer != actor:
        raise SignerMismatch(f"event says actor {actor} but was signed by {signer}")


def verify_workers(events: int) -> int:
    """Worker processes for an audit of ``events`` events: none below ``PARALLEL_MIN_EVENTS``, on one CPU, where
    processes cannot be forked, or while other threads run (forking them is unsafe); else one per CPU but the
    auditor's (at most ``MAX_WORKERS``). ``LEDGERML_VERIFY_WORKERS`` overrides the count."""
    if "fork" not in multiprocessing.get_all_start_methods() or threading.active_count() > 1:
        return 0
    asked = os.environ.get("LEDGERML_VERIFY_WORKERS", "")
    if asked.isdigit():
        return min(int(asked), MAX_WORKERS)
    if events < PARALLEL_MIN_EVENTS:
        return 0
    return max(0, min(len(os.sched_getaffinity(0)) - 1, MAX_WORKERS))


def with_signers(
    chunks: Iterable[list[Row]], workers: int, body_column: int
) -> Generator[tuple[Row, Recovered | None], None, None]:
    """Each row with its body's recovered signer (``None``: recover in the caller), chunks recovered ahead by
    ``workers`` processes, in row order; with no workers every row gets ``None``."""
    if workers <= 0:
        for chunk in chunks:
            yield from ((row, None) for row in chunk)
        return
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        ahead: deque[tuple[list[Row], Future[list[Recovered | None]]]] = deque()
        source = iter(chunks)
        for chunk in source:
            ahead.append((chunk, pool.submit(recover_bodies, [_bytes(row[body_column]) for row in chunk])))
            if len(ahead) > 2 * workers:
                yield from _drain(ahead.popleft())
        while ahead:
            yield from _drain(ahead.popleft())


def _drain(item: tuple[list[Row], Future[list[Recovered | None]]]) -> Iterator[tuple[Row, Recovered | None]]:
    chunk, future = item
    yield from zip(chunk, future.result(), strict=True)


def _bytes(value: Any) -> bytes:
    """A body column as bytes (a damaged row may hold text or a number: the auditor reports it)."""
    return bytes(value) if isinstance(value, bytes | bytearray | memoryview) else b""
