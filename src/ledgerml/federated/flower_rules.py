"""Flower's own strategies as a task's rule: ``flwr:FedAvg`` (or FedProx, FedMedian, FedTrimmedAvg, Krum,
MultiKrum, Bulyan) with the strategy's constructor settings recorded in ``TaskCreated.rule_params``.

During a run the wrapped strategy's own ``aggregate_train`` makes the aggregate that is recorded; the auditor
rebuilds the same strategy class from the recorded settings and replays it on the stored updates, fed in
address order. Strategies that keep server state across rounds (FedAdam, FedYogi, FedAdagrad, FedAvgM,
QFedAvg, the DP wrappers) are refused: one round's updates do not determine their aggregate.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..ml.serialization import Weights
from ..types import Address

PREFIX = "flwr:"
REPLAYABLE = ("FedAvg", "FedProx", "FedMedian", "FedTrimmedAvg", "Krum", "MultiKrum", "Bulyan")
"""Flower strategies whose aggregate depends only on the round's replies, so an auditor can replay them."""


def is_flower_rule(rule: str) -> bool:
    """True if ``rule`` names a Flower strategy (``flwr:NAME``)."""
    return rule.startswith(PREFIX)


def _class(name: str) -> type[Any]:
    """The replayable Flower strategy class ``name``; ``ConfigError`` for any other."""
    if name not in REPLAYABLE:
        raise ConfigError(
            f"Flower strategy {name!r} cannot be a ledger rule: its aggregate is not determined by one round's "
            f"updates (server state) or it is unknown; replayable: {list(REPLAYABLE)}"
        )
    import flwr.serverapp.strategy as strategies

    found: type[Any] = getattr(strategies, name)
    return found


def _scalar(value: Any) -> bool:
    """True for a JSON scalar that round-trips exactly (finite numbers, text, booleans, None)."""
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, bool | int | str)


def rule_of(strategy: Any) -> tuple[str, dict[str, Any]]:
    """The ledger rule (``flwr:NAME``) and settings that rebuild ``strategy``: every constructor argument the
    instance keeps as a JSON scalar attribute. ``ConfigError`` for a subclass or a stateful strategy."""
    name = type(strategy).__name__
    cls = _class(name)
    if type(strategy) is not cls:
        raise ConfigError(f"{type(strategy).__qualname__} is not Flower's own {name}; an auditor could not replay it")
    params: dict[str, Any] = {}
    for arg in inspect.signature(cls.__init__).parameters:
        value = getattr(strategy, arg, None)
        if arg != "self" and hasattr(strategy, arg) and _scalar(value):
            params[arg] = value
    return PREFIX + name, params


def build(rule: str, params: Mapping[str, Any]) -> Any:
    """The Flower strategy a recorded rule names, built from its recorded settings."""
    cls = _class(rule.removeprefix(PREFIX))
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    unknown = set(params) - accepted
    if unknown:
        raise ConfigError(f"{rule} takes no setting(s) {sorted(unknown)}")
    try:
        return cls(**dict(params))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{rule} settings are refused by Flower: {exc}") from None


def check_strategy_matches(record: Any, strategy: Any) -> None:
    """``ConfigError`` unless ``strategy`` is what the task's Flower rule records (no-op for numpy rules)."""
    if not is_flower_rule(record.rule):
        return
    rule, params = rule_of(strategy)
    recorded = record.params()
    if rule != record.rule or params != recorded:
        raise ConfigError(
            f"the wrapped strategy is {rule} {params}, but task {record.task_id!r} records {record.rule} {recorded}"
        )


@contextlib.contextmanager
def quiet_flower() -> Iterator[None]:
    """Flower's log held to errors (a replay rebuilds strategies, which log their settings each time)."""
    import flwr.serverapp.strategy  # noqa: F401  (importing Flower sets its log level; do it first)

    logger = logging.getLogger("flwr")
    saved = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(saved)


@contextlib.contextmanager
def _task_identity() -> Iterator[None]:
    """Flower's process-wide task identity, set for building messages outside a Flower runtime (the auditor);
    left as it is inside one, restored on exit."""
    from flwr.common.constant import SUPERLINK_NODE_ID
    from flwr.supercore.task_identity import TaskIdentity

    saved = (TaskIdentity._run_id, TaskIdentity._node_id, TaskIdentity._task_id)
    if saved[0] is None:
        TaskIdentity.run_id, TaskIdentity.node_id, TaskIdentity.task_id = 0, SUPERLINK_NODE_ID, 0  # type: ignore[unreachable]
    try:
        yield
    finally:
        TaskIdentity._run_id, TaskIdentity._node_id, TaskIdentity._task_id = saved


def flower_aggregate(
    strategy: Any,
    server_round: int,
    order: list[Address],
    usable: Mapping[Address, Weights],
    examples: Mapping[Address, int],
) -> Weights:
    """The strategy's ``aggregate_train`` on the usable updates, fed as replies in address ``order``."""
    from flwr.app import Array, ArrayRecord, Message, MetricRecord, RecordDict

    replies = []
    with _task_identity():
        for node, address in enumerate(order, start=1):
            weights = usable[address]
            arrays = ArrayRecord({name: Array(np.ascontiguousarray(weights[name])) for name in sorted(weights)})
            metrics = MetricRecord({strategy.weighted_by_key: int(examples[address])})
            content = RecordDict({strategy.arrayrecord_key: arrays, "metrics": metrics})
            replies.append(Message(content, dst_node_id=node, message_type="train"))
        aggregate, _ = strategy.aggregate_train(server_round, replies)
    if aggregate is None:
        raise ConfigError(f"{type(strategy).__name__} returned no aggregate")
    return {str(name): np.asarray(array.numpy()) for name, array in aggregate.items()}
