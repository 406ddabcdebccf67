"""A discrete-event simulation of QBFT consensus rounds (plain Python; a simulation, not a Besu node).

Modelled: n validators (quorum ceil(2n/3)), round-robin proposers per (height, round), PROPOSAL -> PREPARE ->
COMMIT with a prepared certificate carried through ROUND-CHANGE, per-round timers of ``timeout * 2**round``
(Besu's exponential backoff) started with the height, no block before the block period has passed, one-way
delays from a latency matrix with jitter,
a signing cost per sent and a verification cost per received message, crashed validators (they neither send nor
receive) and slow proposers (their proposal waits ``slow_ms``). Not modelled: Byzantine equivocation, block
execution and gossip re-broadcast, CPU queueing (a message costs its verification time, nothing waits for it).
"""

from __future__ import annotations

import heapq
import math
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .latency import LatencyModel

MAX_ROUND = 30


class TimeoutPolicy(Protocol):
    """Chooses a validator's round-0 timeout for a height and learns from the outcome."""

    def timeout_ms(self, height: int, suspect: bool) -> float:
        """The round-0 timeout (later rounds double it); ``suspect``: this round's proposer failed last time."""
        ...

    def observe(self, height: int, suspect: bool, elapsed_ms: float, rounds: int) -> None:
        """The height was decided ``elapsed_ms`` after round 0 started, after ``rounds`` round changes."""
        ...


@dataclass(frozen=True)
class Faults:
    """Crashes: every ``crash_every`` heights the round-0 proposer goes down for ``crash_heights`` heights;
    slow proposers: every ``slow_every`` heights the round-0 proposer waits ``slow_ms`` before proposing."""

    crash_every: int = 0
    crash_heights: int = 1
    slow_every: int = 0
    slow_ms: float = 0.0


@dataclass
class Outcome:
    """What a run measured; ``committed`` maps height -> the set of block ids honest validators committed."""

    latencies_ms: list[float] = field(default_factory=list)
    round_changes: list[int] = field(default_factory=list)
    faulty: list[bool] = field(default_factory=list)
    committed: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))

    def fault_free_round_change_rate(self) -> float:
        """Share of heights without a crashed or slow proposer that needed a round change."""
        clean = [r for r, f in zip(self.round_changes, self.faulty, strict=True) if not f]
        return sum(1 for r in clean if r > 0) / len(clean) if clean else math.nan


@dataclass
class _Node:
    """One validator's view."""

    height: int = 1
    round: int = 0
    round_start: float = 0.0
    height_start: float = 0.0
    prepared: tuple[int, str] | None = None
    accepted: dict[int, str] = field(default_factory=dict)
    sent_commit: set[int] = field(default_factory=set)
    proposed: set[int] = field(default_factory=set)
    votes: dict[tuple[str, int, int, str], set[int]] = field(default_factory=lambda: defaultdict(set))
    changes: dict[tuple[int, int], dict[int, Any]] = field(default_factory=lambda: defaultdict(dict))
    failed_proposers: set[int] = field(default_factory=set)


class Simulation:
    """Run ``heights`` heights of QBFT with one ``TimeoutPolicy`` per validator."""

    def __init__(
        self,
        n: int,
        policies: list[TimeoutPolicy],
        latency: LatencyModel,
        *,
        block_period_ms: float,
        sign_ms: float,
        verify_ms: float,
        faults: Faults = Faults(),
        seed: int = 0,
    ) -> None:
        if n < 4 or len(policies) != n:
            raise ValueError("QBFT needs n >= 4 validators and one timeout policy each")
        self.n, self.quorum = n, math.ceil(2 * n / 3)
        self.policies, self.latency, self.faults = policies, latency, faults
        self.block_period, self.sign_ms, self.verify_ms = block_period_ms, sign_ms, verify_ms
        self.rng = random.Random(seed)
        self.nodes = [_Node() for _ in range(n)]
        self.queue: list[tuple[float, int, str, tuple[Any, ...]]] = []
        self.serial = 0
        self.outcome = Outcome()
        self.decided_at: dict[int, list[float]] = defaultdict(list)
        self.round_of: dict[int, list[int]] = defaultdict(list)
        self.backlog: dict[int, list[tuple[int, tuple[Any, ...]]]] = defaultdict(list)

    # -- scheduling ---------------------------------------------------------------------------------

    def at(self, time: float, kind: str, *args: Any) -> None:
        self.serial += 1
        heapq.heappush(self.queue, (time, self.serial, kind, args))

    def proposer(self, height: int, round_: int) -> int:
        return (height + round_) % self.n

    def crashed(self, node: int, height: int) -> bool:
        every = self.faults.crash_every
        if not every:
            return False
        first = (height // every) * every
        return height - first < self.faults.crash_heights and node == self.proposer(first, 0) and first > 0

    def broadcast(self, sender: int, now: float, message: tuple[Any, ...]) -> None:
        sent = now + self.sign_ms
        for target in range(self.n):
            delay = 0.0 if target == sender else self.latency.delay(sender, target, self.rng)
            self.at(sent + delay + self.verify_ms, "deliver", target, message)

    # -- protocol -----------------------------------------------------------------------------------

    def start_round(self, node_id: int, now: float, height: int, round_: int) -> None:
        node = self.nodes[node_id]
        if round_ > MAX_ROUND:
            raise RuntimeError(f"height {height} reached round {round_}: the simulated network lost liveness")
        node.round, node.round_start = round_, now
        suspect = self.proposer(height, 0) in node.failed_proposers
        timeout = self.policies[node_id].timeout_ms(height, suspect) * 2**round_
        self.at(now + timeout, "timer", node_id, height, round_)
        if self.proposer(height, round_) == node_id and round_ == 0:
            slow = self.faults.slow_every and height % self.faults.slow_every == 0
            delay = self.block_period + (self.faults.slow_ms if slow else 0.0)
            self.at(now + delay, "propose", node_id, height, 0, None)

    def on_propose(self, now: float, node_id: int, height: int, round_: int, block: str | None) -> None:
        node = self.nodes[node_id]
        if node.height != height or node.round != round_ or self.crashed(node_id, height):
            return
        self.broadcast(node_id, now, ("PROPOSAL", height, round_, block or f"{height}/{round_}/{node_id}", node_id))

    def on_timer(self, now: float, node_id: int, height: int, round_: int) -> None:
        node = self.nodes[node_id]
        if node.height != height or node.round != round_ or self.crashed(node_id, height):
            return
        if round_ == 0:
            node.failed_proposers.add(self.proposer(height, 0))
        self.broadcast(node_id, now, ("ROUND-CHANGE", height, round_ + 1, node.prepared, node_id))
        self.start_round(node_id, now, height, round_ + 1)

    def deliver(self, now: float, node_id: int, message: tuple[Any, ...]) -> None:
        node = self.nodes[node_id]
        kind, height = message[0], message[1]
        if self.crashed(node_id, node.height) or height < node.height:
            return
        if height > node.height:
            self.backlog[node_id].append((height, message))
            return
        handler = {
            "PROPOSAL": self._proposal,
            "PREPARE": self._vote,
            "COMMIT": self._vote,
            "ROUND-CHANGE": self._round_change,
        }[kind]
        handler(now, node_id, node, message)

    def _proposal(self, now: float, node_id: int, node: _Node, message: tuple[Any, ...]) -> None:
        _, height, round_, block, sender = message
        if sender != self.proposer(height, round_) or round_ < node.round or round_ in node.accepted:
            return
        if node.prepared is not None and node.prepared[1] != block:
            return  # locked on a prepared block: only its re-proposal is acceptable
        if round_ > node.round:
            self.start_round(node_id, now, height, round_)
        node.accepted[round_] = block
        self.broadcast(node_id, now, ("PREPARE", height, round_, block, node_id))
        for kind in ("PREPARE", "COMMIT"):  # votes that arrived before the proposal
            if self.nodes[node_id] is node and len(node.votes[(kind, height, round_, block)]) >= self.quorum:
                self._vote(now, node_id, node, (kind, height, round_, block, -1))

    def _vote(self, now: float, node_id: int, node: _Node, message: tuple[Any, ...]) -> None:
        kind, height, round_, block, sender = message
        voters = node.votes[(kind, height, round_, block)]
        if sender >= 0:
            voters.add(sender)
        if len(voters) < self.quorum or node.accepted.get(round_) != block:
            return
        if kind == "PREPARE" and round_ not in node.sent_commit:
            node.prepared = (round_, block)
            node.sent_commit.add(round_)
            self.broadcast(node_id, now, ("COMMIT", height, round_, block, node_id))
        elif kind == "COMMIT":
            self.decide(now, node_id, node, height, round_, block)

    def _round_change(self, now: float, node_id: int, node: _Node, message: tuple[Any, ...]) -> None:
        _, height, round_, prepared, sender = message
        senders = node.changes[(height, round_)]
        senders[sender] = prepared
        if round_ > node.round and len(senders) > self.n - self.quorum:  # f + 1 ask for a later round: catch up
            self.broadcast(node_id, now, ("ROUND-CHANGE", height, round_, node.prepared, node_id))
            self.start_round(node_id, now, height, round_)
        mine = self.proposer(height, round_) == node_id
        if mine and len(senders) >= self.quorum and node.round == round_ and round_ not in node.proposed:
            node.proposed.add(round_)
            certificates = [p for p in senders.values() if p is not None]
            when = max(now, node.height_start + self.block_period)  # a block is never earlier than the period
            self.at(when, "propose_rc", node_id, height, round_, max(certificates)[1] if certificates else None)

    def on_propose_rc(self, now: float, node_id: int, height: int, round_: int, block: str | None) -> None:
        node = self.nodes[node_id]
        if node.height == height and node.round == round_ and not self.crashed(node_id, height):
            self.broadcast(node_id, now, ("PROPOSAL", height, round_, block or f"{height}/{round_}/{node_id}", node_id))

    def decide(self, now: float, node_id: int, node: _Node, height: int, round_: int, block: str) -> None:
        self.outcome.committed[height].add(block)
        self.decided_at[height].append(now)
        self.round_of[height].append(round_)
        suspect = self.proposer(height, 0) in node.failed_proposers
        if round_ == 0:
            node.failed_proposers.discard(self.proposer(height, 0))
        self.policies[node_id].observe(height, suspect, now - node.height_start, round_)
        self.nodes[node_id] = _Node(height=height + 1, failed_proposers=node.failed_proposers)
        self.at(now, "height", node_id, height + 1)
        if len(self.decided_at[height]) == self.quorum:
            self.sync_laggards(now, height)

    def sync_laggards(self, now: float, height: int) -> None:
        """State sync: a validator that recovered from a crash, or fell behind, joins the next height."""
        for other, node in enumerate(self.nodes):
            if node.height <= height and not self.crashed(other, height + 1):
                self.nodes[other] = _Node(height=height + 1, failed_proposers=node.failed_proposers)
                self.at(now, "height", other, height + 1)

    def on_height(self, now: float, node_id: int, height: int) -> None:
        node = self.nodes[node_id]
        if node.height != height or node.height_start or node.round_start:
            return
        node.height_start = now
        self.start_round(node_id, now, height, 0)
        waiting = [m for h, m in self.backlog.pop(node_id, []) if h >= height]
        for message in waiting:
            self.deliver(now, node_id, message)

    # -- running --------------------------------------------------------------------------------------

    def run(self, heights: int) -> Outcome:
        """Simulate until ``heights`` heights are decided by a quorum (or the event queue runs dry)."""
        for node_id in range(self.n):
            self.at(0.0, "height", node_id, 1)
        handlers: dict[str, Callable[..., None]] = {
            "deliver": self.deliver,
            "timer": self.on_timer,
            "propose": self.on_propose,
            "propose_rc": self.on_propose_rc,
            "height": self.on_height,
        }
        while self.queue:
            now, _, kind, args = heapq.heappop(self.queue)
            if kind == "height" and args[1] > heights:
                continue
            handlers[kind](now, *args)
        return self.summarise(heights)

    def summarise(self, heights: int) -> Outcome:
        """Per height: the time between the quorum's commits of the previous and this height (what a transaction
        sent just after a block waits for the next one)."""
        previous = 0.0
        for height in range(1, heights + 1):
            times = sorted(self.decided_at.get(height, []))
            if len(times) < self.quorum:
                raise RuntimeError(f"height {height} was not decided by a quorum (liveness failure)")
            done = times[self.quorum - 1]
            self.outcome.latencies_ms.append(done - previous)
            self.outcome.round_changes.append(max(self.round_of[height]))
            self.outcome.faulty.append(self._faulty(height))
            previous = done
        return self.outcome

    def _faulty(self, height: int) -> bool:
        slow = bool(self.faults.slow_every) and height % self.faults.slow_every == 0
        return slow or self.crashed(self.proposer(height, 0), height)
