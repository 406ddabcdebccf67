"""The one module that imports Flower 1.42 (Message API): a strategy wrapper that records every round on the
ledger, a ClientApp helper for participants, and an in-process Grid that runs the real ServerApp/ClientApp
in one process without Ray. Flower's simulation and deployment engines run the same apps."""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Error, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.common.constant import SUPERLINK_NODE_ID
from flwr.serverapp import Grid
from flwr.serverapp.strategy import FedAvg, Result, Strategy
from flwr.supercore.task_identity import TaskIdentity

from .._json import loads_bounded
from ..errors import ConfigError, LedgerMLError, RejectedEvent
from ..events import event_from_dict
from ..identity import recover_signer
from ..ml.serialization import Weights, to_bytes
from ..state import State, next_nonce
from ..types import Address, Role
from ..vocab.core import holders_of
from .coordinator import MAX_COMMITMENT_DEPTH, Reply, RoundOutcome, TaskCoordinator, reply_event_json
from .mod import JOIN, KEY, MAX_CONFIG_JSON_BYTES, RECEIPT, RECEIPT_PROBLEM, STEP, only_record, weights_of
from .participant import Participant
from .receipts import keep_receipt

log = logging.getLogger("ledgerml.federated")
JOIN_CHUNK = 100
"""Nodes asked to join per ``send_and_receive``: Flower's simulation engine scans every stored message for
every node on each delivery pass (its in-memory link state), so 1,000 join messages at once take minutes."""


def _arrays(weights: Weights) -> ArrayRecord:
    return ArrayRecord({name: Array(weights[name]) for name in sorted(weights)})


def _global(message: Message) -> Weights:
    """The global model the message carries (its one ArrayRecord), as arrays: the participant encodes them once
    (to check their digest against the round's base) and trains on them without decoding that encoding again."""
    return weights_of(only_record(message.content, "array")[1])


def _metric_record(metrics: dict[str, float]) -> MetricRecord:
    return MetricRecord({key: float(value) for key, value in metrics.items()})


def _nonces(state: State) -> str:
    people = set(holders_of(state, Role.DATA_OWNER)) | set(holders_of(state, Role.TRAINER))
    return json.dumps({a: next_nonce(state, a) for a in sorted(people)})


def _owned(state: State, people: set[Address]) -> str:
    """The datasets each of ``people`` registered, as JSON (a mod joins with its own by default)."""
    owned: dict[str, list[str]] = {}
    for dataset_id, record in sorted(state.rows("datasets").items()):
        if record.owner in people:
            owned.setdefault(record.owner, []).append(dataset_id)
    return json.dumps(owned)


def _train_reply(node: str, reply: Message, participant: Address | None = None) -> Reply:
    """The commitment and update bytes of a train reply; nothing is parsed beyond the bounds. The bytes are
    the ``update`` the ledgerml ClientApp sends, or else the canonical encoding of the reply's one
    ArrayRecord (a Flower app with ``ledger_mod``)."""
    record = reply.content[KEY]
    update = record["update"] if "update" in record else to_bytes(weights_of(only_record(reply.content, "array")[1]))
    if not isinstance(update, bytes):
        raise TypeError("the update must be bytes")
    return Reply(node, event=reply_event_json(record["event"], "commitment"), update=update, participant=participant)


def _log_receipt_problem(node: str, reply: Message) -> None:
    """Log why a node did not keep the receipt that rode on its train message, if it says so."""
    if reply.has_error() or KEY not in reply.content:
        return
    problem = reply.content[KEY].get(RECEIPT_PROBLEM)
    if problem is not None:
        log.warning("node %s did not take its receipt: %s", node, str(problem)[:500])


def _signed_by_actor(event: Any) -> bool:
    """True if ``event`` carries its actor's valid signature."""
    try:
        return bool(recover_signer(event.digest, event.signature) == event.actor)
    except (LedgerMLError, ValueError):
        return False


def _append_each(ledger: Any, events: list[Any]) -> list[Any]:
    """Append independent events, each judged on its own: in one transaction where the ledger groups them
    (``append_many``), else one by one; each event's receipt, or the exception that refused it."""
    group = getattr(ledger, "append_many", None)
    if group is not None and len(events) > 1:
        outcomes: list[Any] = group(events)
        return outcomes
    outcomes = []
    for event in events:
        try:
            outcomes.append(ledger.append(event))
        except (RejectedEvent, ValueError) as exc:
            outcomes.append(exc)
    return outcomes


def _config_json(value: object, what: str) -> Any:
    """JSON the aggregator sent in a config record (nonces, model spec, DP settings), parsed within bounds."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a JSON string")
    return loads_bounded(value, what=what, max_bytes=MAX_CONFIG_JSON_BYTES, max_depth=MAX_COMMITMENT_DEPTH)


class LedgerStrategy(Strategy):
    """Wraps any Flower strategy (sampling, evaluation) and records every round on the ledger: commitments
    appended, updates validated and stored, the task's rule applied, the round finalized. When the task's rule
    names a Flower strategy (``flwr:FedAvg``, ``flwr:Krum``, ...), the wrapped strategy's own
    ``aggregate_train`` makes the aggregate that is recorded; otherwise the ledger's numpy rule does."""

    def __init__(
        self,
        coordinator: TaskCoordinator,
        inner: Strategy | None = None,
        *,
        evaluate: Callable[[Weights], dict[str, float]] | None = None,
        on_round: Callable[[RoundOutcome], None] | None = None,
    ) -> None:
        from .flower_rules import check_strategy_matches

        self.coordinator = coordinator
        self.inner = inner or FedAvg(fraction_evaluate=0.0, min_available_nodes=1, min_train_nodes=1)
        check_strategy_matches(coordinator.record, self.inner)
        self.evaluate = evaluate
        self.on_round = on_round
        self.history: list[RoundOutcome] = []
        self.join_problems: list[str] = []
        self.nodes: dict[str, Address] = {}
        """Each node's participant, learned from its signed join event (invalid replies name it)."""
        self._receipts_due: dict[str, dict[str, Any]] = {}
        """The last round's receipts by node, until a message carries them: the node's next train message, else
        one of their own (when the next round does not sample the node, and after the last round)."""

    def _ledger_config(self, state: State | None = None) -> ConfigRecord:
        """The ledger's record for a round's messages (the global model itself travels as the message's
        ArrayRecord, once), from ``state`` (one read of the ledger's state, made here if not given)."""
        state = self.coordinator.ledger.state() if state is None else state
        config = self.coordinator.train_config(state)
        config["nonces"] = _nonces(state)
        config["spec"] = json.dumps(self.coordinator.model_spec())
        config["dp"] = json.dumps(self.coordinator.record.dp_params())
        return ConfigRecord(config)

    def _join_config(self) -> ConfigRecord:
        """The join step's record: task, ledger, nonces, each identity's datasets and the minimum stake."""
        state = self.coordinator.ledger.state()
        config = self._ledger_config(state)
        people = set(holders_of(state, Role.DATA_OWNER)) | set(holders_of(state, Role.TRAINER))
        config[STEP] = JOIN
        config["owned"] = _owned(state, people)
        config["min_stake"] = self.coordinator.record.min_stake
        return config

    def join(self, grid: Grid, timeout: float = 600) -> None:
        """Ask every node to join the task with a signed ``ParticipantJoined`` (a ``train`` message whose
        ledgerml record says ``step=join``, which ``ledger_mod`` answers), ``JOIN_CHUNK`` nodes at a time;
        append what arrives, and learn which participant each node is."""
        nodes = sorted(grid.get_node_ids())
        for start in range(0, len(nodes), JOIN_CHUNK):
            self._join_some(grid, nodes[start : start + JOIN_CHUNK], timeout)

    def _join_some(self, grid: Grid, nodes: list[int], timeout: float) -> None:
        """One chunk of the join step: the new participants' joins are appended together (one transaction where
        the ledger groups independent events), each accepted or refused on its own."""
        record = self._join_config()
        messages = [Message(RecordDict({KEY: record}), dst_node_id=node, message_type="train") for node in nodes]
        joined = set(self.coordinator.participants())
        new: dict[str, tuple[str, Any]] = {}  # the first join of each new participant, by address
        later: list[tuple[str, Any]] = []  # another node's join of a participant already in ``new``
        for reply in grid.send_and_receive(messages, timeout=timeout):
            node = str(reply.metadata.src_node_id)
            if reply.has_error():
                self.join_problems.append(f"node {node}: {reply.error.reason}")
                continue
            try:
                event = event_from_dict(reply_event_json(reply.content[KEY]["event"], "join event"))
                if event.kind != "ParticipantJoined" or not _signed_by_actor(event):
                    raise ConfigError("the join reply is not a ParticipantJoined signed by its actor")
            except (ValueError, KeyError, TypeError) as exc:
                self.join_problems.append(f"node {node}: join refused: {exc}")
                continue
            if event.actor in joined:
                self.nodes[node] = event.actor
            elif event.actor in new:
                later.append((node, event))
            else:
                new[event.actor] = (node, event)
        self._append_joins(list(new.values()))
        for node, event in later:  # as if appended after the first: joined if that one landed, else tried itself
            if event.actor in self.nodes.values():
                self.nodes[node] = event.actor
            else:
                self._append_joins([(node, event)])

    def _append_joins(self, joins: list[tuple[str, Any]]) -> None:
        """Append signed joins (each judged on its own) and learn the nodes of those that land."""
        for (node, event), outcome in zip(
            joins, _append_each(self.coordinator.ledger, [e for _, e in joins]), strict=True
        ):
            if isinstance(outcome, Exception):
                self.join_problems.append(f"node {node}: join refused: {outcome}")
            else:
                self.nodes[node] = event.actor

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        self._grid = grid
        if self.coordinator.record.secure_settings():  # secure aggregation: its own stages (secagg_flower)
            from .secagg_flower import secure_configure_train

            return secure_configure_train(self, server_round, arrays, config, grid)
        state = self.coordinator.ledger.state()  # one read for the sample and the ledger's record
        messages = self._sampled(list(self.inner.configure_train(server_round, arrays, config, grid)), state)
        ledger_config = self._ledger_config(state)
        due, self._receipts_due = self._receipts_due, {}
        sampled = {str(message.metadata.dst_node_id) for message in messages}
        self._send_receipts({node: receipt for node, receipt in due.items() if node not in sampled})
        for message in messages:
            receipt = due.get(str(message.metadata.dst_node_id))
            if receipt is None:
                message.content[KEY] = ledger_config
            else:  # its own content: the inner strategy's messages share one
                record = ConfigRecord({**ledger_config, RECEIPT: json.dumps(receipt, sort_keys=True)})
                message.content = RecordDict({**dict(message.content.items()), KEY: record})
        return messages

    def _sampled(self, messages: list[Message], state: State) -> list[Message]:
        """The messages to the nodes whose participants the open round (in ``state``) samples (all, for a task that
        does not sample: ``federated.sampling``); the inner strategy should configure every node
        (``fraction_train=1``)."""
        sample = self.coordinator.sampler.sample(self.coordinator.open_round(state) or 0)
        if sample is None:
            return messages
        return [m for m in messages if self.nodes.get(str(m.metadata.dst_node_id)) in sample]

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        if self.coordinator.record.secure_settings():
            from .secagg_flower import secure_aggregate_train

            return secure_aggregate_train(self, server_round, replies)
        collected = []
        for reply in replies:
            node = str(reply.metadata.src_node_id)
            known = self.nodes.get(node)
            if reply.has_error():
                collected.append(Reply(node, error=f"client error: {reply.error.reason}", participant=known))
                continue
            try:
                collected.append(_train_reply(node, reply, known))
            except (KeyError, ValueError, TypeError, LedgerMLError) as exc:
                collected.append(Reply(node, error=f"reply without a ledgerml commitment: {exc}", participant=known))
            _log_receipt_problem(node, reply)
        outcome = self.coordinator.process_round(collected, evaluate=self.evaluate, strategy=self.inner)
        self._receipts_due = {node: receipt for node, receipt in outcome.receipts.items() if node.isdigit()}
        self.history.append(outcome)
        if self.on_round is not None:
            self.on_round(outcome)
        return _arrays(outcome.global_weights), _metric_record(outcome.metrics)

    def _send_receipts(self, receipts: dict[str, dict[str, Any]]) -> None:
        """Give each node its participant's signed receipt on a message of its own (a ``train`` message with
        ``step=receipt``, which ``ledger_mod`` and the ledgerml ClientApp keep); most receipts ride on the
        node's next train message instead (``configure_train``)."""
        grid = getattr(self, "_grid", None)
        if grid is None or not receipts:
            return
        messages = [
            Message(
                RecordDict({KEY: ConfigRecord({STEP: RECEIPT, RECEIPT: json.dumps(receipt, sort_keys=True)})}),
                dst_node_id=int(node),
                message_type="train",
            )
            for node, receipt in sorted(receipts.items())
            if node.isdigit()
        ]
        for reply in grid.send_and_receive(messages, timeout=60):
            if reply.has_error():
                log.warning("node %s did not take its receipt: %s", reply.metadata.src_node_id, reply.error.reason)

    def configure_evaluate(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        messages = list(self.inner.configure_evaluate(server_round, arrays, config, grid))
        if messages:
            ledger_config = self._ledger_config()
            for message in messages:
                message.content[KEY] = ledger_config
        return messages

    def aggregate_evaluate(self, server_round: int, replies: Iterable[Message]) -> MetricRecord | None:
        return self.inner.aggregate_evaluate(server_round, replies)

    def summary(self) -> None:
        self.inner.summary()

    def start(
        self,
        grid: Grid,
        initial_arrays: ArrayRecord,
        num_rounds: int = 3,
        timeout: float = 3600,
        train_config: ConfigRecord | None = None,
        evaluate_config: ConfigRecord | None = None,
        evaluate_fn: Callable[[int, ArrayRecord], MetricRecord | None] | None = None,
    ) -> Result:
        """Flower's round loop, then the last round's receipts on messages of their own (no next train message
        carries them); also when a round fails, before its error propagates."""
        try:
            result = super().start(
                grid, initial_arrays, num_rounds, timeout, train_config, evaluate_config, evaluate_fn
            )
        except Exception:
            with contextlib.suppress(Exception):  # the run's own error is the one to report
                self._flush_receipts()
            raise
        self._flush_receipts()
        return result

    def _flush_receipts(self) -> None:
        """Send every receipt still due on messages of their own."""
        due, self._receipts_due = self._receipts_due, {}
        self._send_receipts(due)

    def run(self, grid: Grid, timeout: float = 3600) -> list[RoundOutcome]:
        """Join, then run the task's remaining rounds (a restarted aggregator resumes the open round)."""
        self.join(grid, timeout)
        first = self.coordinator.open_round()
        if first is None:
            return self.history
        remaining = self.coordinator.record.rounds - first + 1
        self.start(grid, _arrays(self.coordinator.global_weights()), num_rounds=remaining, timeout=timeout)
        return self.history


_PARTICIPANTS: dict[tuple[str, str, int], Participant] = {}


def _cached_participant(load: Callable[[Context], Participant], context: Context) -> Participant:
    """One participant per (loader, run config, node), kept in this process. A module-level function, so that
    pickling the ClientApp (Ray does) takes it by reference and never the keys it holds."""
    key = (getattr(load, "__qualname__", repr(load)), json.dumps(context.run_config, sort_keys=True), context.node_id)
    if key not in _PARTICIPANTS:
        _PARTICIPANTS[key] = load(context)
    return _PARTICIPANTS[key]


def make_client_app(load: Callable[[Context], Participant]) -> ClientApp:
    """A ClientApp whose participant (key, data, behaviour) comes from ``load(context)``, cached per node."""
    from .secagg_flower import secagg_mod, vault_of

    app = ClientApp(mods=[secagg_mod(lambda c: participant(c).identity, lambda c: vault_of(participant(c).receipts))])

    def participant(context: Context) -> Participant:
        return _cached_participant(load, context)

    def config(message: Message) -> dict[str, Any]:
        if KEY not in message.content:
            raise ConfigError(
                "this ClientApp takes part only in a ledgerml federation: the server's message carries no "
                f"{KEY!r} record (a plain Flower app joins with ClientApp(mods=[ledger_mod(...)]) instead)"
            )
        return dict(message.content[KEY])

    def join(message: Message, context: Context, cfg: dict[str, Any]) -> Message:
        me = participant(context)
        event = me.join(str(cfg["ledger"]), str(cfg["task"]), _config_json(cfg["nonces"], "nonces").get(me.address, 0))
        return Message(RecordDict({KEY: ConfigRecord({"event": json.dumps(event.to_dict())})}), reply_to=message)

    def receipt(message: Message, context: Context, cfg: dict[str, Any]) -> Message:
        me = participant(context)
        problem = keep_receipt(cfg.get(RECEIPT), me.address, me.receipts)[1]
        if problem is not None:
            raise ConfigError(problem)
        return Message(RecordDict(), reply_to=message)

    @app.train()
    def _train(message: Message, context: Context) -> Message:
        cfg = config(message)
        if cfg.get(STEP) == JOIN:
            return join(message, context, cfg)
        if cfg.get(STEP) == RECEIPT:
            return receipt(message, context, cfg)
        me = participant(context)
        problem = keep_receipt(cfg[RECEIPT], me.address, me.receipts)[1] if RECEIPT in cfg else None  # last round's
        data, event, metrics = me.train(
            _global(message), cfg, _config_json(cfg["spec"], "model spec"), _config_json(cfg["dp"], "dp") or None
        )
        record: dict[str, Any] = {"event": json.dumps(event.to_dict()), "update": data}
        if problem is not None:
            record[RECEIPT_PROBLEM] = problem
        return Message(RecordDict({KEY: ConfigRecord(record), "metrics": _metric_record(metrics)}), reply_to=message)

    @app.evaluate()
    def _evaluate(message: Message, context: Context) -> Message:
        cfg = config(message)
        metrics = participant(context).evaluate(_global(message), _config_json(cfg["spec"], "model spec"))
        return Message(RecordDict({"metrics": _metric_record(metrics)}), reply_to=message)

    return app


class LocalGrid(Grid):
    """A Grid that delivers each message straight to a ClientApp in this process (no Ray, no network).

    ``drop`` lets tests make chosen nodes fail to answer, as a participant dropping out would.
    """

    def __init__(self, client_app: ClientApp, contexts: dict[int, Context], run_id: int = 1) -> None:
        self.client_app = client_app
        self.contexts = contexts
        self._inbox: dict[str, Message] = {}
        self.drop: set[int] = set()
        self.run_id = run_id

    def __enter__(self) -> LocalGrid:
        """Set Flower's process-wide task identity as its own runtimes do; restored on exit."""
        self._saved = (TaskIdentity._run_id, TaskIdentity._node_id, TaskIdentity._task_id)
        TaskIdentity.run_id = self.run_id
        TaskIdentity.node_id = SUPERLINK_NODE_ID  # the ServerApp's messages come from the SuperLink
        TaskIdentity.task_id = self.run_id
        return self

    def __exit__(self, *exc: object) -> None:
        TaskIdentity._run_id, TaskIdentity._node_id, TaskIdentity._task_id = self._saved

    def set_run(self, run: Any) -> None:
        self._run = run

    @property
    def run(self) -> Any:
        return getattr(self, "_run", None)

    def create_message(
        self, content: RecordDict, message_type: str, dst_node_id: int, group_id: str, ttl: float | None = None
    ) -> Message:
        return Message(content, dst_node_id=dst_node_id, message_type=message_type, ttl=ttl, group_id=group_id)

    def get_node_ids(self) -> Iterable[int]:
        return sorted(self.contexts)

    def get_nodes(self) -> Iterable[Any]:
        return []

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        ids = []
        for message in messages:
            message_id = uuid.uuid4().hex
            message.metadata.__dict__["_message_id"] = message_id
            self._inbox[message_id] = message
            ids.append(message_id)
        return ids

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        replies = []
        for message_id in message_ids:
            message = self._inbox.pop(message_id)
            node = message.metadata.dst_node_id
            if node in self.drop:
                continue  # no reply: the node dropped out
            try:
                replies.append(self.client_app(message, self.contexts[node]))
            except Exception as exc:  # a crashing client is a failed reply, as in Flower's runtimes
                replies.append(Message(Error(code=1, reason=f"{type(exc).__name__}: {exc}"), reply_to=message))
        return replies

    def send_and_receive(self, messages: Iterable[Message], *, timeout: float | None = None) -> Iterable[Message]:
        return self.pull_messages(self.push_messages(messages))


def local_contexts(count: int, run_config: dict[str, Any] | None = None) -> dict[int, Context]:
    """Contexts for ``count`` in-process nodes, with ``partition-id`` in their node config."""
    return {
        node: Context(
            run_id=1,
            node_id=node,
            node_config={"partition-id": node - 1, "num-partitions": count},
            state=RecordDict(),
            run_config=dict(run_config or {}),
        )
        for node in range(1, count + 1)
    }
