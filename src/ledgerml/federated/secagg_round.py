"""The aggregator's side of a secure round, without Flower: take each stage's signed replies, route sealed
shares, unmask the sum of the survivors' masked inputs, and finalize. It never sees one update in the clear.

Transport (Flower's Message API) lives in ``secagg_flower``; the auditor's replay of the same arithmetic is
``secagg_audit``. Every stage's event is appended by the state machine's rules (``vocab.secagg``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._canonical import canonical_json
from .._json import loads_bounded
from ..errors import LedgerMLError, RejectedEvent
from ..events import event_from_dict
from ..ml.serialization import Weights, flatten, to_bytes, unflatten
from ..types import Address
from ..vocab.secagg import SecAggRecord, SecAggUnmasked, secagg_records
from ..vocab.tasks import Rejection, RoundFinalized, commits
from .coordinator import Reply, RoundOutcome, TaskCoordinator, _as_participant, _describe, _dp_metrics, _evaluation
from .secure import protocol, quantize

KEYS, SHARES, UNMASK = "secagg-keys", "secagg-shares", "secagg-unmask"
"""The control steps of a secure round (the masked input travels as the round's train reply)."""
MAX_DOC_BYTES = 8 * 1024 * 1024
"""Largest share bundle or reveal document one participant may send."""


def settings_of(coordinator: TaskCoordinator) -> dict[str, Any]:
    """The task's secure-aggregation settings, with the clip bound of its rule."""
    settings = dict(coordinator.record.secure_settings())
    settings.setdefault("clip", float(coordinator.record.params().get("clip", 1.0)))  # type: ignore[arg-type]
    return settings


def masked_bytes(vector: np.ndarray) -> bytes:
    """A masked (or plain) uint64 vector as little-endian bytes."""
    return np.asarray(vector, dtype="<u8").tobytes()


def masked_vector(data: bytes, length: int) -> np.ndarray:
    """A uint64 vector of ``length`` words from its bytes; ``ValueError`` on a wrong size."""
    if len(data) != 8 * length:
        raise ValueError(f"a masked input of this model is {8 * length} bytes, got {len(data)}")
    return np.frombuffer(data, dtype="<u8").astype(np.uint64)


def plaintext_commitment(salt: bytes, encoded: np.ndarray) -> str:
    """The salted hash a client commits to its plaintext quantized input with."""
    return "sha256:" + hashlib.sha256(salt + masked_bytes(encoded)).hexdigest()


def parse_doc(data: bytes | str, what: str) -> Any:
    """A protocol document (share bundle, reveal, unmask, opening) parsed within bounds."""
    return loads_bounded(data, what=what, max_bytes=MAX_DOC_BYTES, max_depth=4)


@dataclass
class SecureRound:
    """What the aggregator learned in one secure round so far."""

    coordinator: TaskCoordinator
    round: int
    keys: dict[str, dict[str, str]] = field(default_factory=dict)
    bundles: dict[str, dict[str, str]] = field(default_factory=dict)
    invalid: list[tuple[str, str]] = field(default_factory=list)

    @property
    def context(self) -> bytes:
        """The round's binding context."""
        c = self.coordinator
        return protocol.context_bytes(c.ledger.ledger_id, c.task_id, self.round)

    def _parse(self, node: str, raw: Any, kind: str, who: str | None, **expected: Any) -> Any:
        """One participant's stage event, checked (its payload must hold ``expected``); None (and an invalid
        entry) if it is not the event this stage needs."""
        try:
            event = event_from_dict(raw)
            payload = event.payload
            if event.kind != kind or payload.get("task_id") != self.coordinator.task_id:
                raise ValueError(f"expected a {kind} for task {self.coordinator.task_id!r}")
            if payload.get("round") != self.round or (who is not None and event.actor != who):
                raise ValueError(f"the {kind} is not this node's, for round {self.round}")
            for name, value in expected.items():
                if payload.get(name) != value:
                    raise ValueError(f"the {kind}'s {name} is not what arrived ({str(value)[:80]})")
            return event
        except (LedgerMLError, ValueError, TypeError, KeyError) as exc:
            self.invalid.append((who or node, f"{kind} refused: {_describe(exc)}"[:512]))
            return None

    def _commit(self, events: list[Any]) -> list[Any]:
        """Append a stage's events (one batch when the ledger's batches are atomic, else one by one); the
        appended ones; each refused one is an invalid entry."""
        refused = self.coordinator._append_commitments(events)
        for actor, reason in sorted(refused.items()):
            self.invalid.append((actor, reason.replace("commitment refused", "secure-aggregation event refused")))
        return [e for e in events if e.actor not in refused]

    def take_keys(self, replies: list[tuple[str, str | None, Any]]) -> None:
        """Append each node's ``SecAggKeys``; the advertisers form the round's key list."""
        parsed = [self._parse(node, raw, "SecAggKeys", who) for node, who, raw in sorted(replies, key=lambda r: r[0])]
        for event in self._commit([e for e in parsed if e is not None]):
            self.keys[event.actor] = {"cipher_key": event.payload["cipher_key"], "mask_key": event.payload["mask_key"]}

    def _take_documents(
        self, replies: list[tuple[str, str | None, Any, bytes]], kind: str, field: str, what: str, check: Any
    ) -> dict[str, Any]:
        """Store each node's document ``what`` (``check(doc)`` names a wrong shape) and append its ``kind`` event
        naming the stored digest as ``field``; the documents of the events appended, by actor."""
        docs, events = {}, []
        for node, who, raw, data in sorted(replies, key=lambda r: r[0]):
            try:
                doc = parse_doc(data, what)
                if (problem := check(doc)) is not None:
                    raise ValueError(problem)
                digest = str(self.coordinator.store.put(canonical_json(doc)))
            except (LedgerMLError, ValueError, TypeError) as exc:
                self.invalid.append((who or node, f"{kind} refused: {_describe(exc)}"[:512]))
                continue
            event = self._parse(node, raw, kind, who, **{field: digest})
            if event is not None:
                docs[event.actor] = doc
                events.append(event)
        return {e.actor: docs[e.actor] for e in self._commit(events)}

    def take_shares(self, replies: list[tuple[str, str | None, Any, bytes]]) -> None:
        """Store each node's sealed bundles, check they match its ``SecAggShares``, and append it."""

        def check(doc: Any) -> str | None:
            if not isinstance(doc, dict) or sorted(doc) != sorted(self.keys):
                return "the bundle must seal one share set for every advertiser"
            return None

        for actor, doc in self._take_documents(replies, "SecAggShares", "shares_digest", "share bundle", check).items():
            self.bundles[actor] = {str(k): str(v) for k, v in doc.items()}

    def inbox(self, participant: str) -> dict[str, str]:
        """The sealed bundles every sharer made for ``participant`` (sender -> hex)."""
        return {sender: bundle[participant] for sender, bundle in sorted(self.bundles.items())}

    def sharers(self) -> list[str]:
        """Participants whose shares were recorded."""
        return sorted(self.bundles)

    def take_inputs(self, replies: list[Reply], inputs: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        """Commit the masked inputs (``UpdateCommitted``, as any round), then append each committed sharer's
        ``SecAggInput`` (``inputs`` by node); the survivors' masked vectors and every other committed
        participant's rejection reason."""
        c = self.coordinator
        invalid, mismatches, received = c._accept_commitments(self.round, replies)
        self.invalid.extend(invalid)
        length = len(flatten(c.global_weights())) + 1
        node_of = {r.event.get("actor") if isinstance(r.event, dict) else None: r.node for r in replies}
        vectors: dict[str, np.ndarray] = {}
        rejected: dict[str, str] = {}
        events = []
        for who, commit in sorted(commits(c.ledger.state(), c.task_id, self.round).items()):
            try:
                if who in mismatches or who not in self.bundles:
                    raise ValueError(mismatches.get(who, "shared no secrets this round"))
                vectors[who] = masked_vector(
                    received.get(commit.update_digest) or c.store.get(commit.update_digest), length
                )
                weight = min(commit.num_examples, quantize.MAX_WEIGHT)
                node = node_of.get(who, who)
                event = self._parse(
                    node, inputs.get(node), "SecAggInput", who, masked_digest=commit.update_digest, weight=weight
                )
                if event is None:
                    raise ValueError(self.invalid.pop()[1])
                events.append(event)
            except (LedgerMLError, ValueError) as exc:
                rejected[who] = f"masked input unusable: {exc}"[:512]
        appended = {e.actor for e in self._commit(events)}
        for event in events:
            if event.actor not in appended:
                rejected[event.actor] = f"masked input unusable: {self.invalid.pop()[1]}"[:512]
        survivors = {who: vectors[who] for who in sorted(appended)}
        return survivors, rejected

    def take_reveals(self, replies: list[tuple[str, str | None, Any, bytes]]) -> dict[str, dict[str, Any]]:
        """Store each survivor's revealed shares and append its ``SecAggReveal``; the documents by revealer."""

        def check(doc: Any) -> str | None:
            return None if isinstance(doc, dict) else "a reveal is a table of shares by participant"

        found: dict[str, dict[str, Any]]
        found = self._take_documents(replies, "SecAggReveal", "reveal_digest", "reveal", check)
        return found


def reveal_doc(shares: dict[str, dict[str, int]]) -> dict[str, dict[str, Any]]:
    """A client's revealed shares as a JSON document (share values as hex)."""
    from .secure import shamir

    return {
        name: {"x": share["x"], **{k: shamir.encode(v).hex() for k, v in share.items() if k in ("b", "s")}}
        for name, share in shares.items()
    }


def _revealed(docs: dict[str, dict[str, Any]], name: str, part: str) -> dict[str, dict[str, dict[str, int]]]:
    from .secure import shamir

    found: dict[str, dict[str, dict[str, int]]] = {}
    for revealer, doc in docs.items():
        entry = doc.get(name) if isinstance(doc, dict) else None
        if isinstance(entry, dict) and part in entry and type(entry.get("x")) is int:
            found[revealer] = {name: {"x": entry["x"], part: shamir.decode(bytes.fromhex(str(entry[part])))}}
    return found


def reconstruct_secrets(
    docs: dict[str, dict[str, Any]], survivors: list[str], dropped: list[str], records: dict[str, Any], t: int
) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """The survivors' self-mask seeds and the dropped clients' mask keys from the revealed shares, each checked
    against what its owner recorded (seed hash, advertised key); ``ValueError`` names the first failure."""
    from .secure import keys

    for revealer, doc in docs.items():
        if any(isinstance(doc.get(n), dict) and "s" in doc[n] for n in survivors) or any(
            isinstance(doc.get(n), dict) and "b" in doc[n] for n in dropped
        ):
            raise ValueError(f"{revealer} revealed both secrets of one client (the protocol forbids it)")
    seeds = {n: protocol.reconstruct(_revealed(docs, n, "b"), n, "b", t) for n in survivors}
    for name, seed in seeds.items():
        if protocol.seed_commitment(seed) != records[name].self_mask_commitment:
            raise ValueError(f"the reconstructed self-mask seed of {name} does not match its commitment")
    mask_keys = {n: protocol.reconstruct(_revealed(docs, n, "s"), n, "s", t) for n in dropped}
    for name, raw in mask_keys.items():
        if keys.public_hex(keys.private_key(raw)) != records[name].mask_key:
            raise ValueError(f"the reconstructed mask key of {name} does not match its advertised key")
    return seeds, mask_keys


def unmask_doc(t: int, seeds: dict[str, bytes], mask_keys: dict[str, bytes]) -> dict[str, Any]:
    """What the aggregator records of its unmasking."""
    return {
        "threshold": t,
        "seeds": {n: s.hex() for n, s in sorted(seeds.items())},
        "mask_keys": {n: k.hex() for n, k in sorted(mask_keys.items())},
    }


def secure_aggregate(
    template: Weights,
    masked: dict[str, np.ndarray],
    seeds: dict[str, bytes],
    mask_keys: dict[str, bytes],
    public: dict[str, str],
    context: bytes,
    bits: int,
) -> tuple[Weights, np.ndarray, int]:
    """The next global model, the mean delta and the total weight from the survivors' masked inputs."""
    total = protocol.unmask(masked, seeds, mask_keys, public, context)
    delta, weight = quantize.decode_sum(total, bits)
    return unflatten(flatten(template) + delta, template), delta, weight


@dataclass(frozen=True)
class Unmasked:
    """One round's unmasked sum: the next global model, the total weight and the secrets that removed the masks."""

    weights: Weights
    weight: int
    seeds: dict[str, bytes]
    mask_keys: dict[str, bytes]

    @property
    def finite(self) -> bool:
        """True if every value of the next global model is finite."""
        return all(bool(np.all(np.isfinite(a))) for a in self.weights.values())


def unmask_round(
    template: Weights,
    masked: dict[str, np.ndarray],
    docs: dict[str, dict[str, Any]],
    dropped: list[str],
    records: dict[str, SecAggRecord],
    t: int,
    context: bytes,
    bits: int,
) -> Unmasked:
    """Reconstruct the survivors' (``masked``) seeds and the ``dropped`` clients' mask keys from the revealed
    shares ``docs``, remove every mask from the survivors' sum and decode it; ``ValueError`` names the failure."""
    seeds, mask_keys = reconstruct_secrets(docs, sorted(masked), dropped, records, t)
    public = {n: r.mask_key for n, r in records.items()}
    weights, _, weight = secure_aggregate(template, masked, seeds, mask_keys, public, context, bits)
    return Unmasked(weights, weight, seeds, mask_keys)


def finish_round(
    sr: SecureRound,
    replies: list[Reply],
    inputs: dict[str, Any],
    reveal: Callable[[list[str], list[str]], list[tuple[str, str | None, Any, bytes]]],
    evaluate: Callable[[Weights], dict[str, float]] | None = None,
) -> RoundOutcome:
    """Commit the masked inputs, ask the survivors to reveal, unmask the sum and finalize the round."""
    c = sr.coordinator
    template = c.global_weights()
    c.receipts = {}
    masked, rejected = sr.take_inputs(replies, inputs)
    survivors, dropped = sorted(masked), sorted(set(sr.sharers()) - set(masked))
    t = protocol.threshold(len(sr.keys))
    weights_next: Weights | None = None
    if len(survivors) < max(t, c.record.min_participants):
        reason = f"{len(survivors)} masked inputs arrived; unmasking needs {max(t, c.record.min_participants)}"
    else:
        weights_next, reason = _unmask(sr, template, masked, sr.take_reveals(reveal(survivors, dropped)), t)
    if weights_next is None:
        rejected.update({who: reason[:512] for who in survivors})
    accepted = [] if weights_next is None else survivors
    metrics = {"committed": float(len(accepted) + len(rejected)), "accepted": float(len(accepted))}
    metrics.update(
        {"rejected": float(len(rejected)), "invalid": float(len(sr.invalid)), "dropped": float(len(dropped))}
    )
    metrics.update(_dp_metrics(c.record, sr.round))
    digest = None if weights_next is None else str(c.store.put(to_bytes(weights_next)))
    final = weights_next if weights_next is not None else template
    if evaluate is not None:
        metrics.update(_evaluation(evaluate, final))
    c.ledger.submit(
        c.aggregator,
        RoundFinalized(
            task_id=c.task_id,
            round=sr.round,
            status="ok" if digest else "failed",
            aggregate_digest=digest,
            accepted=accepted,
            rejected=[Rejection(participant=a, reason=r) for a, r in sorted(rejected.items())],
            invalid=[Rejection(participant=_as_participant(n), reason=r[:512]) for n, r in sr.invalid],
            metrics=metrics,
        ),
    )
    status = "ok" if digest else "failed"
    return RoundOutcome(
        sr.round,
        status,
        digest,
        [Address(a) for a in accepted],
        {Address(a): r for a, r in rejected.items()},
        sr.invalid,
        metrics,
        final,
        c.receipts,
    )


def _unmask(
    sr: SecureRound, template: Weights, masked: dict[str, np.ndarray], docs: dict[str, dict[str, Any]], t: int
) -> tuple[Weights | None, str]:
    """Reconstruct the masks, record the unmasking and compute the next global model; or why not."""
    c = sr.coordinator
    survivors, dropped = sorted(masked), sorted(set(sr.sharers()) - set(masked))
    records = secagg_records(c.ledger.state(), c.task_id, sr.round)
    try:
        found = unmask_round(template, masked, docs, dropped, records, t, sr.context, int(settings_of(c)["frac_bits"]))
        if not found.finite:
            raise ValueError("the aggregate has non-finite values")
        digest = str(c.store.put(canonical_json(unmask_doc(t, found.seeds, found.mask_keys))))
        c.ledger.submit(
            c.aggregator,
            SecAggUnmasked(
                task_id=c.task_id, round=sr.round, survivors=survivors, dropped=dropped, unmask_digest=digest
            ),
        )
    except (ValueError, LedgerMLError, RejectedEvent) as exc:
        return None, f"unmasking failed: {_describe(exc)}"
    return found.weights, ""
