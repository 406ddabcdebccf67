"""What each statement unit does, read from its syntax: calls (low-level, send, transfer), state written and read,
block values, arithmetic, checks. Detectors and features are built on these facts, not on names."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .parse import Function, SourceModel, Unit, text, walk

ARITH_BINARY = frozenset({"+", "-", "*", "**"})
ARITH_ASSIGN = frozenset({"+=", "-=", "*="})
COMPARISONS = frozenset({"==", "!=", "<", ">", "<=", ">="})
HASHES = frozenset({"keccak256", "sha3", "sha256", "ripemd160"})
CHECKS = frozenset({"require", "assert"})
CLOCKS = frozenset({"now", "block.timestamp", "block.number"})
RANDOM_SOURCES = (
    "block.number",
    "blockhash",
    "block.blockhash",
    "block.difficulty",
    "block.coinbase",
    "block.prevrandao",
    "block.gaslimit",
)
_LOWCALL = re.compile(r"\.(call|delegatecall|callcode)\b")


@dataclass(frozen=True)
class Call:
    """An outgoing call: ``kind`` is call, delegatecall, callcode, send or transfer; ``receiver`` its target text."""

    kind: str
    receiver: str
    value: bool
    line: int


@dataclass
class Facts:
    """The facts of one unit."""

    calls: list[Call] = field(default_factory=list)
    unchecked: bool = False
    writes: set[str] = field(default_factory=set)
    write_targets: list[str] = field(default_factory=list)
    reads: set[str] = field(default_factory=set)
    arith: list[str] = field(default_factory=list)
    arith_lines: list[int] = field(default_factory=list)
    comparisons: int = 0
    check: bool = False
    sender_check: bool = False
    tx_origin: bool = False
    timestamp: bool = False
    random_source: bool = False
    in_hash: bool = False
    hashes: bool = False
    modulo: bool = False
    selfdestruct: bool = False
    reverts: bool = False
    msg_value: bool = False
    msg_sender: bool = False
    internal_calls: list[tuple[str, int]] = field(default_factory=list)
    """Calls to functions by bare name (this contract's): (name, line)."""
    member_calls: list[tuple[str, str, int]] = field(default_factory=list)
    """``X(...).f()`` or ``x.f()`` calls that are not low-level: (type or variable, function, line)."""
    sender_peers: set[str] = field(default_factory=set)
    """Variables compared with msg.sender or tx.origin by == or != (owners, admins)."""
    declared: list[str] = field(default_factory=list)
    declared_types: list[str] = field(default_factory=list)
    constant_only_arith: bool = False
    push: bool = False
    length_read: bool = False


def compact(node: Any) -> str:
    """A node's text without whitespace."""
    return re.sub(r"\s+", "", text(node))


def _outermost_calls(nodes: list[Any]) -> list[Any]:
    """Call expressions that are not the callee of an enclosing call (``x.call.value(1)("")`` is one call)."""
    found = []
    for n in nodes:
        if n.type != "call_expression":
            continue
        parent = n.parent.parent if n.parent is not None and n.parent.type == "expression" else n.parent
        is_callee = (
            parent is not None
            and parent.type in ("call_expression", "struct_expression")
            and parent.child_by_field_name("function") is not None
            and parent.child_by_field_name("function").start_byte == n.parent.start_byte
        )
        if not is_callee:
            found.append(n)
    return found


def classify_call(node: Any) -> Call | None:
    """The low-level call, send or ether transfer a call expression makes, if any."""
    callee = compact(node.child_by_field_name("function"))
    args = [c for c in node.children if c.type == "call_argument"]
    line = node.start_point[0] + 1
    match = _LOWCALL.search(callee)
    if match:
        receiver = callee[: match.start()]
        return Call(match.group(1), receiver, "value" in callee[match.end() :], line)
    if callee.endswith(".send"):
        return Call("send", callee[: -len(".send")], True, line)
    if callee.endswith(".transfer") and len(args) == 1:
        return Call("transfer", callee[: -len(".transfer")], True, line)
    return None


def root_name(node: Any) -> str:
    """The variable an lvalue writes: ``a`` for ``a``, ``a[i][j]``, ``a.b``, ``a[i].b``."""
    current = node
    while current is not None:
        if current.type == "identifier":
            return text(current)
        if current.type in ("array_access", "member_expression"):
            current = current.children[0]
        elif current.type in ("expression", "parenthesized_expression"):
            named = [c for c in current.children if c.is_named]
            current = named[0] if named else None
        else:
            return ""
    return ""


def unit_facts(unit: Unit) -> Facts:
    """Read one unit's facts from its syntax tree."""
    facts = Facts()
    node = unit.node
    nodes = list(walk(node))
    for call in _outermost_calls(nodes):
        found = classify_call(call)
        if found is not None:
            facts.calls.append(found)
        callee = compact(call.child_by_field_name("function"))
        if callee in CHECKS:
            facts.check = True
        elif callee in ("selfdestruct", "suicide"):
            facts.selfdestruct = True
        elif callee in ("revert",):
            facts.reverts = True
        elif callee.endswith(".push"):
            facts.push = True
        elif found is None:
            _other_call(facts, callee, call.start_point[0] + 1)
    _expression_facts(facts, nodes)
    facts.check = facts.check or unit.kind == "cond"
    facts.sender_peers.discard("")
    facts.sender_check = facts.check and bool(
        facts.sender_peers or facts.tx_origin or (facts.msg_sender and not facts.comparisons)
    )
    facts.unchecked = unit.kind == "stmt" and node.type == "expression_statement" and _bare_call(node)
    return facts


_CAST_CALL = re.compile(r"^([A-Z]\w*)\(.+\)\.(\w+)$")
_MEMBER_CALL = re.compile(r"^(\w+)\.(\w+)$")
NOT_CALLS = frozenset(
    {
        *CHECKS,
        "revert",
        "keccak256",
        "sha3",
        "sha256",
        "ripemd160",
        "ecrecover",
        "addmod",
        "mulmod",
        "blockhash",
        "gasleft",
        "address",
        "uint",
        "uint256",
        "bytes32",
        "payable",
        "emit",
    }
)


def _other_call(facts: Facts, callee: str, line: int) -> None:
    """Calls to this contract's functions (by bare name) and to other contracts (``Bank(a).f()``, ``token.f()``)."""
    if re.fullmatch(r"\w+", callee):
        if callee not in NOT_CALLS and not callee[0].isupper():
            facts.internal_calls.append((callee, line))
        return
    cast = _CAST_CALL.match(callee)
    if cast is not None:
        facts.member_calls.append((cast.group(1), cast.group(2), line))
        return
    member = _MEMBER_CALL.match(callee)
    if member is not None and member.group(1) not in ("msg", "block", "tx", "abi", "this", "super", "bytes", "string"):
        facts.member_calls.append((member.group(1), member.group(2), line))


def _expression_facts(facts: Facts, nodes: list[Any]) -> None:
    for n in nodes:
        kind = n.type
        if kind == "identifier":
            name = text(n)
            facts.reads.add(name)
            if name == "now":
                facts.timestamp = True
            elif name == "throw":
                facts.reverts = True
            elif name in HASHES:
                facts.hashes = True
                facts.in_hash = facts.in_hash or _hash_of_block_values(n)
        elif kind == "member_expression":
            _member_facts(facts, compact(n))
        elif kind in ("assignment_expression", "augmented_assignment_expression", "update_expression"):
            _write_facts(facts, n)
        elif kind == "binary_expression":
            _binary_facts(facts, n)
        elif kind == "variable_declaration":
            name = n.child_by_field_name("name")
            if name is not None:
                facts.declared.append(text(name))
                kind, location = n.child_by_field_name("type"), n.child_by_field_name("location")
                facts.declared_types.append(text(kind) + (" " + text(location) if location is not None else ""))
        elif kind == "revert_statement":
            facts.reverts = True


def _member_facts(facts: Facts, member: str) -> None:
    if member == "tx.origin":
        facts.tx_origin = True
    elif member == "block.timestamp":
        facts.timestamp = True
    elif member == "msg.value":
        facts.msg_value = True
    elif member == "msg.sender":
        facts.msg_sender = True
    elif member.endswith(".length"):
        facts.length_read = True
    if member in RANDOM_SOURCES or member.startswith("block.blockhash"):
        facts.random_source = True


def _write_facts(facts: Facts, node: Any) -> None:
    target = node.child_by_field_name("left") or node.child_by_field_name("argument")
    if target is None:
        return
    name = root_name(target)
    if name:
        facts.writes.add(name)
        facts.write_targets.append(compact(target))
    operator = next((text(c) for c in node.children if not c.is_named and text(c) in ARITH_ASSIGN | {"++", "--"}), None)
    if operator is not None:
        facts.arith.append(operator)
        facts.arith_lines.append(node.start_point[0] + 1)


def _binary_facts(facts: Facts, node: Any) -> None:
    operator = node.child_by_field_name("operator")
    op = text(operator) if operator is not None else ""
    if op in ARITH_BINARY:
        operands = [node.child_by_field_name("left"), node.child_by_field_name("right")]
        if all(o is not None and _constant(o) for o in operands) or _clock_offset(operands):
            facts.constant_only_arith = True
            return
        facts.arith.append(op)
        facts.arith_lines.append(node.start_point[0] + 1)
    elif op in COMPARISONS:
        facts.comparisons += 1
        sides = [node.child_by_field_name("left"), node.child_by_field_name("right")]
        texts = [compact(side) for side in sides]
        if op in ("==", "!=") and any(t in ("msg.sender", "tx.origin") for t in texts):
            facts.sender_peers.update(
                root_name(side)
                for side, t in zip(sides, texts, strict=True)
                if t not in ("msg.sender", "tx.origin") and side is not None
            )
    elif op == "%":
        facts.modulo = True


def _clock_offset(operands: list[Any]) -> bool:
    """``now + 1 weeks``, ``block.number - 1``: a block value moved by a constant cannot wrap in practice."""
    texts = [compact(o) for o in operands if o is not None]
    return len(texts) == 2 and any(t in CLOCKS for t in texts) and any(_constant(o) for o in operands if o is not None)


def _constant(node: Any) -> bool:
    """A literal (possibly with units), or arithmetic over literals only."""
    leaves = [n for n in walk(node) if not n.children]
    names = [text(n) for n in leaves if n.type == "identifier"]
    units = {"ether", "wei", "gwei", "finney", "szabo", "seconds", "minutes", "hours", "days", "weeks", "years"}
    return all(name in units for name in names)


def _hash_of_block_values(identifier: Any) -> bool:
    call = identifier.parent
    while call is not None and call.type != "call_expression":
        call = call.parent
    if call is None:
        return False
    body = compact(call)
    return any(s in body for s in (*RANDOM_SOURCES, "block.timestamp", "now"))


def _bare_call(statement: Any) -> bool:
    """An expression statement that is only a low-level call or send: its result is thrown away."""
    expression = next((c for c in statement.children if c.is_named), None)
    if expression is None:
        return False
    inner = next((c for c in expression.children if c.is_named), None)
    if inner is None or inner.type != "call_expression":
        return False
    found = classify_call(inner)
    return found is not None and found.kind in ("call", "delegatecall", "callcode", "send")


def annotate(model: SourceModel) -> None:
    """Fill every unit's ``facts`` (state initialisers included)."""
    for contract in model.contracts:
        for unit in contract.state_units:
            unit.facts["f"] = unit_facts(unit)
        for function in contract.functions:
            for unit in function.units:
                found = unit.facts["f"] = unit_facts(unit)
                function.locals.update(zip(found.declared, found.declared_types, strict=True))


def facts_of(unit: Unit) -> Facts:
    """The facts ``annotate`` stored on a unit."""
    found = unit.facts.get("f")
    assert isinstance(found, Facts)
    return found


def guarded(function: Function, model_modifiers: dict[str, bool]) -> bool:
    """Whether only some callers get through: a modifier that checks the caller, or a check on msg.sender/tx.origin."""
    if any(model_modifiers.get(m, m.lower().startswith("only")) for m in function.modifiers):
        return True
    return any(facts_of(u).sender_check for u in function.units)


def sender_modifiers(model: SourceModel) -> dict[str, bool]:
    """Modifier name -> whether its body checks msg.sender or tx.origin."""
    found: dict[str, bool] = {}
    for function in model.functions():
        if function.kind == "modifier":
            found[function.name] = any(facts_of(u).sender_check for u in function.units)
    return found
