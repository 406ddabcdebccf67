"""Per-unit feature vectors for the learned detector: facts, function and contract context, which structural
rules fired, and hashed n-grams of the unit's tokens with every identifier renamed to its role ($S state, $P
parameter, $L local, $F other name): the model never sees a name, so it cannot memorise injected ones."""

from __future__ import annotations

import itertools
import zlib
from typing import Any

import numpy as np

from .facts import Facts, facts_of
from .parse import Function, Unit, walk
from .rules import RuleHit

KEYWORDS = frozenset(
    {
        "msg",
        "sender",
        "value",
        "data",
        "tx",
        "origin",
        "block",
        "timestamp",
        "number",
        "now",
        "blockhash",
        "difficulty",
        "coinbase",
        "gaslimit",
        "prevrandao",
        "call",
        "send",
        "transfer",
        "delegatecall",
        "callcode",
        "gas",
        "selfdestruct",
        "suicide",
        "keccak256",
        "sha3",
        "sha256",
        "require",
        "assert",
        "revert",
        "throw",
        "this",
        "balance",
        "length",
        "push",
        "address",
        "uint",
        "uint256",
        "uint8",
        "int",
        "bool",
        "bytes32",
        "ether",
        "wei",
        "days",
        "seconds",
        "abi",
        "encodePacked",
        "encode",
        "success",
        "true",
        "false",
        "delete",
    }
)
HASH_BUCKETS = 64
RULE_IDS = (
    "reentrancy-state-after-call",
    "unchecked-call-result",
    "unused-call-result",
    "tx-origin-auth",
    "unprotected-selfdestruct",
    "controlled-delegatecall",
    "unprotected-ether-withdrawal",
    "misnamed-constructor",
    "unprotected-privileged-write",
    "unchecked-arithmetic",
    "block-randomness",
    "timestamp-dependence",
    "call-in-loop",
    "revert-on-payout",
    "unbounded-loop",
    "growth-in-loop",
    "caller-bounded-loop",
    "unprotected-length-write",
    "unprotected-privileged-call",
    "order-dependent-payout",
    "revealed-solution",
    "approve-race",
    "uninitialised-storage-pointer",
)
FACT_FLAGS = (
    "unchecked",
    "check",
    "sender_check",
    "tx_origin",
    "timestamp",
    "random_source",
    "in_hash",
    "modulo",
    "selfdestruct",
    "reverts",
    "msg_value",
    "msg_sender",
    "push",
    "length_read",
    "constant_only_arith",
)
OPERATORS = ("+", "-", "*", "**", "+=", "-=", "*=", "++", "--")
CALL_KINDS = ("call", "send", "transfer", "delegatecall", "callcode")
UNIT_KINDS = ("stmt", "cond", "loop", "state")
FUNCTION_KINDS = ("function", "constructor", "fallback", "modifier", "state")


def feature_names() -> list[str]:
    """The column names, in order."""
    names = [f"fact:{f}" for f in FACT_FLAGS]
    names += [f"op:{o}" for o in OPERATORS] + [f"calls:{k}" for k in CALL_KINDS]
    names += ["calls:value", "writes:state", "writes:count", "reads:state", "reads:params", "comparisons"]
    names += [f"unit:{k}" for k in UNIT_KINDS] + ["unit:loop_depth", "unit:position", "unit:lines"]
    names += [f"function:{k}" for k in FUNCTION_KINDS]
    names += [
        "function:public",
        "function:payable",
        "function:modifiers",
        "function:guarded",
        "function:units",
        "function:call_before",
        "function:write_after",
        "function:checks",
    ]
    names += ["contract:library", "contract:safemath", "contract:minor"]
    names += [f"rule:{r}" for r in RULE_IDS] + [f"tok:{i}" for i in range(HASH_BUCKETS)]
    return names


def _role(name: str, state: dict[str, str], function: Function | None) -> str:
    if name in KEYWORDS:
        return name
    if function is not None and name in function.params:
        return "$P"
    if function is not None and name in function.locals:
        return "$L"
    return "$S" if name in state else "$F"


def tokens(unit: Unit, state: dict[str, str], function: Function | None) -> list[str]:
    """The unit's leaf tokens with identifiers renamed to roles and literals to $N / $STR."""
    out = []
    for node in walk(unit.node):
        if node.children:
            continue
        if node.type == "identifier":
            out.append(_role(node.text.decode("utf-8", "replace"), state, function))
        elif node.type in ("number_literal", "hex_number"):
            out.append("$N")
        elif node.type in ("string", "string_literal", "hex_string_literal"):
            out.append("$STR")
        else:
            out.append(node.type)
    return out


def _hashed(toks: list[str]) -> np.ndarray:
    counts = np.zeros(HASH_BUCKETS)
    grams = [*toks, *(a + " " + b for a, b in itertools.pairwise(toks))]
    for gram in grams:
        counts[zlib.crc32(gram.encode()) % HASH_BUCKETS] += 1
    return counts


def unit_vector(
    unit: Unit, function: Function | None, ctx: Any, hits: list[RuleHit], contract_kind: str, safemath: bool
) -> np.ndarray:
    """One unit's feature vector (``ctx`` is the rules' ``Context``)."""
    f: Facts = facts_of(unit)
    values: list[float] = [float(getattr(f, flag)) for flag in FACT_FLAGS]
    values += [float(f.arith.count(o)) for o in OPERATORS]
    values += [float(sum(c.kind == k for c in f.calls)) for k in CALL_KINDS]
    state_writes = [w for w in f.writes if w in ctx.state]
    params = function.params if function is not None else frozenset()
    values += [
        float(any(c.value for c in f.calls)),
        float(bool(state_writes)),
        float(len(f.writes)),
        float(len(f.reads & set(ctx.state))),
        float(len(f.reads & params)),
        float(f.comparisons),
    ]
    values += [float(unit.kind == k) for k in UNIT_KINDS]
    n = len(function.units) if function is not None else 1
    values += [float(unit.loop_depth), unit.order / max(n, 1), float(unit.end_line - unit.start_line + 1)]
    values += _function_values(unit, function, ctx)
    values += [float(contract_kind == "library"), float(safemath), float(ctx.minor if ctx.minor is not None else -1)]
    fired = {h.rule: h.confidence for h in hits}
    values += [fired.get(r, 0.0) for r in RULE_IDS]
    return np.concatenate([np.asarray(values), _hashed(tokens(unit, ctx.state, function))])


def _function_values(unit: Unit, function: Function | None, ctx: Any) -> list[float]:
    kind = function.kind if function is not None else "state"
    values = [float(kind == k) for k in FUNCTION_KINDS]
    if function is None:
        return [*values, *([0.0] * 8)]
    before = function.units[: unit.order]
    after = function.units[unit.order + 1 :]
    return [
        *values,
        float(function.public),
        float(function.payable),
        float(len(function.modifiers)),
        float(ctx.guarded(function)),
        float(len(function.units)),
        float(any(facts_of(u).calls for u in before)),
        float(any(w in ctx.state for u in after for w in facts_of(u).writes)),
        float(sum(facts_of(u).check for u in function.units)),
    ]
