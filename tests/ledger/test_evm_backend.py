"""EVM backend specifics: URLs, deployment files, missing keys, foreign events on chain - each a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledgerml import DatasetRegistered, Identity, Ledger, RoleGranted, sign_event
from ledgerml._canonical import canonical_json
from ledgerml.errors import AlreadyExists, ConfigError, MalformedEvent, NotFound
from ledgerml.events import parse_event
from ledgerml.ledger import parse_ledger_url
from ledgerml.ledger.evm.backend import Deployment, EvmLedger, deploy, fund
from ledgerml.types import Role

GAS = 8_000_000


@pytest.fixture
def chain(admin: Identity, alice: Identity):  # type: ignore[no-untyped-def]
    from web3 import EthereumTesterProvider, Web3

    w3 = Web3(EthereumTesterProvider())
    fund(w3, [admin.address, alice.address])
    return w3, deploy(w3, admin, gas_limit=GAS)


def test_urls_and_deployment_files(tmp_path: Path) -> None:
    parsed = parse_ledger_url("evm+http://127.0.0.1:8545?deployment=d.json&block_size=5")
    assert parsed.path == "http://127.0.0.1:8545" and parsed.options["deployment"] == "d.json"
    with pytest.raises(ConfigError, match="deployment file"):
        Ledger.open("evm+http://127.0.0.1:8545")
    with pytest.raises(ConfigError, match="unknown ledger URL option"):
        Ledger.open("evm+http://127.0.0.1:8545?deployment=d.json&colour=blue")
    with pytest.raises(NotFound, match="no deployment file"):
        Ledger.open(f"evm+http://127.0.0.1:9?deployment={tmp_path / 'missing.json'}")
    (tmp_path / "bad.json").write_text('{"format": "other"}')
    with pytest.raises(ConfigError, match="not a ledgerml deployment file"):
        Deployment.load(tmp_path / "bad.json")


def test_deployment_round_trip_and_no_overwrite(chain, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _w3, deployment = chain
    deployment.save(tmp_path / "d.json")
    assert Deployment.load(tmp_path / "d.json") == deployment
    with pytest.raises(AlreadyExists):
        deployment.save(tmp_path / "d.json")


def test_an_event_without_its_actors_key_is_refused_before_anything_is_sent(
    chain, admin: Identity, alice: Identity
) -> None:  # type: ignore[no-untyped-def]
    w3, deployment = chain
    ledger = EvmLedger(w3, deployment, validator=admin, gas_limit=GAS)
    ledger.submit(admin, RoleGranted(subject=alice.address, role=Role.DATA_OWNER))
    block = w3.eth.block_number
    event = sign_event(alice, ledger.ledger_id, DatasetRegistered(dataset_id="sha256:" + "a" * 64, name="d"), 0)
    with pytest.raises(ConfigError, match="holds no key"):
        ledger.append(event)
    assert w3.eth.block_number == block and ledger.size == 2
    ledger.add_signer(alice)
    assert ledger.append(event).seq == 2


def test_a_body_naming_another_actor_is_refused_by_the_contract(chain, admin: Identity, alice: Identity) -> None:  # type: ignore[no-untyped-def]
    """The contract binds the body's actor to the sender: alice cannot post admin's event."""
    w3, deployment = chain
    ledger = EvmLedger(w3, deployment, validator=admin, gas_limit=GAS)
    ledger.submit(admin, RoleGranted(subject=alice.address, role=Role.DATA_OWNER))
    forged = sign_event(admin, ledger.ledger_id, DatasetRegistered(dataset_id="sha256:" + "b" * 64, name="x"), 2)
    data = ledger.contract.encode_abi("register_dataset", [0, bytes.fromhex("b" * 64), [], 0, forged.body])
    block = w3.eth.block_number
    with pytest.raises(MalformedEvent, match="actor is not the transaction's sender"):
        ledger._sender.send(alice, {"to": deployment.ledger, "data": data})  # alice's transaction, admin's body
    assert w3.eth.block_number == block
    fresh = EvmLedger(w3, deployment, gas_limit=GAS)
    assert fresh.size == 2 and fresh.skipped == [] and fresh.verify().ok


@pytest.mark.parametrize(
    ("envelope", "message"),
    [
        ("kind", "kind, ledger or nonce"),
        ("ledger", "kind, ledger or nonce"),
        ("nonce", "kind, ledger or nonce"),
        ("not json", "not a ledger event envelope"),
    ],
)
def test_the_contract_binds_kind_ledger_and_nonce(
    chain, admin: Identity, alice: Identity, envelope: str, message: str
) -> None:  # type: ignore[no-untyped-def]
    w3, deployment = chain
    ledger = EvmLedger(w3, deployment, validator=admin, gas_limit=GAS)
    payload = RoleGranted(subject=alice.address, role=Role.AUDITOR)
    good = sign_event(admin, ledger.ledger_id, payload, 1)
    bodies = {
        "kind": good.body.replace(b'"kind":"RoleGranted"', b'"kind":"RoleRevoked"'),
        "ledger": sign_event(admin, "f" * 32, payload, 1).body,
        "nonce": sign_event(admin, ledger.ledger_id, payload, 2).body,
        "not json": b"junk",
    }
    data = ledger.contract.encode_abi("grant_role", [1, alice.address, 32, bodies[envelope]])
    with pytest.raises(MalformedEvent, match=message):
        ledger._sender.send(admin, {"to": deployment.ledger, "data": data})
    good_data = ledger.contract.encode_abi("grant_role", [1, alice.address, 32, good.body])
    ledger._sender.send(admin, {"to": deployment.ledger, "data": good_data})  # the envelope check lets it pass
    assert ledger.size == 2 and ledger.verify().ok


def test_a_body_that_does_not_replay_is_skipped_and_reported(chain, admin: Identity, alice: Identity) -> None:  # type: ignore[no-untyped-def]
    """A body with the right envelope but a bad signature lands (the contract checks no signatures): readers
    skip it, consume its nonce as the contract did, keep working, and verify reports it."""
    w3, deployment = chain
    ledger = EvmLedger(w3, deployment, validator=admin, signers=[alice], gas_limit=GAS)
    ledger.submit(admin, RoleGranted(subject=alice.address, role=Role.DATA_OWNER))
    good = sign_event(alice, ledger.ledger_id, DatasetRegistered(dataset_id="sha256:" + "b" * 64, name="x"), 0)
    unsigned = good.to_dict()
    unsigned["signature"] = "0x" + "00" * 65
    bad = parse_event(canonical_json(unsigned))
    data = ledger.contract.encode_abi("register_dataset", [0, bytes.fromhex("b" * 64), [], 0, bad.body])
    receipt = ledger._sender.send(alice, {"to": deployment.ledger, "data": data})
    fresh = EvmLedger(w3, deployment, signers=[alice], gas_limit=GAS)
    assert fresh.size == 2  # the skipped body is not a ledger event
    (skipped,) = fresh.skipped
    assert skipped.transaction == "0x" + bytes(receipt["transactionHash"]).hex()
    assert skipped.block == receipt["blockNumber"] and skipped.actor == alice.address and skipped.nonce == 0
    assert skipped.reason.startswith("InvalidSignature") or skipped.reason.startswith("SignerMismatch")
    assert fresh.next_nonce(alice.address) == 1  # consumed on chain, so consumed here
    report = fresh.verify()
    assert not report.ok and report.location == f"transaction {skipped.transaction}"
    assert "does not replay (InvalidSignature" in str(report.problem) or "(SignerMismatch" in str(report.problem)
    assert report.skipped == [skipped] and any(skipped.transaction in note for note in report.notes)
    assert report.to_dict()["skipped"][0]["transaction"] == skipped.transaction
    # every command keeps working: alice's next event lands and replays
    fresh.submit(alice, DatasetRegistered(dataset_id="sha256:" + "c" * 64, name="y"))
    assert fresh.size == 3 and EvmLedger(w3, deployment, gas_limit=GAS).size == 3
