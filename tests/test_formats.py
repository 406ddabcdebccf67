"""Golden files for the formats other tools parse: the event body, the block header, the proof files.

Everything is built from fixed keys, times and payloads, so the bytes are reproducible; a change to any
encoding rule changes a golden file and fails here (``pytest --regen-golden`` rewrites them, for review).
"""

from __future__ import annotations

import json

from ledgerml.events import parse_event, sign_event
from ledgerml.identity import Identity
from ledgerml.ledger.blocks import GENESIS_PREV_HASH, BlockHeader, sign_block
from ledgerml.ledger.merkle import MerkleTree, leaf_hash
from ledgerml.ledger.proofs import (
    ConsistencyProof,
    InclusionProof,
    verify_consistency_proof,
    verify_inclusion_proof,
)
from ledgerml.types import Role
from ledgerml.vocab.core import DatasetRegistered, RoleGranted

LEDGER = "0123456789abcdef0123456789abcdef"
VALIDATOR = Identity.from_private_key("validator", (11).to_bytes(32, "big"))
OWNER = Identity.from_private_key("owner", (12).to_bytes(32, "big"))
T0 = 1_798_761_600_000  # 2027-01-01T00:00:00Z


def _events() -> list[bytes]:
    first = sign_event(VALIDATOR, LEDGER, RoleGranted(subject=OWNER.address, role=Role.DATA_OWNER), 1, time_ms=T0)
    second = sign_event(
        OWNER,
        LEDGER,
        DatasetRegistered(
            dataset_id="sha256:" + "ab" * 32, name="cohort", license="CC-BY-4.0", metadata={"records": 9}
        ),
        0,
        time_ms=T0 + 1,
    )
    third = sign_event(VALIDATOR, LEDGER, RoleGranted(subject=OWNER.address, role=Role.TRAINER), 2, time_ms=T0 + 2)
    return [first.body, second.body, third.body]


def _block(tree: MerkleTree, height: int, prev: bytes, size: int) -> BlockHeader:
    return sign_block(
        VALIDATOR, ledger=LEDGER, height=height, prev_hash=prev, log_size=size, log_root=tree.root(size),
        time=T0 + 10 * height,
    )  # fmt: skip


def test_event_body_and_digest_are_pinned(golden) -> None:  # type: ignore[no-untyped-def]
    """A literal digest, not one recomputed with the code under test: a format change cannot pass silently."""
    body = _events()[1]
    golden("event.json", body.decode() + "\n")
    event = parse_event(body)
    assert event.id == "sha256:e5afe1c09feb9bbb0d05802ae70ecc928144e6ea16a171fecc4f4f40a19131fb"
    assert event.body == body


def test_block_header_and_proofs_are_pinned(golden) -> None:  # type: ignore[no-untyped-def]
    bodies = _events()
    tree = MerkleTree()
    for body in bodies:
        tree.append(leaf_hash(body))
    old = _block(tree, 1, GENESIS_PREV_HASH, 2)
    new = _block(tree, 2, old.hash, 3)
    golden("block_header.json", json.dumps(new.to_dict(), indent=2, sort_keys=True) + "\n")
    inclusion = InclusionProof(bodies[1], 1, tree.inclusion_path(1, 3), new)
    golden("inclusion_proof.json", json.dumps(inclusion.to_dict(), indent=2, sort_keys=True) + "\n")
    consistency = ConsistencyProof(old, new, tree.consistency_proof(2, 3))
    golden("consistency_proof.json", json.dumps(consistency.to_dict(), indent=2, sort_keys=True) + "\n")
    assert new.hash.hex() == "47e7afd05dccca6031ee81fd01209f000dff86bbd0c85040b9169e1d305d7724"
    # the golden files parse back and verify with the standalone checks
    assert verify_inclusion_proof(InclusionProof.from_dict(inclusion.to_dict()), {VALIDATOR.address}).id
    verify_consistency_proof(ConsistencyProof.from_dict(consistency.to_dict()), {VALIDATOR.address})
    assert BlockHeader.from_dict(new.to_dict()) == new
