"""A final model trained on more datasets than one event can name: its lineage goes through collections."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledgerml.federated import runner
from ledgerml.federated.apps import run_in_process
from ledgerml.federated.runner import FederationConfig, register_final_model, setup_federation
from ledgerml.home import Home
from ledgerml.vocab.core import dataset, model
from ledgerml.vocab.tasks import task

from .._cli import run_cli


@pytest.mark.slow
def test_a_lineage_longer_than_one_event_is_named_through_collections_and_verifies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = Home(tmp_path / "home")
    home.init(unencrypted=True)
    monkeypatch.setattr(runner, "LINEAGE_GROUP", 2)
    config = FederationConfig(task_id="wide", participants=5, rounds=1, partition="iid", min_participants=1)
    setup_federation(home, config, unencrypted=True)
    run_in_process(home, "wide")
    digest, attestation = register_final_model(home, "wide")
    with home.open_ledger(as_validator=False) as ledger:
        state = ledger.state()
        record, spec = model(state, digest), task(state, "wide")
        assert record is not None and spec is not None
        *collections, validation = record.datasets
        assert validation == spec.validation_dataset and len(collections) == 3  # 5 partitions in groups of 2
        named = [parent for c in collections for parent in dataset(state, c).parents]  # type: ignore[union-attr]
        assert len(named) == 5 and len(set(named)) == 5
    again = register_final_model(home, "wide")  # a second registration (a resumed run) adds nothing
    assert again[0] == digest
    verified = run_cli(
        "verify", "model", str(attestation.parent / "final-model.safetensors"), "--attestation", str(attestation),
        "--home", str(home.path),
    )  # fmt: skip
    assert verified.code == 0, verified.out + verified.err
    assert "9 dataset(s)" in verified.out  # 5 partitions, 3 collections, the validation set
