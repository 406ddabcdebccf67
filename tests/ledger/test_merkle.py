"""RFC 9162 Merkle log: published test vectors and hypothesis against a naive reference of the RFC's text."""

from __future__ import annotations

import json
from hashlib import sha256
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerml.errors import InvalidProof
from ledgerml.ledger.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)

VECTORS = json.loads((Path(__file__).parents[1] / "data" / "rfc6962_vectors.json").read_text())


# -- a naive reference, written straight from RFC 9162 section 2.1 -----------------------------------


def ref_mth(data: list[bytes]) -> bytes:
    n = len(data)
    if n == 0:
        return sha256(b"").digest()
    if n == 1:
        return sha256(b"\x00" + data[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return sha256(b"\x01" + ref_mth(data[:k]) + ref_mth(data[k:])).digest()


def ref_path(m: int, data: list[bytes]) -> list[bytes]:
    n = len(data)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return ref_path(m, data[:k]) + [ref_mth(data[k:])]
    return ref_path(m - k, data[k:]) + [ref_mth(data[:k])]


def ref_subproof(m: int, data: list[bytes], b: bool) -> list[bytes]:
    n = len(data)
    if m == n:
        return [] if b else [ref_mth(data)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return ref_subproof(m, data[:k], b) + [ref_mth(data[k:])]
    return ref_subproof(m - k, data[k:], False) + [ref_mth(data[:k])]


def ref_proof(m: int, data: list[bytes]) -> list[bytes]:
    return [] if m in (0, len(data)) else ref_subproof(m, data, True)


def tree_of(data: list[bytes]) -> MerkleTree:
    tree = MerkleTree()
    for item in data:
        tree.append(leaf_hash(item))
    return tree


# -- published vectors ----------------------------------------------------------------------------------

LEAVES = [bytes.fromhex(h) for h in VECTORS["leaf_inputs_hex"]]


def test_empty_root() -> None:
    assert EMPTY_ROOT.hex() == VECTORS["empty_tree_root"] == MerkleTree().root().hex()


@pytest.mark.parametrize(("size", "root"), sorted(VECTORS["roots_by_tree_size"].items()))
def test_vector_roots(size: str, root: str) -> None:
    assert tree_of(LEAVES).root(int(size)).hex() == root


@pytest.mark.parametrize("case", VECTORS["inclusion_proofs"], ids=lambda c: f"{c['leaf_index']}of{c['tree_size']}")
def test_vector_inclusion(case: dict) -> None:  # type: ignore[type-arg]
    tree = tree_of(LEAVES)
    path = tree.inclusion_path(case["leaf_index"], case["tree_size"])
    assert [h.hex() for h in path] == case["proof"]
    verify_inclusion(
        leaf_hash(LEAVES[case["leaf_index"]]), case["leaf_index"], case["tree_size"], path, tree.root(case["tree_size"])
    )


@pytest.mark.parametrize("case", VECTORS["consistency_proofs"], ids=lambda c: f"{c['old_size']}to{c['new_size']}")
def test_vector_consistency(case: dict) -> None:  # type: ignore[type-arg]
    tree = tree_of(LEAVES)
    proof = tree.consistency_proof(case["old_size"], case["new_size"])
    assert [h.hex() for h in proof] == case["proof"]
    verify_consistency(
        case["old_size"], case["new_size"], tree.root(case["old_size"]), tree.root(case["new_size"]), proof
    )


# -- properties against the reference --------------------------------------------------------------------

leaves_strategy = st.lists(st.binary(max_size=8), min_size=1, max_size=70)


@settings(max_examples=150, deadline=None)
@given(leaves_strategy, st.data())
def test_inclusion_matches_reference_and_verifies(data: list[bytes], draw: st.DataObject) -> None:
    size = draw.draw(st.integers(1, len(data)))
    index = draw.draw(st.integers(0, size - 1))
    tree = tree_of(data)
    assert tree.root(size) == ref_mth(data[:size])
    path = tree.inclusion_path(index, size)
    assert path == ref_path(index, data[:size])
    verify_inclusion(leaf_hash(data[index]), index, size, path, tree.root(size))


@settings(max_examples=150, deadline=None)
@given(leaves_strategy, st.data())
def test_consistency_matches_reference_and_verifies(data: list[bytes], draw: st.DataObject) -> None:
    new = draw.draw(st.integers(1, len(data)))
    old = draw.draw(st.integers(0, new))
    tree = tree_of(data)
    proof = tree.consistency_proof(old, new)
    assert proof == ref_proof(old, data[:new])
    verify_consistency(old, new, tree.root(old), tree.root(new), proof)


@settings(max_examples=150, deadline=None)
@given(leaves_strategy, st.data())
def test_tampered_inclusion_proofs_fail(data: list[bytes], draw: st.DataObject) -> None:
    size = len(data)
    index = draw.draw(st.integers(0, size - 1))
    tree = tree_of(data)
    path = tree.inclusion_path(index, size)
    root = tree.root(size)
    with pytest.raises(InvalidProof):
        verify_inclusion(leaf_hash(data[index] + b"x"), index, size, path, root)
    if path:
        i = draw.draw(st.integers(0, len(path) - 1))
        bad = list(path)
        bad[i] = bytes([bad[i][0] ^ 1]) + bad[i][1:]
        with pytest.raises(InvalidProof):
            verify_inclusion(leaf_hash(data[index]), index, size, bad, root)
        with pytest.raises(InvalidProof):
            verify_inclusion(leaf_hash(data[index]), index, size, path[:-1], root)
    with pytest.raises(InvalidProof):
        verify_inclusion(leaf_hash(data[index]), index, size, [*path, root], root)


@settings(max_examples=150, deadline=None)
@given(leaves_strategy, st.data())
def test_tampered_consistency_proofs_fail(data: list[bytes], draw: st.DataObject) -> None:
    new = len(data)
    old = draw.draw(st.integers(1, new))
    tree = tree_of(data)
    proof = tree.consistency_proof(old, new)
    old_root, new_root = tree.root(old), tree.root(new)
    forged_old = sha256(old_root).digest()
    with pytest.raises(InvalidProof):
        verify_consistency(old, new, forged_old, new_root, proof)
    if old < new:
        i = draw.draw(st.integers(0, len(proof) - 1))
        bad = list(proof)
        bad[i] = sha256(bad[i]).digest()
        with pytest.raises(InvalidProof):
            verify_consistency(old, new, old_root, new_root, bad)


def test_truncate_restores_earlier_tree() -> None:
    data = [bytes([i]) for i in range(37)]
    tree = tree_of(data)
    tree.truncate(20)
    assert tree.size == 20 and tree.root() == ref_mth(data[:20])
    tree.append(leaf_hash(b"new"))
    assert tree.root() == ref_mth([*data[:20], b"new"])


def test_out_of_range_requests_raise() -> None:
    tree = tree_of([b"a", b"b"])
    with pytest.raises(InvalidProof):
        tree.inclusion_path(2, 2)
    with pytest.raises(InvalidProof):
        tree.root(3)
    with pytest.raises(InvalidProof):
        tree.consistency_proof(3, 2)
