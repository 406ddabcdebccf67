"""EVM backend specifics: URLs, deployment files, missing keys, foreign events on chain - each a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledgerml import DatasetRegistered, Identity, Ledger, RoleGranted, sign_event
from ledgerml.errors import AlreadyExists, ConfigError, NotFound, TamperDetected
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


def test_an_event_body_that_disagrees_with_its_transaction_is_caught(chain, admin: Identity, alice: Identity) -> None:  # type: ignore[no-untyped-def]
    """An actor may send any bytes as the body; readers refuse a body that is not that actor's event."""
    w3, deployment = chain
    ledger = EvmLedger(w3, deployment, validator=admin, gas_limit=GAS)
    ledger.submit(admin, RoleGranted(subject=alice.address, role=Role.DATA_OWNER))
    forged = sign_event(admin, ledger.ledger_id, DatasetRegistered(dataset_id="sha256:" + "b" * 64, name="x"), 2)
    data = ledger.contract.encode_abi("register_dataset", [0, bytes.fromhex("b" * 64), [], forged.body])
    ledger._sender.send(alice, {"to": deployment.ledger, "data": data})  # alice's transaction, admin's body
    fresh = EvmLedger(w3, deployment, gas_limit=GAS)
    with pytest.raises(TamperDetected, match="event 2"):
        fresh.state()
    report = fresh.verify()
    assert not report.ok and report.location == "event 2"
