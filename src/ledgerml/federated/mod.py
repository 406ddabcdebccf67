"""A Flower client mod that makes any ClientApp a ledgerml participant: ``ClientApp(mods=[ledger_mod()])``.

The mod answers the ledger's join step with a signed ``ParticipantJoined``, signs an ``UpdateCommitted`` to
the arrays each train reply carries (whatever their names, shapes and dtypes), applies the task's client-side
DP to them first, and keeps the aggregator's signed receipts. The app's own code is not changed, and a message
from a plain Flower server (no ``ledgerml`` record) passes through untouched.

Flower runs a ClientApp's mods only around a registered handler, and a training app registers ``train``; so
the ledger's control steps (join, receipt) travel as ``train`` messages whose ``ledgerml`` record names the
step, and the mod answers them without calling the app. A round's receipt usually rides on the next round's
train message instead (its ``ledgerml`` record's ``receipt``), kept before the app trains; only the last round's,
and those of nodes the next round does not sample, travel on a receipt message of their own.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict

from .._json import loads_bounded
from ..errors import ConfigError
from ..events import Event, sign_event
from ..identity import Identity, KeyStore
from ..ml.serialization import Weights, digest_of, to_bytes
from ..types import Digest
from ..vocab.tasks import ParticipantJoined, UpdateCommitted
from .dp import clip_and_noise
from .receipts import keep_receipt

KEY = "ledgerml"
"""Name of the ConfigRecord the ledger's messages and the mod's replies carry."""
STEP = "step"
JOIN = "join"
RECEIPT = "receipt"
RECEIPT_PROBLEM = "receipt_problem"
"""The reply field naming why a receipt that rode on a train message was not kept (the update still counts)."""
MAX_CONFIG_JSON_BYTES = 1024 * 1024
"""Largest JSON text (nonces, datasets, DP settings) the mod parses from the aggregator's record."""
KEY_SETTING, DATASETS_SETTING, STAKE_SETTING, RECEIPTS_SETTING = (
    "ledgerml-key",
    "ledgerml-datasets",
    "ledgerml-stake",
    "ledgerml-receipts",
)
"""Node-config settings (``flower-supernode --node-config``) read when the mod's argument is not given."""

Next = Callable[[Message, Context], Message]
_IDENTITIES: dict[tuple[str, str], Identity] = {}


def config_json(value: object, what: str) -> Any:
    """JSON the aggregator sent in its record, parsed within bounds."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a JSON string")
    return loads_bounded(value, what=what, max_bytes=MAX_CONFIG_JSON_BYTES, max_depth=8)


def weights_of(record: ArrayRecord) -> Weights:
    """An ArrayRecord's arrays by name, as numpy (the names the app gave them)."""
    return {str(name): np.asarray(array.numpy()) for name, array in record.items()}


def only_record(content: RecordDict, kind: str) -> tuple[str, Any]:
    """The one ArrayRecord (``kind="array"``) or MetricRecord (``"metric"``) of a message, with its key."""
    found = content.array_records if kind == "array" else content.metric_records
    if len(found) != 1:
        raise ConfigError(f"a train reply must carry exactly one {kind} record, it carries {len(found)}")
    return next(iter(found.items()))


def example_count(metrics: MetricRecord, key: str) -> int:
    """The reply's example count (Flower's ``num-examples``), a non-negative whole number."""
    value = metrics.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or value != int(value):
        raise ConfigError(f"the train reply's metrics need {key!r} as a whole number >= 0, got {value!r}")
    return int(value)


def control_reply(message: Message, values: Mapping[str, Any]) -> Message:
    """A reply to a ledger control step carrying only the ``ledgerml`` record."""
    return Message(RecordDict({KEY: ConfigRecord(dict(values))}), reply_to=message)


def sign_commitment(
    identity: Identity, config: Mapping[str, Any], update: Weights, num_examples: int
) -> tuple[bytes, Event]:
    """The update's canonical bytes and the participant's signed commitment to them for the open round."""
    data = to_bytes(update)
    nonces = config_json(config["nonces"], "nonces")
    if identity.address not in nonces:
        raise ConfigError(f"{identity.address} holds no data_owner or trainer role on this ledger")
    payload = UpdateCommitted(
        task_id=str(config["task"]),
        round=int(config["round"]),
        update_digest=str(Digest.sha256(data)),
        base_digest=str(config["base"]),
        num_examples=num_examples,
    )
    return data, sign_event(identity, str(config["ledger"]), payload, int(nonces[identity.address]))


def sign_join(identity: Identity, config: Mapping[str, Any], datasets: Sequence[str], stake: int) -> Event:
    """The participant's signed ``ParticipantJoined`` for the task the aggregator names."""
    nonces = config_json(config["nonces"], "nonces")
    if identity.address not in nonces:
        raise ConfigError(f"{identity.address} holds no data_owner or trainer role on this ledger")
    payload = ParticipantJoined(task_id=str(config["task"]), datasets=list(datasets), stake=stake)
    return sign_event(identity, str(config["ledger"]), payload, int(nonces[identity.address]))


def apply_dp(update: Weights, base: Weights, dp: Mapping[str, Any]) -> Weights:
    """The task's client-side DP on the change (fresh OS randomness), keeping the update's dtypes."""
    noised = clip_and_noise(update, base, float(dp["clip"]), float(dp["noise_multiplier"]), np.random.default_rng())
    return {name: noised[name].astype(update[name].dtype) for name in update}


def node_path(template: str, context: Context) -> Path:
    """A path with ``{node-config key}`` values and ``$ENV`` variables filled in, ``~`` expanded."""
    try:
        text = template.format_map({str(k): v for k, v in context.node_config.items()})
    except (KeyError, ValueError, IndexError) as exc:
        raise ConfigError(f"path {template!r} names a node-config value that is not set: {exc}") from None
    expanded = os.path.expandvars(text)
    unset = re.search(r"\$\{?(\w+)", expanded)
    if unset:
        raise ConfigError(f"path {template!r} names the environment variable {unset.group(1)}, which is not set")
    return Path(expanded).expanduser()


def _load_identity(path: Path, password_env: str) -> Identity:
    """The identity in key file ``path`` (a keystore or an unencrypted key), opened once per process."""
    cache_key = (str(path.resolve()), password_env)
    if cache_key not in _IDENTITIES:
        password = os.environ.get(password_env) or None
        _IDENTITIES[cache_key] = KeyStore(path.parent).load(path.stem, password)
    return _IDENTITIES[cache_key]


@dataclass(frozen=True)
class LedgerMod:
    """The mod's settings; holds no key (a pickled ClientApp carries paths, never secrets)."""

    key: str | None = None
    password_env: str = "LEDGERML_PASSWORD"
    datasets: tuple[str, ...] | None = None
    stake: int | None = None
    receipts: str | None = None
    weighted_by_key: str = "num-examples"

    def __call__(self, message: Message, context: Context, call_next: Next) -> Message:
        """Answer the ledger's control steps, and sign each train reply; pass anything else through."""
        if message.metadata.message_type.split(".")[0] != "train" or KEY not in message.content:
            return call_next(message, context)
        config = dict(message.content[KEY])
        step = config.get(STEP)
        if step == JOIN:
            return self._join(message, context, config)
        if step == RECEIPT:
            return self._receipt(message, context, config)
        return self._train(message, context, config, call_next)

    def identity(self, context: Context) -> Identity:
        """This node's identity: node config ``ledgerml-key`` (a SuperNode's own setting), else ``key``
        (``{node-config key}`` placeholders and ``$ENV`` filled in), else ``LEDGERML_KEY``."""
        template = context.node_config.get(KEY_SETTING) or self.key or os.environ.get("LEDGERML_KEY")
        if not template:
            raise ConfigError(f"ledger_mod needs a key file: ledger_mod(key=...), node config {KEY_SETTING!r}")
        return _load_identity(node_path(str(template), context), self.password_env)

    def _join(self, message: Message, context: Context, config: dict[str, Any]) -> Message:
        me = self.identity(context)
        datasets = self._datasets(context, me, config)
        stake = self._stake(context, config)
        return control_reply(message, {"event": json.dumps(sign_join(me, config, datasets, stake).to_dict())})

    def _datasets(self, context: Context, me: Identity, config: dict[str, Any]) -> list[str]:
        """Node config ``ledgerml-datasets``, else ``datasets``, else every dataset the identity registered."""
        listed = context.node_config.get(DATASETS_SETTING)
        if listed:
            return [d for d in str(listed).replace(",", " ").split() if d]
        if self.datasets is not None:
            return list(self.datasets)
        owned = config_json(config.get("owned", "{}"), "owned datasets")
        return sorted(str(d) for d in owned.get(me.address, []))

    def _stake(self, context: Context, config: dict[str, Any]) -> int:
        """Node config ``ledgerml-stake``, else ``stake``, else the task's minimum stake."""
        value = context.node_config.get(STAKE_SETTING)
        if value is None:
            value = self.stake if self.stake is not None else config.get("min_stake", 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{STAKE_SETTING} must be a whole number >= 0, got {value!r}")
        return value

    def _receipt(self, message: Message, context: Context, config: dict[str, Any]) -> Message:
        if RECEIPT not in config:
            raise ConfigError("the receipt message carries no receipt")
        kept, problem = self._keep(context, self.identity(context), config[RECEIPT])
        if problem is not None:
            raise ConfigError(problem)
        return control_reply(message, {"kept": kept})

    def _receipts_folder(self, context: Context) -> Path | None:
        """Where this node keeps receipts: node config ``ledgerml-receipts``, else ``receipts``; None keeps none."""
        folder = context.node_config.get(RECEIPTS_SETTING) or self.receipts
        return node_path(str(folder), context) if folder else None

    def _keep(self, context: Context, me: Identity, text: object) -> tuple[bool, str | None]:
        """Keep a receipt the aggregator sent (if it is this node's and a folder is set): see ``keep_receipt``."""
        try:
            folder = self._receipts_folder(context)
        except ConfigError as exc:
            return False, f"receipt not kept: {exc}"
        return keep_receipt(text, me.address, folder)

    def _train(self, message: Message, context: Context, config: dict[str, Any], call_next: Next) -> Message:
        me = self.identity(context)  # before training: a missing key fails fast
        problem = self._keep(context, me, config[RECEIPT])[1] if RECEIPT in config else None  # the last round's
        _, incoming = only_record(message.content, "array")
        base = weights_of(incoming)
        if digest_of(base) != str(config.get("base")):
            raise ConfigError("the arrays sent are not the global model the ledger names; refusing to sign")
        reply = call_next(message, context)
        if reply.has_error():
            return reply
        arrays_key, arrays = only_record(reply.content, "array")
        _, metrics = only_record(reply.content, "metric")
        update = weights_of(arrays)
        dp = config_json(config.get("dp", "{}"), "dp") or None
        if dp:
            update = apply_dp(update, base, dp)
            reply.content[arrays_key] = ArrayRecord(
                {name: Array(np.ascontiguousarray(update[name])) for name in arrays}
            )
        _, event = sign_commitment(me, config, update, example_count(metrics, self.weighted_by_key))
        record: dict[str, Any] = {"event": json.dumps(event.to_dict())}
        if problem is not None:
            record[RECEIPT_PROBLEM] = problem
        reply.content[KEY] = ConfigRecord(record)
        return reply


def ledger_mod(
    key: str | os.PathLike[str] | None = None,
    *,
    password_env: str = "LEDGERML_PASSWORD",
    datasets: Sequence[str] | None = None,
    stake: int | None = None,
    receipts: str | os.PathLike[str] | None = None,
    weighted_by_key: str = "num-examples",
) -> LedgerMod:
    """A Flower mod making the ClientApp a ledgerml participant: ``ClientApp(mods=[ledger_mod(...)])``.

    ``key``: the participant's key file (may name node-config values and environment variables,
    ``"$KEYS/org{partition-id}.json"``); a SuperNode's node config ``ledgerml-key`` overrides it, and
    ``LEDGERML_KEY`` is the last resort. Its password is read from ``password_env``.
    ``datasets``: dataset ids to join with (node config ``ledgerml-datasets`` overrides; default every
    dataset the identity registered). ``stake`` (node config ``ledgerml-stake`` overrides; default the
    task's minimum).
    ``receipts``: folder for the aggregator's receipts (node config ``ledgerml-receipts`` overrides; none kept
    without either).
    ``weighted_by_key``: the metric holding the example count, as Flower's strategies name it."""
    if stake is not None and (isinstance(stake, bool) or not isinstance(stake, int) or stake < 0):
        raise ConfigError(f"stake must be a whole number >= 0, got {stake!r}")
    return LedgerMod(
        key=None if key is None else os.fspath(key),
        password_env=password_env,
        datasets=None if datasets is None else tuple(str(d) for d in datasets),
        stake=stake,
        receipts=None if receipts is None else os.fspath(receipts),
        weighted_by_key=weighted_by_key,
    )
