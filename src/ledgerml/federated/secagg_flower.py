"""Secure aggregation on Flower's Message API: the client mod (``secagg_mod``) and the server's extra stages.

The server runs a secure round's control steps as ``train`` messages whose ``ledgerml`` record names the step
(``secagg-keys``, ``secagg-shares``, ``secagg-unmask``), as the join step does; the masked input is the round's
train reply. The mod answers the control steps itself, lets the app train, and replaces the reply's update by
the masked, quantized input before it leaves the node: the plaintext update never reaches the aggregator.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict

from .._canonical import canonical_json
from .._files import replace_atomically
from ..events import event_from_dict, sign_event
from ..identity import Identity
from ..ml.serialization import flatten, from_bytes, to_bytes
from ..types import Address, Digest
from ..vocab.secagg import SecAggInput, SecAggKeys, SecAggReveal, SecAggShares
from ..vocab.tasks import UpdateCommitted
from .coordinator import Reply, reply_event_json
from .mod import KEY, STEP, config_json, only_record, weights_of
from .secagg_round import (
    KEYS,
    SHARES,
    UNMASK,
    SecureRound,
    finish_round,
    masked_bytes,
    plaintext_commitment,
    reveal_doc,
    settings_of,
)
from .secure import protocol, quantize

SECAGG = "secagg"
"""The train record's entry that carries a secure round's routing (sharers, sealed inbox, settings)."""
Next = Callable[[Message, Context], Message]


@dataclass
class _Client:
    session: protocol.ClientSession
    salt: bytes = b""


_SESSIONS: dict[tuple[str, str, str, int], _Client] = {}


def _nonce(cfg: dict[str, Any], address: str) -> int:
    return int(config_json(cfg["nonces"], "nonces")[address])


def _reply(message: Message, **values: Any) -> Message:
    return Message(RecordDict({KEY: ConfigRecord(values)}), reply_to=message)


def _session(me: Identity, cfg: dict[str, Any], create: bool = False) -> _Client:
    key = (me.address, str(cfg["ledger"]), str(cfg["task"]), int(cfg["round"]))
    if create:
        for old in [k for k in _SESSIONS if k[:3] == key[:3] and k[3] < key[3]]:
            del _SESSIONS[old]  # an earlier round's secrets are kept in the vault, not in memory
        context = protocol.context_bytes(key[1], key[2], key[3])
        _SESSIONS[key] = _Client(protocol.ClientSession(me.address, context))
    if key not in _SESSIONS:
        raise ValueError(f"no secure-aggregation session for round {key[3]} of task {key[2]!r} on this node")
    return _SESSIONS[key]


def _keys(me: Identity, cfg: dict[str, Any], message: Message) -> Message:
    client = _session(me, cfg, create=True)
    payload = SecAggKeys(task_id=str(cfg["task"]), round=int(cfg["round"]), **client.session.advertise())
    event = sign_event(me, str(cfg["ledger"]), payload, _nonce(cfg, me.address))
    return _reply(message, event=json.dumps(event.to_dict()))


def _shares(me: Identity, cfg: dict[str, Any], message: Message) -> Message:
    client = _session(me, cfg)
    sealed = client.session.share(config_json(cfg["keys"], "key list"))
    bundle = {name: data.hex() for name, data in sealed.items()}
    payload = SecAggShares(
        task_id=str(cfg["task"]),
        round=int(cfg["round"]),
        shares_digest=str(Digest.sha256(canonical_json(bundle))),
        self_mask_commitment=protocol.seed_commitment(client.session.self_seed),
    )
    event = sign_event(me, str(cfg["ledger"]), payload, _nonce(cfg, me.address))
    return _reply(message, event=json.dumps(event.to_dict()), bundle=json.dumps(bundle))


def _unmask(me: Identity, cfg: dict[str, Any], message: Message) -> Message:
    client = _session(me, cfg)
    shares = client.session.reveal(config_json(cfg["survivors"], "survivors"), config_json(cfg["dropped"], "dropped"))
    doc = reveal_doc(shares)
    payload = SecAggReveal(
        task_id=str(cfg["task"]), round=int(cfg["round"]), reveal_digest=str(Digest.sha256(canonical_json(doc)))
    )
    event = sign_event(me, str(cfg["ledger"]), payload, _nonce(cfg, me.address))
    return _reply(message, event=json.dumps(event.to_dict()), reveal=json.dumps(doc))


def _update_of(reply: Message) -> tuple[bytes, Any]:
    """The plaintext update bytes and the app's commitment event of a train reply."""
    record = reply.content[KEY]
    update = record["update"] if "update" in record else to_bytes(weights_of(only_record(reply.content, "array")[1]))
    if not isinstance(update, bytes):
        raise TypeError("the update must be bytes")
    return update, event_from_dict(config_json(record["event"], "commitment"))


def _masked_train(me: Identity, cfg: dict[str, Any], message: Message, reply: Message, vault: Path | None) -> Message:
    """Replace a train reply's update by the masked, quantized input and sign its two commitments."""
    client = _session(me, cfg)
    routing = config_json(cfg[SECAGG], "secure routing")
    for sender, sealed in sorted(routing["inbox"].items()):
        client.session.take(sender, bytes.fromhex(sealed))
    update, app_event = _update_of(reply)
    base = weights_of(only_record(message.content, "array")[1])
    settings = routing["settings"]
    clip, bits = float(settings["clip"]), int(settings["frac_bits"])
    delta = np.clip(quantize.clip_l2(flatten(from_bytes(update)) - flatten(base), clip), -clip, clip)
    examples = int(app_event.payload["num_examples"])
    encoded = quantize.encode(delta, min(examples, quantize.MAX_WEIGHT), clip, bits)
    data = masked_bytes(client.session.mask(encoded, list(routing["sharers"])))
    client.salt = secrets.token_bytes(32)
    task, round_, ledger = str(cfg["task"]), int(cfg["round"]), str(cfg["ledger"])
    commit = UpdateCommitted(
        task_id=task,
        round=round_,
        update_digest=str(Digest.sha256(data)),
        base_digest=str(cfg["base"]),
        num_examples=examples,
    )
    given = SecAggInput(
        task_id=task,
        round=round_,
        masked_digest=commit.update_digest,
        plaintext_commitment=plaintext_commitment(client.salt, encoded),
        weight=min(examples, quantize.MAX_WEIGHT),
    )
    first = sign_event(me, ledger, commit, app_event.nonce)
    second = sign_event(me, ledger, given, app_event.nonce + 1)
    _keep(vault, client, task, round_, encoded)
    content = RecordDict(
        {
            KEY: ConfigRecord(
                {"event": json.dumps(first.to_dict()), "input": json.dumps(second.to_dict()), "update": data}
            )
        }
    )
    for name, metrics in reply.content.metric_records.items():
        content[name] = metrics
    return Message(content, reply_to=message)


def _keep(vault: Path | None, client: _Client, task: str, round_: int, encoded: np.ndarray) -> None:
    """Keep what an audited opening of this input needs (salt, mask key, sharers), readable by the owner only."""
    if vault is None:
        return
    s = client.session
    doc = {
        "salt": client.salt.hex(),
        "mask_key": s.mask_key_bytes().hex(),
        "self_seed": s.self_seed.hex(),
        "sharers": s.sharers,
        "public": {n: p["mask_key"] for n, p in s.peers.items()},
    }
    vault.mkdir(parents=True, exist_ok=True, mode=0o700)
    # no fsync: the secrets matter only for an opening of this round, and fsyncing ten files a round cost ~0.3 s
    replace_atomically(vault / f"{task}-{round_}.json", canonical_json(doc), private=True, durable=False)


def secagg_mod(
    identity_of: Callable[[Context], Identity], vault_of: Callable[[Context], Path | None] | None = None
) -> Callable[[Message, Context, Next], Message]:
    """A client mod that takes part in a secure task's rounds for the identity ``identity_of(context)``
    (and keeps its opening secrets under ``vault_of(context)``); every other message passes through."""

    def mod(message: Message, context: Context, call_next: Next) -> Message:
        if KEY not in message.content:
            return call_next(message, context)
        cfg = dict(message.content[KEY])
        step = cfg.get(STEP)
        handler = {KEYS: _keys, SHARES: _shares, UNMASK: _unmask}.get(str(step))
        if handler is not None:
            return handler(identity_of(context), cfg, message)
        if SECAGG not in cfg or step is not None:
            return call_next(message, context)
        reply = call_next(message, context)
        if reply.has_error():
            return reply
        vault = None if vault_of is None else vault_of(context)
        return _masked_train(identity_of(context), cfg, message, reply, vault)

    return mod


def _ask(grid: Any, nodes: dict[str, str], records: dict[str, dict[str, Any]], timeout: float) -> list[Message]:
    """Send each node its control record (a ``train`` message) and return the replies that arrived."""
    messages = [
        Message(RecordDict({KEY: ConfigRecord(records[node])}), dst_node_id=int(node), message_type="train")
        for node in sorted(records)
        if node.isdigit() and node in nodes
    ]
    return list(grid.send_and_receive(messages, timeout=timeout))


def _answers(sr: SecureRound, replies: Iterable[Message], nodes: dict[str, str], *extra: str) -> list[Any]:
    """``(node, participant, event, *extra fields)`` of every reply that carries them; the others are invalid."""
    out: list[Any] = []
    for reply in replies:
        node = str(reply.metadata.src_node_id)
        try:
            if reply.has_error():
                raise ValueError(f"client error: {reply.error.reason}")
            record = reply.content[KEY]
            values = [record[name] for name in extra]
            texts = [v.encode() for v in values if isinstance(v, str)]
            if len(texts) != len(values):
                raise TypeError("secure-aggregation replies carry JSON text")
            out.append((node, nodes.get(node), config_json(record["event"], "event"), *texts))
        except (KeyError, TypeError, ValueError) as exc:
            sr.invalid.append((nodes.get(node, node), f"secure-aggregation reply unusable: {exc}"[:512]))
    return out


def _base(strategy: Any, step: str) -> dict[str, Any]:
    config = dict(strategy._ledger_config())
    config[STEP] = step
    return config


def secure_configure_train(
    strategy: Any, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Any
) -> list[Message]:
    """Run the key and share stages, then address the round's train messages to the sharers, each carrying
    the sealed shares routed to it."""
    c = strategy.coordinator
    sr = SecureRound(c, c.open_round() or 0)
    strategy._secagg, strategy._grid = sr, grid
    nodes: dict[str, str] = dict(strategy.nodes)
    keys_step = _base(strategy, KEYS)
    sr.take_keys(_answers(sr, _ask(grid, nodes, {n: keys_step for n in nodes}, 600), nodes))
    shares_step = {**_base(strategy, SHARES), "keys": json.dumps(sr.keys, sort_keys=True)}
    advertisers = {n: shares_step for n, who in nodes.items() if who in sr.keys}
    sr.take_shares(_answers(sr, _ask(grid, nodes, advertisers, 600), nodes, "bundle"))
    settings = settings_of(c)
    train = dict(strategy._ledger_config())
    messages = []
    for message in strategy.inner.configure_train(server_round, arrays, config, grid):
        who = nodes.get(str(message.metadata.dst_node_id))
        if who in sr.bundles:
            routing = {"sharers": sr.sharers(), "inbox": sr.inbox(who), "settings": settings}
            content = RecordDict(dict(message.content.items()))  # the inner strategy shares one content
            content[KEY] = ConfigRecord({**train, SECAGG: json.dumps(routing, sort_keys=True)})
            messages.append(Message(content, dst_node_id=message.metadata.dst_node_id, message_type="train"))
    return messages


def secure_aggregate_train(
    strategy: Any, server_round: int, replies: Iterable[Message]
) -> tuple[ArrayRecord, MetricRecord]:
    """Commit the masked inputs, run the unmask stage with the survivors and finalize the round."""
    sr: SecureRound = strategy._secagg
    nodes: dict[str, str] = dict(strategy.nodes)
    collected, inputs = [], {}
    for reply in replies:
        node = str(reply.metadata.src_node_id)
        known = Address(nodes[node]) if node in nodes else None
        try:
            if reply.has_error():
                raise ValueError(f"client error: {reply.error.reason}")
            record = reply.content[KEY]
            inputs[node] = reply_event_json(record["input"], "masked input commitment")
            update = record["update"]
            if not isinstance(update, bytes):
                raise TypeError("the masked input must be bytes")
            event = reply_event_json(record["event"], "commitment")
            collected.append(Reply(node, event=event, update=update, participant=known))
        except (KeyError, TypeError, ValueError) as exc:
            collected.append(Reply(node, error=f"reply without a secure input: {exc}", participant=known))

    def reveal(survivors: list[str], dropped: list[str]) -> list[Any]:
        step = {**_base(strategy, UNMASK), "survivors": json.dumps(survivors), "dropped": json.dumps(dropped)}
        asked = {n: step for n, who in nodes.items() if who in survivors}
        return _answers(sr, _ask(strategy._grid, nodes, asked, 600), nodes, "reveal")

    outcome = finish_round(sr, collected, inputs, reveal, strategy.evaluate)
    strategy._send_receipts(outcome.receipts)  # at once: a secure round has its own stages
    strategy.history.append(outcome)
    if strategy.on_round is not None:
        strategy.on_round(outcome)
    arrays = ArrayRecord({name: Array(outcome.global_weights[name]) for name in sorted(outcome.global_weights)})
    return arrays, MetricRecord({key: float(value) for key, value in outcome.metrics.items()})


def vault_of(receipts: Path | None) -> Path | None:
    """Where a participant keeps its opening secrets: ``HOME/secagg/NAME`` next to ``HOME/receipts/NAME``."""
    return None if receipts is None else receipts.parent.parent / "secagg" / receipts.name
