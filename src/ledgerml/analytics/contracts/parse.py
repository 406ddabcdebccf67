"""Solidity without a compiler: tree-sitter parses a file into contracts, functions and statement units (one
statement or condition each, with its lines and the syntax nodes the detectors read)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

SIMPLE_STATEMENTS = frozenset(
    {
        "expression_statement",
        "variable_declaration_statement",
        "return_statement",
        "emit_statement",
        "revert_statement",
        "throw_statement",
    }
)
CONDITIONAL = frozenset({"if_statement", "while_statement", "do_while_statement"})
FUNCTION_NODES = {
    "function_definition": "function",
    "constructor_definition": "constructor",
    "fallback_receive_definition": "fallback",
    "modifier_definition": "modifier",
}
CONTRACT_NODES = {
    "contract_declaration": "contract",
    "library_declaration": "library",
    "interface_declaration": "interface",
}


@lru_cache(maxsize=1)
def _parser() -> Any:
    import warnings

    import tree_sitter
    import tree_sitter_solidity

    with warnings.catch_warnings():  # tree-sitter-solidity 1.2 hands over an int pointer, which 0.25 deprecates
        warnings.simplefilter("ignore", DeprecationWarning)
        return tree_sitter.Parser(tree_sitter.Language(tree_sitter_solidity.language()))


def text(node: Any) -> str:
    """The source text of a node."""
    return node.text.decode("utf-8", "replace") if node is not None else ""


def walk(node: Any) -> Iterator[Any]:
    """Every node under ``node`` (itself included), depth first, in source order."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


@dataclass
class Unit:
    """One statement (or the condition of an if/while/for, or a state variable's initialiser) in source order."""

    node: Any
    kind: str
    """``stmt``, ``cond`` (if/while condition), ``loop`` (a for header) or ``state`` (state variable initialiser)."""
    start_line: int
    end_line: int
    loop_depth: int = 0
    order: int = 0
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The unit's source text."""
        return text(self.node)


@dataclass
class Function:
    """A function, constructor, fallback or modifier with its units in source order."""

    node: Any
    name: str
    kind: str
    contract: Contract
    visibility: str
    payable: bool
    modifiers: tuple[str, ...]
    params: frozenset[str]
    locals: dict[str, str] = field(default_factory=dict)
    """Local variable name -> its declared type text."""
    units: list[Unit] = field(default_factory=list)

    @property
    def start_line(self) -> int:
        """First line (1-based)."""
        return int(self.node.start_point[0]) + 1

    @property
    def public(self) -> bool:
        """Callable from outside (public, external, or no visibility in pre-0.5 code)."""
        return self.visibility in ("public", "external", "")


@dataclass
class Contract:
    """A contract, library or interface: its state variables (name -> type text) and functions."""

    node: Any
    name: str
    kind: str
    bases: tuple[str, ...]
    state_vars: dict[str, str] = field(default_factory=dict)
    state_units: list[Unit] = field(default_factory=list)
    functions: list[Function] = field(default_factory=list)
    uses_safemath: bool = False


@dataclass
class SourceModel:
    """A parsed file: its contracts, pragma text and whether tree-sitter found syntax errors."""

    root: Any
    contracts: list[Contract]
    pragmas: list[str]
    imports: list[str]
    error_lines: list[int]

    def functions(self) -> Iterator[Function]:
        """Every function of every contract."""
        for contract in self.contracts:
            yield from contract.functions

    def state_vars(self) -> dict[str, str]:
        """State variables of every contract in the file (inherited ones are usually declared in the same file)."""
        merged: dict[str, str] = {}
        for contract in self.contracts:
            merged.update(contract.state_vars)
        return merged


def parse_source(source: bytes) -> SourceModel:
    """Parse Solidity source bytes (never raises on bad syntax: ``error_lines`` lists where it failed)."""
    tree = _parser().parse(source)
    root = tree.root_node
    pragmas = [text(c) for c in root.children if c.type == "pragma_directive"]
    imports = [_import_path(c) for c in root.children if c.type == "import_directive"]
    errors = _error_lines(root) if root.has_error else []
    contracts = [_contract(c) for c in root.children if c.type in CONTRACT_NODES]
    return SourceModel(root, contracts, pragmas, [i for i in imports if i], errors)


def _error_lines(root: Any) -> list[int]:
    """Lines of ERROR or missing nodes, visiting only subtrees that contain one."""
    lines, stack = set(), [root]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            lines.add(node.start_point[0] + 1)
        stack.extend(c for c in node.children if c.has_error or c.is_missing)
    return sorted(lines)


def _import_path(node: Any) -> str:
    for child in walk(node):
        if child.type == "string":
            return text(child).strip("\"'")
    return ""


def _contract(node: Any) -> Contract:
    name = text(node.child_by_field_name("name"))
    bases = tuple(text(c).split("(")[0].strip() for c in node.children if c.type == "inheritance_specifier")
    contract = Contract(node, name, CONTRACT_NODES[node.type], bases)
    body = node.child_by_field_name("body")
    for member in body.children if body is not None else ():
        if member.type == "state_variable_declaration":
            _state_variable(contract, member)
        elif member.type == "using_directive" and "SafeMath" in text(member):
            contract.uses_safemath = True
        elif member.type in FUNCTION_NODES:
            contract.functions.append(_function(contract, member))
    return contract


def _state_variable(contract: Contract, node: Any) -> None:
    name_node = node.child_by_field_name("name")
    type_node = node.child_by_field_name("type")
    name = text(name_node) if name_node is not None else ""
    if not name:
        names = [c for c in node.children if c.type == "identifier"]
        name = text(names[-1]) if names else ""
    contract.state_vars[name] = text(type_node) if type_node is not None else text(node).split(" ")[0]
    value = node.child_by_field_name("value")
    if value is None:
        value = next((c for c in node.children if c.type == "expression"), None)
    if value is not None:
        line = node.start_point[0] + 1
        contract.state_units.append(Unit(node, "state", line, node.end_point[0] + 1))


def _function(contract: Contract, node: Any) -> Function:
    kind = FUNCTION_NODES[node.type]
    name_node = node.child_by_field_name("name")
    name = text(name_node) if name_node is not None else kind
    if kind == "function" and name == contract.name:
        kind = "constructor"  # pre-0.5: a function named like its contract is its constructor
    visibility = next((text(c) for c in node.children if c.type == "visibility"), "")
    if kind in ("constructor", "modifier"):
        visibility = "internal"
    mutability = " ".join(text(c) for c in node.children if c.type == "state_mutability")
    modifiers = tuple(text(c.children[0]) for c in node.children if c.type == "modifier_invocation" and c.children)
    params = frozenset(
        text(c.child_by_field_name("name"))
        for c in node.children
        if c.type == "parameter" and c.child_by_field_name("name")
    )
    function = Function(node, name, kind, contract, visibility, "payable" in mutability, modifiers, params)
    body = node.child_by_field_name("body")
    if body is not None:
        _collect_units(function, body, 0)
    for i, unit in enumerate(function.units):
        unit.order = i
    return function


def _collect_units(function: Function, node: Any, loop_depth: int) -> None:
    """Flatten a body into units: simple statements whole, compound statements as condition + sub-statements."""
    for child in node.children:
        kind = child.type
        if kind == "statement" or kind == "block_statement" or kind == "unchecked_block":
            _collect_units(function, child, loop_depth)
        elif kind in SIMPLE_STATEMENTS:
            _add_unit(function, child, "stmt", loop_depth)
        elif kind in CONDITIONAL:
            condition = child.child_by_field_name("condition")
            in_loop = loop_depth + (kind != "if_statement")
            if condition is not None:
                _add_unit(function, condition, "cond", in_loop)
            for sub in child.children:
                if sub is not condition and sub.type in (
                    "statement",
                    "block_statement",
                    *SIMPLE_STATEMENTS,
                    *CONDITIONAL,
                ):
                    _collect_units(function, _wrap(sub), in_loop)
        elif kind == "for_statement":
            _for_units(function, child, loop_depth)
        elif kind in ("try_statement", "assembly_statement"):
            _add_unit(function, child, "stmt", loop_depth)


class _Wrapper:
    """A one-child stand-in so a bare statement can go through ``_collect_units``."""

    def __init__(self, child: Any) -> None:
        self.children = [child]


def _wrap(node: Any) -> Any:
    return _Wrapper(node) if node.type != "statement" else node


def _for_units(function: Function, node: Any, loop_depth: int) -> None:
    header = [c for c in node.children if c.is_named and c.type != "statement"]
    body = [c for c in node.children if c.type == "statement"]
    for part in header:
        _add_unit(function, part, "loop", loop_depth + 1)
    for sub in body:
        _collect_units(function, sub, loop_depth + 1)


def _add_unit(function: Function, node: Any, kind: str, loop_depth: int) -> None:
    start, end = node.start_point[0] + 1, node.end_point[0] + 1
    function.units.append(Unit(node, kind, start, end, loop_depth))
