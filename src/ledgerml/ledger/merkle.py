"""RFC 9162 (Certificate Transparency v2) Merkle tree hashing, proofs and their verification.

Leaf hash ``SHA-256(0x00 || data)``, node hash ``SHA-256(0x01 || left || right)``. Proof generation follows
the RFC's PATH and PROOF definitions; verification follows sections 2.1.3.2 and 2.1.4.2 literally, so
proofs interoperate with other CT-style verifiers. Plain functions and one compact in-memory tree; no I/O.
"""

from __future__ import annotations

import hmac
from hashlib import sha256

from ..errors import InvalidProof

EMPTY_ROOT = sha256(b"").digest()
HASH_SIZE = 32


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash of ``data``."""
    return sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash."""
    return sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly less than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """An append-only Merkle tree keeping every complete aligned subtree hash, 32 bytes each, per level.

    Memory is about 64 bytes per leaf. Roots, inclusion paths and consistency proofs for any past tree
    size are computed from stored nodes in O(log^2 n) hashes at worst.
    """

    __slots__ = ("_levels", "size")

    def __init__(self) -> None:
        self._levels: list[bytearray] = [bytearray()]
        self.size = 0

    def append(self, leaf: bytes) -> None:
        """Append one leaf hash (not raw data)."""
        if len(leaf) != HASH_SIZE:
            raise ValueError("append takes a 32-byte leaf hash")
        levels = self._levels
        levels[0] += leaf
        self.size += 1
        index, level = self.size - 1, 0
        while index & 1:
            row = levels[level]
            parent = sha256(b"\x01" + row[-64:]).digest()
            level += 1
            if len(levels) == level:
                levels.append(bytearray())
            levels[level] += parent
            index >>= 1

    def truncate(self, size: int) -> None:
        """Forget every leaf at or after ``size`` (used to undo a rejected batch)."""
        if size > self.size:
            raise ValueError("cannot truncate to a larger size")
        for level, row in enumerate(self._levels):
            del row[(size >> level) * HASH_SIZE :]
        self.size = size

    def leaf(self, index: int) -> bytes:
        """The leaf hash at ``index``."""
        return self._node(0, index)

    def _node(self, level: int, index: int) -> bytes:
        start = index * HASH_SIZE
        return bytes(self._levels[level][start : start + HASH_SIZE])

    def subtree_hash(self, start: int, end: int) -> bytes:
        """MTH of leaves ``[start, end)``, where ``start`` is aligned as in the RFC's recursion."""
        n = end - start
        if n <= 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and start % n == 0:
            level = n.bit_length() - 1
            return self._node(level, start >> level)
        k = _split(n)
        return node_hash(self.subtree_hash(start, start + k), self.subtree_hash(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        """The tree head (root hash) at ``size`` leaves (default: all)."""
        size = self.size if size is None else size
        self._check_size(size)
        return self.subtree_hash(0, size)

    def inclusion_path(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 PATH(index, D[0:size]): the audit path of leaf ``index`` in the tree of ``size``."""
        size = self.size if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise InvalidProof(f"leaf {index} is not in a tree of size {size}")
        path: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            k = _split(end - start)
            if index < start + k:
                path.append(self.subtree_hash(start + k, end))
                end = start + k
            else:
                path.append(self.subtree_hash(start, start + k))
                start += k
        path.reverse()
        return path

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """RFC 9162 PROOF(old_size, D[0:new_size])."""
        new_size = self.size if new_size is None else new_size
        self._check_size(new_size)
        if not 0 <= old_size <= new_size:
            raise InvalidProof(f"cannot prove consistency from size {old_size} to {new_size}")
        if old_size in (0, new_size):
            return []
        proof: list[bytes] = []
        start, end, m, complete = 0, new_size, old_size, True
        while True:
            n = end - start
            if m == n:
                if not complete:
                    proof.append(self.subtree_hash(start, end))
                break
            k = _split(n)
            if m <= k:
                proof.append(self.subtree_hash(start + k, end))
                end = start + k
            else:
                proof.append(self.subtree_hash(start, start + k))
                start += k
                m -= k
                complete = False
        proof.reverse()
        return proof

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise InvalidProof(f"tree size {size} is beyond the log's {self.size} leaves")


def root_of(leaves: list[bytes]) -> bytes:
    """Root of a tree over the given leaf hashes (builds a temporary tree)."""
    tree = MerkleTree()
    for leaf in leaves:
        tree.append(leaf)
    return tree.root()


def verify_inclusion(leaf: bytes, index: int, size: int, path: list[bytes], root: bytes) -> None:
    """RFC 9162 section 2.1.3.2; raise ``InvalidProof`` unless ``leaf`` is at ``index`` under ``root``."""
    if not 0 <= index < size:
        raise InvalidProof(f"leaf index {index} is outside a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise InvalidProof("inclusion proof is longer than the tree allows")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InvalidProof("inclusion proof is shorter than the tree needs")
    if not hmac.compare_digest(r, root):
        raise InvalidProof("inclusion proof does not lead to the signed root")


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: list[bytes]) -> None:
    """RFC 9162 section 2.1.4.2; raise ``InvalidProof`` unless the old tree is a prefix of the new one."""
    if not 0 <= old_size <= new_size:
        raise InvalidProof(f"old size {old_size} must not exceed new size {new_size}")
    if old_size == new_size:
        if proof:
            raise InvalidProof("a proof between equal sizes must be empty")
        if not hmac.compare_digest(old_root, new_root):
            raise InvalidProof("equal tree sizes with different roots")
        return
    if old_size == 0:
        if proof:
            raise InvalidProof("a proof from the empty tree must be empty")
        return
    if not proof:
        raise InvalidProof("consistency proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise InvalidProof("consistency proof is longer than the trees allow")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InvalidProof("consistency proof is shorter than the trees need")
    if not hmac.compare_digest(fr, old_root):
        raise InvalidProof("consistency proof does not reproduce the old root")
    if not hmac.compare_digest(sr, new_root):
        raise InvalidProof("consistency proof does not reproduce the new root")
