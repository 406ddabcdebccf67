"""Necessary conditions for each category (a statement cannot be a reentrancy without a call or a write after
one, nor an overflow without arithmetic): the learned model only reports, and only learns from, statements that
pass its category's gate."""

from __future__ import annotations

from collections.abc import Callable

from .facts import Facts, facts_of
from .parse import Function, Unit
from .rules import Context


def _calls_before(unit: Unit, function: Function | None) -> bool:
    return function is not None and any(facts_of(u).calls for u in function.units[: unit.order])


def _reentrancy(f: Facts, unit: Unit, fn: Function | None, ctx: Context) -> bool:
    writes_state = fn is not None and any(ctx.is_state(w, fn) for w in f.writes)
    return bool(f.calls) or (writes_state and _calls_before(unit, fn))


def _unchecked(f: Facts, unit: Unit, fn: Function | None, ctx: Context) -> bool:
    wrapped = f.check and unit.kind == "stmt"  # require(x.send(v)) / assert(...) handle the result
    return not wrapped and any(c.kind in ("call", "send", "delegatecall", "callcode") for c in f.calls)


def _access(f: Facts, unit: Unit, fn: Function | None, ctx: Context) -> bool:
    if f.tx_origin or f.selfdestruct or any(c.value or c.kind == "delegatecall" for c in f.calls):
        return True
    return fn is not None and fn.public and any(w in ctx.privileged for w in f.writes)


def _arithmetic(f: Facts, unit: Unit, fn: Function | None, ctx: Context) -> bool:
    library = fn is not None and fn.contract.kind == "library"
    return bool(f.arith) and (ctx.minor is None or ctx.minor < 8) and not library


def _time(f: Facts, unit: Unit, fn: Function | None, ctx: Context) -> bool:
    return f.timestamp or bool(f.reads & ctx.tainted)


def _randomness(f: Facts, unit: Unit, fn: Function | None, ctx: Context) -> bool:
    return f.random_source or f.timestamp or bool(f.reads & ctx.tainted)


def _front_running(f: Facts, unit: Unit, fn: Function | None, ctx: Context) -> bool:
    if fn is None:
        return False
    raced = set(ctx.raced(fn))
    paid = any(c.value and (c.receiver in raced or f.reads & raced) for c in f.calls)
    return paid or bool(f.writes & raced) or (f.hashes and f.check)


def _dos(f: Facts, unit: Unit, fn: Function | None, ctx: Context) -> bool:
    return (bool(f.calls) and (unit.loop_depth > 0 or any(c.receiver in ctx.state for c in f.calls))) or (
        unit.kind == "loop" and f.length_read
    )


def _never(f: Facts, unit: Unit, fn: Function | None, ctx: Context) -> bool:
    return False


Gate = Callable[[Facts, Unit, Function | None, Context], bool]
GATES: dict[str, Gate] = {
    "reentrancy": _reentrancy,
    "access_control": _access,
    "arithmetic": _arithmetic,
    "unchecked_low_level_calls": _unchecked,
    "denial_of_service": _dos,
    "bad_randomness": _randomness,
    "front_running": _front_running,
    "time_manipulation": _time,
    "short_addresses": _never,
    "other": _never,
}


def plausible(category: str, unit: Unit, function: Function | None, ctx: Context) -> bool:
    """Whether ``unit`` meets the necessary condition of ``category``."""
    return GATES[category](facts_of(unit), unit, function, ctx)
