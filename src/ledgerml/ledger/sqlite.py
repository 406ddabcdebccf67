"""The embedded ledger: one SQLite file (WAL), an RFC 9162 Merkle log of events, validator-signed blocks.

Writers serialise on ``BEGIN IMMEDIATE``; each writer first catches up with rows other processes appended,
then runs the state machine, inserts, and seals blocks - all in one transaction, so a rejected event or
batch leaves file and memory unchanged. ``synchronous=normal`` (default) keeps every committed event
across a killed process; ``synchronous=full`` also across power loss.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import (
    AlreadyExists,
    ConfigError,
    InvalidProof,
    LedgerMLError,
    NotFound,
    RejectedEvent,
    StorageError,
    TamperDetected,
)
from ..events import Event, Payload, now_ms, parse_event, sign_event
from ..identity import Identity
from ..state import CheckpointEncoder, State, apply, check_clock, decode_state, encode_state, next_nonce
from ..types import Address
from ..vocab.core import LedgerCreated
from . import signatures
from .base import Capabilities, ProgressCallback, Receipt, StoredEvent, VerifyReport
from .blocks import BlockHeader
from .merkle import MerkleTree, leaf_hash
from .proofs import ConsistencyProof, InclusionProof
from .registry import LedgerURL, url_options
from .replay import collector_paused, fast_event
from .sealing import ChainCheck, seal_next

if TYPE_CHECKING:
    from ..consensus.sealer import PolicySealer

SCHEMA_VERSION = "1"
_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    """CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        actor TEXT NOT NULL,
        nonce INTEGER NOT NULL,
        time INTEGER NOT NULL,
        body BLOB NOT NULL,
        leaf_hash BLOB NOT NULL
    )""",
    "CREATE UNIQUE INDEX events_actor_nonce ON events (actor, nonce)",
    """CREATE TABLE blocks (
        height INTEGER PRIMARY KEY,
        hash BLOB NOT NULL UNIQUE,
        prev_hash BLOB NOT NULL,
        log_size INTEGER NOT NULL,
        log_root BLOB NOT NULL,
        time INTEGER NOT NULL,
        proposer TEXT NOT NULL,
        signature BLOB NOT NULL
    )""",
    "CREATE INDEX blocks_log_size ON blocks (log_size)",
)
_CHECKPOINTS = "CREATE TABLE IF NOT EXISTS checkpoints (log_size INTEGER PRIMARY KEY, state BLOB NOT NULL)"
CHECKPOINT_EVERY = 10_000
BACKGROUND_CHECKPOINT_ROWS = 20_000
"""States of at least this many rows are checkpointed by a background thread (encoding takes 0.1 s and more), so
that no write waits for it; smaller ones by the writer, once its transaction has committed."""
_BLOCK_COLUMNS = "height, hash, prev_hash, log_size, log_root, time, proposer, signature"
_SYNCHRONOUS = {"normal": "NORMAL", "full": "FULL", "off": "OFF"}
T = TypeVar("T")


def _read_event(body: bytes) -> Event:
    """A stored body as the event it holds: the checked fast parse verify uses, else ``parse_event`` (which raises
    the precise error)."""
    return fast_event(body) or parse_event(body)


class SqliteLedger:
    """A ledger in one SQLite file. Create with :meth:`create`, open with :meth:`open`."""

    capabilities = Capabilities(atomic_batches=True, seals_by_time=True, distributed=False, storage_check=False)

    def __init__(
        self,
        path: Path,
        conn: sqlite3.Connection,
        *,
        validator: Identity | None,
        block_size: int,
        block_interval: float,
    ) -> None:
        self.path = path
        self._conn = conn
        self._validator = validator
        self.block_size = block_size
        self.block_interval = block_interval
        self._lock = threading.RLock()
        self._state = State()
        self._state_size = 0
        self._tree = MerkleTree()
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("schema") != SCHEMA_VERSION:
            raise ConfigError(f"{path} is not a ledgerml ledger of schema {SCHEMA_VERSION} (meta: {meta})")
        self._ledger_id = str(meta["ledger_id"])
        self.checkpoint_every = CHECKPOINT_EVERY
        self._checkpoint_taken = 0
        self._checkpointer: threading.Thread | None = None
        self.sealer: PolicySealer | None = None
        """Cuts blocks once a signed ``SealingPolicySet`` is in force (created then; its clock is replaceable)."""
        conn.execute(_CHECKPOINTS)

    # -- opening ------------------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        *,
        admin: Identity,
        validator: Identity,
        name: str = "ledger",
        synchronous: str = "normal",
        block_size: int = 1000,
        block_interval: float = 5.0,
    ) -> SqliteLedger:
        """Create a ledger file with its genesis event (admin, validator) sealed in block 0."""
        target = Path(path)
        _check_options(synchronous, block_size, block_interval)
        if target.exists() and target.stat().st_size > 0:
            raise AlreadyExists(f"{target} exists already; open it instead")
        if not target.parent.is_dir():
            raise NotFound(f"folder {target.parent} does not exist")
        ledger_id = secrets.token_hex(16)
        genesis = sign_event(
            admin, ledger_id, LedgerCreated(name=name, admin=admin.address, validator=validator.address), 0
        )
        state = State()
        apply(state, genesis)  # validate before touching the disk
        conn = _connect(target, synchronous)
        try:
            conn.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [("schema", SCHEMA_VERSION), ("ledger_id", ledger_id), ("name", name)],
            )
            conn.execute("COMMIT")
            ledger = cls(target, conn, validator=validator, block_size=block_size, block_interval=block_interval)
            ledger.append(genesis)
            ledger.seal()
        except BaseException:
            conn.close()
            for suffix in ("", "-wal", "-shm"):
                Path(str(target) + suffix).unlink(missing_ok=True)
            raise
        return ledger

    @classmethod
    def open_url(cls, url: LedgerURL, *, validator: Identity | None, signers: Sequence[Identity] = ()) -> SqliteLedger:
        """``Ledger.open`` for ``sqlite:///PATH[?synchronous=full&block_size=N&block_interval=S]``."""
        return cls.open(url.path, validator=validator, **_url_options(url))

    @classmethod
    def create_url(cls, url: LedgerURL, *, admin: Identity, validator: Identity | None, name: str) -> SqliteLedger:
        """``Ledger.create`` for a SQLite URL: the file with its genesis event sealed in block 0."""
        return cls.create(url.path, admin=admin, validator=validator or admin, name=name, **_url_options(url))

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        validator: Identity | None = None,
        synchronous: str = "normal",
        block_size: int = 1000,
        block_interval: float = 5.0,
    ) -> SqliteLedger:
        """Open an existing ledger file; ``validator`` lets this process seal blocks."""
        target = Path(path)
        _check_options(synchronous, block_size, block_interval)
        if not target.is_file():
            raise NotFound(f"no ledger at {target}")
        try:
            conn = _connect(target, synchronous)
        except sqlite3.DatabaseError as exc:
            raise _open_error(target, exc) from None
        try:
            return cls(target, conn, validator=validator, block_size=block_size, block_interval=block_interval)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise _open_error(target, exc) from None
        except BaseException:
            conn.close()
            raise

    def close(self) -> None:
        """Close the database connection (after a checkpoint being stored in the background, if any)."""
        if self._checkpointer is not None:
            self._checkpointer.join()
        self._conn.close()

    def __enter__(self) -> SqliteLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def ledger_id(self) -> str:
        """The 32-hex-digit id every event of this ledger is signed for."""
        return self._ledger_id

    @property
    def validator(self) -> Identity | None:
        """The validator key this process signs blocks with, if any."""
        return self._validator

    # -- keeping memory in step with the file -------------------------------------------------------

    def _catch_up_tree(self) -> None:
        rows = self._conn.execute("SELECT seq, leaf_hash FROM events WHERE seq >= ? ORDER BY seq", (self._tree.size,))
        for seq, leaf in rows:
            if seq != self._tree.size:
                raise TamperDetected(f"event rows are not contiguous: expected seq {self._tree.size}, found {seq}")
            self._tree.append(_blob(leaf, "leaf_hash"))

    def _catch_up_state(self) -> None:
        if self._state_size == 0:
            self._load_checkpoint()
        rows = self._conn.execute("SELECT seq, body FROM events WHERE seq >= ? ORDER BY seq", (self._state_size,))
        for seq, body in rows:
            if seq != self._state_size:
                raise TamperDetected(f"event rows are not contiguous: expected seq {self._state_size}, found {seq}")
            try:
                apply(self._state, _read_event(_blob(body, "body")), check_signature=False)
            except RejectedEvent as exc:
                raise TamperDetected(f"stored event {seq} is rejected on replay ({exc}); run ledgerml verify") from None
            self._state_size += 1

    def _load_checkpoint(self) -> None:
        """Start from the newest state checkpoint instead of genesis (``verify`` never trusts it: it replays
        from genesis and checks the checkpoint against the result)."""
        row = self._conn.execute(
            "SELECT log_size, state FROM checkpoints WHERE log_size <= (SELECT COUNT(*) FROM events) "
            "ORDER BY log_size DESC LIMIT 1"
        ).fetchone()
        if row is not None:
            try:
                self._state = decode_state(_blob(row[1], "state"))
            except (ValueError, KeyError, TypeError) as exc:
                raise TamperDetected(
                    f"the state checkpoint at {row[0]} is unreadable ({exc}); run ledgerml verify"
                ) from None
            self._state_size = int(row[0])

    def _checkpoint_due(self) -> tuple[int, State] | None:
        """A copy of the state for a checkpoint, when ``checkpoint_every`` events have passed since the last one.

        Taken inside the write transaction, it costs one shallow copy of each table (values are immutable); the
        encoding, which takes seconds on a large state, happens after the commit and outside every lock."""
        last = self._conn.execute("SELECT COALESCE(MAX(log_size), 0) FROM checkpoints").fetchone()[0]
        if self._state_size - max(int(last), self._checkpoint_taken) < self.checkpoint_every:
            return None
        self._checkpoint_taken = self._state_size  # other writers do not take another while this one is encoded
        copy = State()
        copy.tables = {table: dict(rows) for table, rows in self._state.tables.items()}
        return self._state_size, copy

    def _write_checkpoint(self, due: tuple[int, State] | None) -> None:
        """Encode a state copy taken by :meth:`_checkpoint_due` (no lock held) and store it in its own short write
        transaction, replacing older checkpoints. A checkpoint is only a cache of the replay: if this process dies
        first, the next one replays from the previous checkpoint; if it cannot be stored, nothing is lost."""
        if due is None:
            return
        log_size, copy = due
        try:
            data = encode_state(copy)
        except TypeError:
            return  # a table holds a value checkpoints cannot encode: keep replaying from genesis
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                newer = self._conn.execute("SELECT 1 FROM checkpoints WHERE log_size >= ?", (log_size,)).fetchone()
                if newer is None:
                    self._conn.execute("INSERT INTO checkpoints (log_size, state) VALUES (?, ?)", (log_size, data))
                    self._conn.execute("DELETE FROM checkpoints WHERE log_size < ?", (log_size,))
                self._conn.execute("COMMIT")
            except sqlite3.Error:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")

    def _latest_block(self) -> BlockHeader | None:
        row = self._conn.execute(f"SELECT {_BLOCK_COLUMNS} FROM blocks ORDER BY height DESC LIMIT 1").fetchone()
        return None if row is None else self._block_from_row(row)

    def _block_from_row(self, row: Sequence[Any]) -> BlockHeader:
        height, _hash, prev_hash, log_size, log_root, block_time, proposer, signature = row
        return BlockHeader(
            self._ledger_id,
            height,
            _blob(prev_hash, "prev_hash"),
            log_size,
            _blob(log_root, "log_root"),
            block_time,
            Address(proposer),
            _blob(signature, "signature"),
        )

    def _read(self, work: Callable[[], T]) -> T:
        """Run ``work`` in one read transaction (a consistent snapshot of the file)."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                return work()
            finally:
                self._conn.execute("COMMIT")

    def _write(self, work: Callable[[], T]) -> T:
        """Run ``work`` in one write transaction after catching up; undo memory too if anything fails; then store a
        state checkpoint if one is due, outside the transaction and the lock."""
        result, due = self._write_locked(work)
        if due is not None and sum(map(len, due[1].tables.values())) >= BACKGROUND_CHECKPOINT_ROWS:
            if self._checkpointer is None or not self._checkpointer.is_alive():  # else skip this one: only a cache
                self._checkpointer = threading.Thread(target=self._write_checkpoint, args=(due,))  # exit waits
                self._checkpointer.start()
        else:
            self._write_checkpoint(due)
        return result

    def _write_locked(self, work: Callable[[], T]) -> tuple[T, tuple[int, State] | None]:
        """``work`` in one write transaction, and the state copy for a due checkpoint."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._catch_up_tree()
                self._catch_up_state()
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            tree_size, state_size = self._tree.size, self._state_size
            try:
                with self._state.atomic():
                    result = work()
                    self._seal_due_blocks()
                    due = self._checkpoint_due()
                    self._conn.execute("COMMIT")
                _fault_point(self._tree.size - tree_size)
                return result, due
            except BaseException as exc:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                self._tree.truncate(tree_size)
                self._state_size = state_size
                if _is_storage_failure(exc):
                    raise StorageError(f"cannot write {self.path}: {exc}; nothing was appended") from None
                raise

    # -- appending ----------------------------------------------------------------------------------

    def _insert(self, events: Sequence[Event], *, batch: bool) -> list[Receipt]:
        rows: list[tuple[Any, ...]] = []
        receipts = []
        now = now_ms()
        for index, event in enumerate(events):
            try:
                check_clock(event, now)
                apply(self._state, event)
            except RejectedEvent as exc:
                raise (exc.in_batch(index) if batch else exc) from None
            receipts.append(self._stage(event, rows))
        self._conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        return receipts

    def append(self, event: Event) -> Receipt:
        """Append one signed event, or raise the state machine's specific rejection (nothing changes)."""
        return self._write(lambda: self._insert([event], batch=False))[0]

    def append_batch(self, events: Sequence[Event]) -> list[Receipt]:
        """Append signed events all-or-nothing in one transaction; a rejection names the batch index."""
        events = list(events)
        if not events:
            return []
        return self._write(lambda: self._insert(events, batch=True))

    def append_many(self, events: Sequence[Event]) -> list[Receipt | Exception]:
        """Append independent signed events in ONE transaction (group commit), each judged on its own, in order:
        a rejected event's error stands in its place and leaves nothing behind; the others land. Returns once the
        transaction is committed; if the commit itself fails, it raises and none landed."""
        events = list(events)
        if not events:
            return []
        return self._write(lambda: self._insert_each(events))

    def _insert_each(self, events: Sequence[Event]) -> list[Receipt | Exception]:
        outcomes: list[Receipt | Exception] = []
        rows: list[tuple[Any, ...]] = []
        now = now_ms()
        for event in events:
            try:
                with self._state.atomic():  # a savepoint: this event's changes only
                    check_clock(event, now)
                    apply(self._state, event)
            except Exception as exc:  # its own outcome; the others still land
                outcomes.append(exc)
                continue
            outcomes.append(self._stage(event, rows))
        self._conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        return outcomes

    def _stage(self, event: Event, rows: list[tuple[Any, ...]]) -> Receipt:
        """An accepted event's leaf in the tree and its row for the insert; its receipt."""
        seq = self._tree.size
        leaf = leaf_hash(event.body)
        self._tree.append(leaf)
        self._state_size += 1
        rows.append((seq, event.id, event.kind, event.actor, event.nonce, event.time, event.body, leaf))
        return Receipt(seq, event.id)

    def submit(self, identity: Identity, payload: Payload) -> Receipt:
        """Sign ``payload`` as ``identity`` with its next nonce and append it (atomic across processes)."""
        return self.submit_batch(identity, [payload], _single=True)[0]

    def submit_batch(self, identity: Identity, payloads: Sequence[Payload], *, _single: bool = False) -> list[Receipt]:
        """Sign and append several payloads as ``identity``, all-or-nothing."""
        payloads = list(payloads)
        if not payloads:
            return []

        def work() -> list[Receipt]:
            first = next_nonce(self._state, identity.address)
            events = [
                sign_event(identity, self._ledger_id, payload, first + offset)
                for offset, payload in enumerate(payloads)
            ]
            return self._insert(events, batch=not _single)

        return self._write(work)

    def next_nonce(self, address: str) -> int:
        """The nonce ``address`` must sign its next event with."""
        return next_nonce(self.state(), address)

    def state(self) -> State:
        """The current state, caught up with the file. Treat it as read-only."""
        with self._lock:
            self._read(self._catch_up_state)
            return self._state

    @property
    def size(self) -> int:
        """Number of events in the log."""
        row = self._conn.execute("SELECT COALESCE(MAX(seq) + 1, 0) FROM events").fetchone()
        return int(row[0])

    # -- blocks -------------------------------------------------------------------------------------

    def _seal_upto(self, log_size: int) -> BlockHeader:
        header = seal_next(
            self._latest_block(),
            self._tree,
            log_size,
            validator=self._validator,
            state=self._state,
            ledger_id=self._ledger_id,
            now=now_ms(),
        )
        self._conn.execute(
            f"INSERT INTO blocks ({_BLOCK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                header.height,
                header.hash,
                header.prev_hash,
                header.log_size,
                header.log_root,
                header.time,
                header.proposer,
                header.signature,
            ),
        )
        return header

    def _policy_sealer(self) -> PolicySealer | None:
        """The sealer following the signed ``SealingPolicySet`` in force, or None (the URL's size and interval)."""
        from ..vocab.consensus import sealing_policy

        record = sealing_policy(self._state)
        if record is None:
            return None
        if self.sealer is None:
            from ..consensus.sealer import PolicySealer

            self.sealer = PolicySealer()
        self.sealer.adopt(record)
        return self.sealer

    def _seal_due_blocks(self) -> None:
        """Cut the blocks the signed sealing policy says are due; without one, blocks of ``block_size`` events,
        then one more if ``block_interval`` has passed."""
        last = self._latest_block() if self._validator is not None else None
        if last is None:
            return  # no validator key here, or the genesis block (create() seals it explicitly)
        sealer = self._policy_sealer()
        if sealer is not None:
            for log_size in sealer.cuts(last.log_size, self._tree.size, float(last.time)):
                self._seal_upto(log_size)
            return
        while self._tree.size - last.log_size >= self.block_size:
            last = self._seal_upto(last.log_size + self.block_size)
        if self._tree.size > last.log_size and now_ms() - last.time >= self.block_interval * 1000:
            self._seal_upto(self._tree.size)

    def seal(self) -> BlockHeader | None:
        """Seal every pending event now (in blocks of the signed policy's size cap, if one is in force); None if
        nothing is pending."""

        def work() -> BlockHeader | None:
            previous = self._latest_block()
            sealed = 0 if previous is None else previous.log_size
            sealer = self._policy_sealer() if previous is not None else None
            cap = self._tree.size if sealer is None else sealer.block_size
            while self._tree.size - sealed > cap:
                previous, sealed = self._seal_upto(sealed + cap), sealed + cap
            return self._seal_upto(self._tree.size) if self._tree.size > sealed else None

        return self._write(work)

    def seal_due(self) -> BlockHeader | None:
        """The signed sealing policy's timer: seal what it says is due now (see ``next_seal_ms``); the newest
        block if that sealed anything, else None."""
        before = self._read(self._latest_block)
        self._write(lambda: None)
        after = self._read(self._latest_block)
        return after if after is not None and (before is None or after.height > before.height) else None

    def next_seal_ms(self) -> float | None:
        """When (Unix ms, on ``sealer.clock``) the signed policy seals the pending events if nothing else
        arrives; None without a policy or with nothing pending."""
        return self._read(lambda: None if self.sealer is None else self.sealer.next_due_ms())

    def _block(self, height: int | None) -> BlockHeader:
        if height is None:
            latest = self._latest_block()
            if latest is None:
                raise NotFound("the ledger has no block yet")
            return latest
        row = self._conn.execute(
            f"SELECT {_BLOCK_COLUMNS} FROM blocks WHERE height = ?", (_index(height, "block height"),)
        ).fetchone()
        if row is None:
            raise NotFound(f"no block at height {height}")
        return self._block_from_row(row)

    def block(self, height: int | None = None) -> BlockHeader:
        """Block ``height`` (default: the latest)."""
        return self._read(lambda: self._block(height))

    def blocks(self, start: int = 0, stop: int | None = None) -> Iterator[BlockHeader]:
        """Blocks with ``start <= height < stop``, in order."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_BLOCK_COLUMNS} FROM blocks WHERE height >= ? AND height < ? ORDER BY height",
                _range(start, stop),
            ).fetchall()
        return (self._block_from_row(row) for row in rows)

    # -- reading events -----------------------------------------------------------------------------

    def _event_row(self, ref: int | str) -> tuple[int, bytes]:
        if isinstance(ref, int):
            row = self._conn.execute("SELECT seq, body FROM events WHERE seq = ?", (_index(ref, "event"),)).fetchone()
        else:
            text = ref if ref.startswith("sha256:") else "sha256:" + ref
            row = self._conn.execute("SELECT seq, body FROM events WHERE id = ?", (text,)).fetchone()
        if row is None:
            raise NotFound(f"no event {ref!r} in this ledger")
        return int(row[0]), _blob(row[1], "body")

    def _sealing_height(self, seq: int) -> int | None:
        row = self._conn.execute("SELECT MIN(height) FROM blocks WHERE log_size > ?", (seq,)).fetchone()
        return None if row[0] is None else int(row[0])

    def get_event(self, ref: int | str) -> StoredEvent:
        """An event by sequence number or id (``sha256:<hex>``)."""

        def work() -> StoredEvent:
            seq, body = self._event_row(ref)
            return StoredEvent(seq, _read_event(body), self._sealing_height(seq))

        return self._read(work)

    def events(self, start: int = 0, stop: int | None = None) -> Iterator[StoredEvent]:
        """Events with ``start <= seq < stop``, in log order (block heights not filled in)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, body FROM events WHERE seq >= ? AND seq < ? ORDER BY seq",
                _range(start, stop),
            ).fetchall()
        return (StoredEvent(int(seq), _read_event(_blob(body, "body")), None) for seq, body in rows)

    # -- proofs -------------------------------------------------------------------------------------

    def _tree_at(self, block: BlockHeader) -> MerkleTree:
        self._catch_up_tree()
        if self._tree.size < block.log_size:
            raise TamperDetected(f"block {block.height} commits to more events than the log holds")
        if self._tree.root(block.log_size) != block.log_root:
            raise TamperDetected(f"stored events do not match block {block.height}'s log root; run ledgerml verify")
        return self._tree

    def inclusion_proof(self, ref: int | str, height: int | None = None) -> InclusionProof:
        """Prove an event is in the log committed to by block ``height`` (default: the latest block)."""

        def work() -> InclusionProof:
            seq, body = self._event_row(ref)
            block = self._block(height)
            if seq >= block.log_size:
                raise InvalidProof(
                    f"event {seq} is not sealed by block {block.height} (log size {block.log_size}); "
                    "seal a later block first (ledgerml chain seal)"
                )
            tree = self._tree_at(block)
            return InclusionProof(body, seq, tree.inclusion_path(seq, block.log_size), block)

        return self._read(work)

    def consistency_proof(self, old_height: int, new_height: int | None = None) -> ConsistencyProof:
        """Prove block ``old_height``'s log is a prefix of block ``new_height``'s (default: latest)."""

        def work() -> ConsistencyProof:
            old, new = self._block(old_height), self._block(new_height)
            if old.height > new.height:
                raise InvalidProof(f"block {old.height} is not older than block {new.height}")
            tree = self._tree_at(new)
            if tree.root(old.log_size) != old.log_root:
                raise TamperDetected(f"stored events do not match block {old.height}'s log root")
            return ConsistencyProof(old, new, tree.consistency_proof(old.log_size, new.log_size))

        return self._read(work)

    # -- audit --------------------------------------------------------------------------------------

    def verify(self, progress: ProgressCallback | None = None) -> VerifyReport:
        """Audit the whole file: every row, signature, hash link, Merkle root, and a full state replay.

        Stops at the first problem and names its block or event. Reads one consistent snapshot.
        """
        try:
            return self._read(lambda: _audit(self._conn, self._ledger_id, progress))
        except sqlite3.DatabaseError as exc:  # a table or column missing or mangled: the file is damaged
            report = VerifyReport(ok=False)
            report.location, report.problem = "ledger file", f"its tables cannot be read: {exc}"
            return report


def _audit(conn: sqlite3.Connection, ledger_id: str, progress: ProgressCallback | None) -> VerifyReport:
    """Replay the whole file: rows, signatures, the state machine, checkpoints and the chain of headers."""
    with collector_paused():
        return _Audit(conn, ledger_id).run(progress)


class _Problem(Exception):
    """The first problem an audit finds: where, and what."""

    def __init__(self, location: str, problem: str) -> None:
        super().__init__(problem)
        self.location, self.problem = location, problem


class _Audit:
    """One audit of one consistent snapshot of a ledger file (see :meth:`SqliteLedger.verify`)."""

    def __init__(self, conn: sqlite3.Connection, ledger_id: str) -> None:
        self.conn, self.ledger_id = conn, ledger_id
        self.state, self.tree, self.chain = State(), MerkleTree(), ChainCheck(ledger_id)
        self.checkpoints = dict(conn.execute("SELECT log_size, state FROM checkpoints").fetchall())
        self.encoder = CheckpointEncoder()

    def run(self, progress: ProgressCallback | None) -> VerifyReport:
        """The report: the first problem, or the counts, the final state digest and notes."""
        report = VerifyReport(ok=True)
        try:
            self._check_meta()
            self._replay(progress)
        except _Problem as found:
            report.ok, report.location, report.problem = False, found.location, found.problem
            report.events_checked, report.blocks_checked = self.tree.size, self.chain.checked
            return report
        report.events_checked, report.blocks_checked = self.tree.size, self.chain.checked
        report.unsealed_events = self.tree.size - self.chain.sealed
        if report.unsealed_events:
            report.notes.append(f"{report.unsealed_events} newest event(s) are not sealed in a block yet")
        report.notes.append(
            "a single-authority ledger cannot show that newest unsealed or unanchored data was not dropped"
        )
        report.state_digest = self.state.digest()
        return report

    def _check_meta(self) -> None:
        meta = dict(self.conn.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("ledger_id") != self.ledger_id or meta.get("schema") != SCHEMA_VERSION:
            raise _Problem("meta", "ledger id or schema version changed")

    def _replay(self, progress: ProgressCallback | None) -> None:
        total = int(self.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
        blocks = iter(self.conn.execute(f"SELECT {_BLOCK_COLUMNS} FROM blocks ORDER BY height").fetchall())
        pending = next(blocks, None)
        rows = self.conn.execute("SELECT seq, id, kind, actor, nonce, time, body, leaf_hash FROM events ORDER BY seq")
        chunks = iter(lambda: rows.fetchmany(signatures.CHUNK), [])
        with closing(signatures.with_signers(chunks, signatures.verify_workers(total), 6)) as checked:
            for row, recovered in checked:
                self._replay_event(row, recovered)
                while pending is not None and pending[3] <= self.tree.size:
                    problem = self._check_block(pending)
                    if problem:
                        raise _Problem(f"block {pending[0]}", problem)
                    pending = next(blocks, None)
                if progress is not None and (self.tree.size % 2048 == 0 or self.tree.size == total):
                    progress(self.tree.size, total)
        if pending is not None:
            raise _Problem(f"block {pending[0]}", "block commits to more events than the log holds")
        if self.checkpoints:
            raise _Problem(f"checkpoint at {min(self.checkpoints)}", "a state checkpoint lies beyond the log")
        if self.tree.size == 0:
            raise _Problem("event 0", "the ledger holds no events (genesis missing)")

    def _replay_event(self, row: Sequence[Any], recovered: signatures.Recovered | None = None) -> None:
        seq, event_id, kind, actor, nonce, event_time, body, stored_leaf = row
        if not isinstance(seq, int) or seq != self.tree.size:
            raise _Problem(f"event {self.tree.size}", f"event row missing or out of order (next row has seq {seq})")
        try:
            body = body if type(body) is bytes else _blob(body, "body")
            event = _read_event(body)
            # signature first: an edited body shows up as a signature problem
            if recovered is not None and recovered[0] == event.digest and recovered[1] == event.signature:
                signatures.check_recovered(recovered, event.actor)
                apply(self.state, event, check_signature=False)
            else:
                apply(self.state, event)
            if (
                event_id != event.id
                or kind != event.kind
                or actor != event.actor
                or nonce != event.nonce
                or event_time != event.time
            ):
                raise _Problem(
                    f"event {seq}", "indexed columns (id/kind/actor/nonce/time) disagree with the event body"
                )
            leaf = leaf_hash(body)
            if (stored_leaf if type(stored_leaf) is bytes else _blob(stored_leaf, "leaf_hash")) != leaf:
                raise _Problem(f"event {seq}", "stored leaf hash does not match the event body")
        except LedgerMLError as exc:
            raise _Problem(f"event {seq}", f"{type(exc).__name__}: {exc}") from None
        if seq == 0 and event.ledger != self.ledger_id:
            raise _Problem(f"event {seq}", "genesis event belongs to another ledger")
        self.tree.append(leaf)
        stored = self.checkpoints.pop(self.tree.size, None) if self.checkpoints else None
        if stored is not None and _blob(stored, "state") != self.encoder.encode(self.state):
            raise _Problem(
                f"checkpoint at {self.tree.size}", "the stored state checkpoint differs from the replayed state"
            )

    def _check_block(self, row: Sequence[Any]) -> str | None:
        try:
            height, stored_hash, stored_prev, log_size, log_root, block_time, proposer, signature = row
            if not all(isinstance(v, int) for v in (height, log_size, block_time)) or not isinstance(proposer, str):
                return "block height, log size, time or proposer column has the wrong type"
            header = BlockHeader(
                self.ledger_id,
                height,
                _blob(stored_prev, "prev_hash"),
                log_size,
                _blob(log_root, "log_root"),
                block_time,
                Address(proposer),
                _blob(signature, "signature"),
            )
            return self.chain.check(header, self.tree, self.state, stored_hash=_blob(stored_hash, "hash"))
        except (LedgerMLError, TypeError, ValueError, OverflowError) as exc:
            return f"malformed block row: {exc}"


_LARGEST = 2**62


def _url_options(url: LedgerURL) -> dict[str, Any]:
    """Typed options of a SQLite ledger URL."""
    return url_options(url.options, ints=("block_size",), floats=("block_interval",), synchronous="text")


_STORAGE_WORDS = ("full", "disk", "i/o", "readonly", "unable to open", "locked")


def _open_error(target: Path, exc: sqlite3.DatabaseError) -> LedgerMLError:
    """Why a ledger file cannot be opened: the disk (``StorageError``) or the file itself (``ConfigError``)."""
    if _is_storage_failure(exc):
        return StorageError(f"cannot open {target}: {exc}")
    return ConfigError(f"{target} is not a ledger database: {exc}")


def _is_storage_failure(exc: BaseException) -> bool:
    """True for a write that failed for want of space, permission or the file (not for a damaged schema)."""
    if isinstance(exc, LedgerMLError):
        return False
    if isinstance(exc, OSError):
        return True
    return isinstance(exc, sqlite3.OperationalError) and any(w in str(exc).lower() for w in _STORAGE_WORDS)


def _index(value: int, what: str) -> int:
    """A sequence number or height inside SQLite's INTEGER range, else ``NotFound`` (no such row can exist)."""
    if not 0 <= value <= _LARGEST:
        raise NotFound(f"no {what} {value}: sequence numbers and heights run from 0")
    return value


def _range(start: int, stop: int | None) -> tuple[int, int]:
    """``(start, stop)`` clamped into SQLite's INTEGER range (a query outside it finds nothing)."""
    return max(0, min(start, _LARGEST)), _LARGEST if stop is None else max(0, min(stop, _LARGEST))


_KILL_AFTER = "LEDGERML_TEST_KILL_AFTER_EVENTS"
_committed_in_process = 0


def _fault_point(appended: int) -> None:
    """Test hook: with ``LEDGERML_TEST_KILL_AFTER_EVENTS=K`` the process SIGKILLs itself once it has committed
    K events (the fault suite kills a run at every event boundary this way). Unset, it does nothing."""
    global _committed_in_process
    limit = os.environ.get(_KILL_AFTER)
    if not limit or appended <= 0:
        return
    _committed_in_process += appended
    if _committed_in_process >= int(limit):
        os.kill(os.getpid(), 9)


def _blob(value: object, column: str) -> bytes:
    """A BLOB column's bytes; text is taken as UTF-8 (same content), anything else is tampering."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TamperDetected(f"column {column} holds {type(value).__name__}, not bytes")


def _connect(path: Path, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, timeout=60.0, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 60000")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        conn.close()
        raise ConfigError(f"cannot put {path} in WAL mode (got {mode})")
    conn.execute(f"PRAGMA synchronous = {_SYNCHRONOUS[synchronous]}")
    return conn


def _check_options(synchronous: str, block_size: int, block_interval: float) -> None:
    if synchronous not in _SYNCHRONOUS:
        raise ConfigError(f"synchronous must be one of {sorted(_SYNCHRONOUS)}, got {synchronous!r}")
    if block_size < 1:
        raise ConfigError("block_size must be at least 1")
    if block_interval < 0:
        raise ConfigError("block_interval must not be negative")
