"""Structural detectors: vulnerability semantics over statement facts (external call before a state write,
tx.origin checks, ignored call results, block values as randomness or clocks, unprotected ether, selfdestruct and
ownership changes, arithmetic in pre-0.8 code, calls in loops, order-dependent payouts)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from .categories import SWC
from .facts import Facts, compact, facts_of, guarded, sender_modifiers
from .parse import Function, SourceModel, Unit

PRIVILEGED_HINTS = ("owner", "admin", "creator", "ceo", "manager", "controller")


@dataclass(frozen=True)
class RuleHit:
    """One detector's finding on one unit."""

    category: str
    rule: str
    confidence: float
    explanation: str
    unit: Unit
    swc: str | None = None
    from_line: int | None = None
    """Where the finding starts when it is about the whole function (its header), not only the statement."""

    @property
    def start_line(self) -> int:
        """First line of the finding."""
        return min(self.from_line or self.unit.start_line, self.unit.start_line)

    @property
    def swc_id(self) -> str | None:
        """The rule's SWC id, or the category's."""
        return self.swc or SWC[self.category]


@dataclass
class Context:
    """What the rules need to know about the whole file."""

    model: SourceModel
    minor: int | None
    state: dict[str, str]
    modifiers: dict[str, bool]
    privileged: set[str] = field(default_factory=set)
    calling: set[str] = field(default_factory=set)
    privileged_writers: set[str] = field(default_factory=set)
    """Functions that write an owner-like variable."""
    """Functions that make a low-level call, send or transfer themselves."""
    contracts: set[str] = field(default_factory=set)
    libraries: set[str] = field(default_factory=set)
    tainted: set[str] = field(default_factory=set)
    writers: dict[str, list[Function]] = field(default_factory=dict)

    def is_state(self, name: str, function: Function) -> bool:
        """A state variable (or a local storage alias of one) that ``function`` does not shadow."""
        declared = function.locals.get(name)
        if declared is not None:
            return "storage" in declared or (declared.startswith("var") and name in self.aliases(function))
        return name in self.state and name not in function.params

    def aliases(self, function: Function) -> set[str]:
        """Locals assigned from a state variable (``var acc = Acc[msg.sender]``)."""
        found = set()
        for unit in function.units:
            f = facts_of(unit)
            if f.declared and f.reads & set(self.state):
                found.update(f.declared)
        return found

    def raced(self, function: Function) -> list[str]:
        """Scalar state variables (not mappings or arrays) another public function writes."""
        return [
            name
            for name, writers in self.writers.items()
            if name in self.state
            and "mapping" not in self.state[name]
            and "[" not in self.state[name]
            and any(w is not function for w in writers)
        ]

    def guarded(self, function: Function) -> bool:
        """Only some callers get through ``function``."""
        return guarded(function, self.modifiers)


def build_context(model: SourceModel, minor: int | None) -> Context:
    """The file-wide context: state variables, caller-checking modifiers, privileged and block-tainted variables."""
    ctx = Context(model, minor, model.state_vars(), sender_modifiers(model))
    ctx.contracts = {c.name for c in model.contracts}
    ctx.libraries = {c.name for c in model.contracts if c.kind == "library"}
    for function in model.functions():
        if any(c.kind in ("call", "callcode", "delegatecall") for u in function.units for c in facts_of(u).calls):
            ctx.calling.add(function.name)
        for unit in function.units:
            f = facts_of(unit)
            if f.sender_check:
                ctx.privileged.update(n for n in f.sender_peers if n in ctx.state)
            if f.timestamp or f.random_source:
                ctx.tainted.update(f.writes)
                ctx.tainted.update(f.declared)
            for name in f.writes:
                if function.public and function.kind == "function":
                    ctx.writers.setdefault(name, []).append(function)
    for contract in model.contracts:
        for unit in contract.state_units:
            f = facts_of(unit)
            if f.timestamp or f.random_source:
                ctx.tainted.update(n for n in contract.state_vars if n in f.reads or n in unit.text.split("=")[0])
    ctx.privileged.update(n for n in ctx.state if any(h in n.lower() for h in PRIVILEGED_HINTS))
    ctx.privileged.discard("msg")
    for function in model.functions():
        if function.kind == "function" and any(facts_of(u).writes & ctx.privileged for u in function.units):
            ctx.privileged_writers.add(function.name)
    return ctx


Rule = Callable[[Context, Function], Iterator[RuleHit]]


def call_sites(ctx: Context, fn: Function, unit: Unit) -> list[tuple[str, str, int]]:
    """Where a unit hands control to other code: low-level calls, sends, transfers, calls into other contracts,
    and calls of this contract's functions that make such calls: (kind, receiver, line)."""
    f = facts_of(unit)
    sites = [(c.kind, c.receiver, c.line) for c in f.calls]
    sites += [("internal", name, line) for name, line in f.internal_calls if name in ctx.calling and name != fn.name]
    for target, method, line in f.member_calls:
        declared = fn.locals.get(target) or ctx.state.get(target) or ""
        kind = target if target[0].isupper() else declared.split(" ")[0]
        if kind in ctx.contracts and kind not in ctx.libraries:
            sites.append(("external", f"{target}.{method}", line))
    return sites


def reentrancy(ctx: Context, fn: Function) -> Iterator[RuleHit]:
    """An external call that sends ether or hands over control, followed by a write to contract state."""
    if any("reentr" in m.lower() or m.lower() in ("lock", "mutex", "noreentrancy") for m in fn.modifiers):
        return
    for i, unit in enumerate(fn.units):
        for kind, receiver, line in call_sites(ctx, fn, unit):
            written = sorted({w for u in fn.units[i + 1 :] for w in facts_of(u).writes if ctx.is_state(w, fn)})
            if not written and not _writes_after_in_unit(unit, line, ctx, fn):
                continue
            confidence = {"call": 0.85, "callcode": 0.8, "delegatecall": 0.7, "internal": 0.6, "external": 0.55}
            value = any(c.value for c in facts_of(unit).calls)
            yield RuleHit(
                "reentrancy",
                "reentrancy-state-after-call",
                confidence.get(kind, 0.45) if kind != "call" or value else 0.7,
                f"{kind} to {receiver or 'an address'} runs before state "
                f"{', '.join(written[:3]) or 'variables'} is written: the callee can re-enter first",
                unit,
            )
            break


def _writes_after_in_unit(unit: Unit, line: int, ctx: Context, fn: Function) -> bool:
    f = facts_of(unit)
    return unit.kind == "stmt" and any(ctx.is_state(w, fn) for w in f.writes) and unit.end_line > line


def unchecked_calls(ctx: Context, fn: Function) -> Iterator[RuleHit]:
    """A low-level call or send whose success value is thrown away, or stored and never read."""
    for i, unit in enumerate(fn.units):
        f = facts_of(unit)
        if f.unchecked:
            kind = f.calls[0].kind if f.calls else "call"
            yield RuleHit(
                "unchecked_low_level_calls",
                "unchecked-call-result",
                0.85,
                f"the boolean {kind} returns is ignored: a failed call is not noticed and execution goes on",
                unit,
            )
        elif f.calls and f.declared and not f.check:
            later_reads = set().union(*(facts_of(u).reads for u in fn.units[i + 1 :])) if fn.units[i + 1 :] else set()
            if f.calls[0].kind in ("call", "send", "delegatecall") and not set(f.declared) & later_reads:
                yield RuleHit(
                    "unchecked_low_level_calls",
                    "unused-call-result",
                    0.7,
                    f"the success flag of {f.calls[0].kind} is stored in {f.declared[0]} and never checked",
                    unit,
                )


def access_control(ctx: Context, fn: Function) -> Iterator[RuleHit]:
    """tx.origin checks, and selfdestruct, delegatecall, ownership changes or ether outflows anyone can trigger."""
    for unit in fn.units:
        f = facts_of(unit)
        if f.tx_origin and f.check:
            yield RuleHit(
                "access_control",
                "tx-origin-auth",
                0.9,
                "authorisation by tx.origin: any contract the owner calls can act as the owner",
                unit,
                "SWC-115",
            )
    if not fn.public or fn.kind not in ("function", "fallback") or ctx.guarded(fn):
        return
    yield from _unprotected(ctx, fn)


def _unprotected(ctx: Context, fn: Function) -> Iterator[RuleHit]:
    has_checks = any(facts_of(u).check for u in fn.units)
    for unit in fn.units:
        f = facts_of(unit)
        if f.selfdestruct:
            yield RuleHit(
                "access_control",
                "unprotected-selfdestruct",
                0.85,
                "selfdestruct is reachable by any caller",
                unit,
                "SWC-106",
                fn.start_line,
            )
        for call in f.calls:
            if call.kind in ("delegatecall", "callcode") and (call.receiver in fn.params or "msg.data" in unit.text):
                yield RuleHit(
                    "access_control",
                    "controlled-delegatecall",
                    0.7,
                    f"{call.kind} to a target or data the caller chooses",
                    unit,
                    "SWC-112",
                    fn.start_line,
                )
            elif call.value and not has_checks and not f.msg_value and _free_ether(ctx, fn, call.receiver):
                yield RuleHit(
                    "access_control",
                    "unprotected-ether-withdrawal",
                    0.6,
                    f"any caller gets ether: {call.kind} with no check on who calls or how much",
                    unit,
                    None,
                    fn.start_line,
                )
        yield from _storage_and_setup(ctx, fn, unit, f)
        owned = [w for w in f.writes if w in ctx.privileged and ctx.is_state(w, fn)]
        if owned and fn.kind == "function":
            misnamed = fn.name.lower() == fn.contract.name.lower() and fn.name != fn.contract.name
            yield RuleHit(
                "access_control",
                "misnamed-constructor" if misnamed else "unprotected-privileged-write",
                0.75 if misnamed else 0.6,
                f"anyone can set {owned[0]}, which guards privileged functions"
                + (" (this was meant as the constructor)" if misnamed else ""),
                unit,
                "SWC-118" if misnamed else "SWC-105",
                fn.start_line,
            )


def _storage_and_setup(ctx: Context, fn: Function, unit: Unit, f: Facts) -> Iterator[RuleHit]:
    """An array length anyone can change (arbitrary storage writes), and setup functions anyone can call."""
    if any(t.endswith(".length") for t in f.write_targets):
        yield RuleHit(
            "access_control",
            "unprotected-length-write",
            0.6,
            "any caller changes a storage array's length: with an index it then reaches any storage slot",
            unit,
            "SWC-124",
            fn.start_line,
        )
    for name, _ in f.internal_calls:
        if name in ctx.privileged_writers and name != fn.name:
            yield RuleHit(
                "access_control",
                "unprotected-privileged-call",
                0.55,
                f"any caller reaches {name}, which sets the variables that guard privileged functions",
                unit,
                "SWC-105",
                fn.start_line,
            )
            break


def _free_ether(ctx: Context, fn: Function, receiver: str) -> bool:
    """Ether goes to the caller or a caller-chosen address from a function without any condition."""
    return receiver in ("msg.sender", "tx.origin") or receiver in fn.params or receiver.startswith("address(")


def arithmetic(ctx: Context, fn: Function) -> Iterator[RuleHit]:
    """Integer arithmetic that can wrap: pre-0.8 code, not a SafeMath-style helper, no bound check around it."""
    if ctx.minor is None or ctx.minor >= 8 or fn.contract.kind == "library" or fn.kind == "modifier":
        return
    bounds: list[str] = []
    for i, unit in enumerate(fn.units):
        f = facts_of(unit)
        if f.check and not f.arith and f.comparisons:
            bounds.append(compact(unit.node))  # a check that does arithmetic itself ("a - b >= 0") bounds nothing
        ops = [op for op in f.arith if op not in ("++", "--") or (unit.loop_depth == 0 and unit.kind != "loop")]
        if unit.kind == "loop":
            ops = [op for op in ops if op not in ("+=", "+", "-=", "-")]  # loop counters and bounds
        if not ops:
            continue
        targets = f.write_targets or sorted(f.reads & set(ctx.state))
        bounded = any(t and t in b for t in targets for b in bounds) or _checked_after(fn, i, f)
        on_state = any(ctx.is_state(w, fn) for w in f.writes)
        confidence = 0.35 if bounded else 0.6 if on_state or "-" in ops or "-=" in ops else 0.5
        yield RuleHit(
            "arithmetic",
            "unchecked-arithmetic",
            confidence,
            f"'{ops[0]}' on uint values in Solidity 0.{ctx.minor} wraps silently (no SafeMath, no overflow check)",
            unit,
        )


def _checked_after(fn: Function, index: int, f: Facts) -> bool:
    """``c = a + b; require(c >= a)``: the result is compared right after (the SafeMath pattern)."""
    names = set(f.declared) | f.writes
    for later in fn.units[index + 1 : index + 3]:
        g = facts_of(later)
        if g.check and g.comparisons and names & g.reads:
            return True
    return False


def randomness(ctx: Context, fn: Function) -> Iterator[RuleHit]:
    """Block values (blockhash, number, difficulty, coinbase, timestamp) hashed or reduced to pick an outcome."""
    for unit in fn.units:
        f = facts_of(unit)
        tainted = f.reads & ctx.tainted
        derived = (f.modulo or f.in_hash or bool(f.arith)) and tainted
        if f.random_source or (f.in_hash and (f.timestamp or tainted)) or derived:
            source = "blockhash/block number" if f.random_source else "a block value"
            yield RuleHit(
                "bad_randomness",
                "block-randomness",
                0.75 if f.random_source or f.in_hash else 0.5,
                f"{source} used as a source of randomness: miners and callers can predict or steer it",
                unit,
            )


def time_dependence(ctx: Context, fn: Function) -> Iterator[RuleHit]:
    """Conditions, payouts or stored values that depend on block.timestamp / now."""
    for unit in fn.units:
        f = facts_of(unit)
        if f.timestamp:
            confidence = 0.7 if f.check or f.modulo or f.comparisons else 0.5
            yield RuleHit(
                "time_manipulation",
                "timestamp-dependence",
                confidence,
                "depends on block.timestamp, which the block producer can shift by several seconds",
                unit,
            )


def denial_of_service(ctx: Context, fn: Function) -> Iterator[RuleHit]:
    """An external call inside a loop, a payout whose failure reverts everything, or an unbounded growing loop."""
    for unit in fn.units:
        f = facts_of(unit)
        for call in f.calls:
            if unit.loop_depth > 0:
                yield RuleHit(
                    "denial_of_service",
                    "call-in-loop",
                    0.6,
                    f"{call.kind} inside a loop: one failing or expensive recipient blocks every other",
                    unit,
                    "SWC-113",
                )
                break
            if (
                call.kind in ("send", "transfer")
                and call.receiver in ctx.state
                and (f.check or call.kind == "transfer")
            ):
                yield RuleHit(
                    "denial_of_service",
                    "revert-on-payout",
                    0.5,
                    f"a failing payment to {call.receiver} reverts the whole call (the recipient can block it)",
                    unit,
                    "SWC-113",
                )
        if unit.loop_depth > 0 and f.push and unit.kind != "loop":
            yield RuleHit(
                "denial_of_service",
                "growth-in-loop",
                0.5,
                "a storage array grows inside a loop: the loops over it later can exceed the block gas limit",
                unit,
                "SWC-128",
            )
        if unit.kind == "loop" and f.comparisons and f.reads & fn.params and _loop_writes_state(ctx, fn, unit):
            yield RuleHit(
                "denial_of_service",
                "caller-bounded-loop",
                0.5,
                "the caller sets how often a loop that writes storage runs: a large value exceeds the block gas limit",
                unit,
                "SWC-128",
            )
        if unit.kind == "loop" and f.length_read and any(n in ctx.state for n in f.reads):
            yield RuleHit(
                "denial_of_service",
                "unbounded-loop",
                0.5,
                "a loop over a storage array that keeps growing can exceed the block gas limit",
                unit,
                "SWC-128",
            )


def _loop_writes_state(ctx: Context, fn: Function, header: Unit) -> bool:
    body = [u for u in fn.units[header.order + 1 :] if u.loop_depth >= header.loop_depth and u.kind != "loop"]
    return any(ctx.is_state(w, fn) for u in body[:8] for w in facts_of(u).writes) or any(
        facts_of(u).push for u in body[:8]
    )


def front_running(ctx: Context, fn: Function) -> Iterator[RuleHit]:
    """A payout whose amount or recipient another public function can change first, or a revealed answer."""
    if fn.kind != "function" or not fn.public:
        return
    for unit in fn.units:
        f = facts_of(unit)
        for call in f.calls:
            raced = [n for n in ctx.raced(fn) if n == call.receiver or n in f.reads]
            if call.value and raced:
                yield RuleHit(
                    "front_running",
                    "order-dependent-payout",
                    0.55,
                    f"the payment depends on {raced[0]}, which another transaction can change first",
                    unit,
                )
                break
        if f.hashes and f.check and any(p in f.reads for p in fn.params) and _pays(fn):
            yield RuleHit(
                "front_running",
                "revealed-solution",
                0.6,
                "a submitted answer is checked in the clear and rewarded: it can be copied from the "
                "mempool with a higher gas price",
                unit,
            )
    yield from _approve_race(ctx, fn)


def _pays(fn: Function) -> bool:
    return any(c.value for u in fn.units for c in facts_of(u).calls)


def _approve_race(ctx: Context, fn: Function) -> Iterator[RuleHit]:
    for unit in fn.units:
        f = facts_of(unit)
        for target in f.write_targets:
            if (
                target.count("[") == 2
                and "[msg.sender]" in target
                and f.writes <= set(ctx.state)
                and len(fn.params) == 2
                and not any("==0" in u.text.replace(" ", "") for u in fn.units if facts_of(u).check)
            ):
                yield RuleHit(
                    "front_running",
                    "approve-race",
                    0.5,
                    "an allowance is overwritten in place: the spender can spend the old and the new "
                    "one by front-running the change",
                    unit,
                )


def other(ctx: Context, fn: Function) -> Iterator[RuleHit]:
    """Uninitialised storage pointers in pre-0.5 code."""
    if ctx.minor is None or ctx.minor >= 5:
        return
    for unit in fn.units:
        if unit.node.type == "variable_declaration_statement" and "=" not in unit.text:
            declared = facts_of(unit).declared
            kinds = [fn.locals.get(d, "") for d in declared]
            if any(k and k[0].isupper() and "memory" not in k for k in kinds):
                yield RuleHit(
                    "other",
                    "uninitialised-storage-pointer",
                    0.5,
                    "an uninitialised struct local is a storage pointer to slot 0: writing it overwrites state",
                    unit,
                    "SWC-109",
                )


RULES: tuple[Rule, ...] = (
    reentrancy,
    unchecked_calls,
    access_control,
    arithmetic,
    randomness,
    time_dependence,
    denial_of_service,
    front_running,
    other,
)


def state_hits(ctx: Context) -> Iterator[RuleHit]:
    """Findings on state variable initialisers (``uint t = block.timestamp``)."""
    for contract in ctx.model.contracts:
        for unit in contract.state_units:
            f: Facts = facts_of(unit)
            if f.timestamp:
                yield RuleHit(
                    "time_manipulation",
                    "timestamp-dependence",
                    0.5,
                    "a state variable is initialised from block.timestamp",
                    unit,
                )
            if f.random_source or f.timestamp:
                yield RuleHit(
                    "bad_randomness",
                    "block-randomness",
                    0.6 if f.random_source else 0.5,
                    "a state variable is seeded from block values",
                    unit,
                )


def run_rules(ctx: Context) -> list[RuleHit]:
    """Every rule on every function, plus state initialisers."""
    hits = list(state_hits(ctx))
    for function in ctx.model.functions():
        if function.contract.kind == "interface":
            continue
        for rule in RULES:
            hits.extend(rule(ctx, function))
    return hits
