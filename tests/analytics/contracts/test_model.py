"""The learned detector: LightGBM text + JSON (no pickle), bundled model trained on the training split only,
identifiers renamed before features, 'contracts train' registers the model with the training split's fingerprint."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ledgerml.analytics.artifacts import read_folder
from ledgerml.analytics.contracts.analysis import analyse
from ledgerml.analytics.contracts.features import feature_names, tokens
from ledgerml.analytics.contracts.model import CLASSES, MODEL_FOLDER, ContractModel, bundled_model_dir, load_model
from ledgerml.analytics.contracts.solidifi import Bug, load_contracts, split_by_contract, template_key
from ledgerml.analytics.contracts.training import label_units
from ledgerml.errors import ConfigError

from ..._cli import run_cli

SNIPPET = """function bug_intou{n}(uint8 p_intou{n}) public{{
    uint8 vundflw1=0;
    vundflw1 = vundflw1 + p_intou{n};   // overflow bug
}}
"""


def test_the_bundled_model_is_text_trained_on_the_training_split() -> None:
    files = read_folder(bundled_model_dir(), MODEL_FOLDER)
    assert set(files) == {"model.txt", "meta.json"}
    assert files["model.txt"].startswith(b"tree\nversion=")  # LightGBM's text format, not a pickle
    meta = json.loads(files["meta.json"])
    assert meta["training_split"].startswith("SolidiFI buggy_1..buggy_25")
    assert all(int(name.split("/")[1].split("_")[1].split(".")[0]) <= 25 for name in meta["training_contracts"])
    assert meta["training_data"].startswith("sha256:")
    model = load_model()
    assert model.id_ is not None and model.id_.startswith("sha256:")


def test_identifiers_are_renamed_before_features() -> None:
    one = analyse(("pragma solidity ^0.5.0;\ncontract A {\n" + SNIPPET.format(n=7) + "}\n").encode(), 5)
    other = analyse(
        b"pragma solidity ^0.5.0;\ncontract Zed {\nfunction add(uint8 amount) public{\n"
        b"    uint8 total=0;\n    total = total + amount;\n}\n}\n",
        5,
    )
    assert np.array_equal(one.features, other.features)
    unit, function = one.units[1]
    assert tokens(unit, one.context.state, function) == ["$L", "=", "$L", "+", "$P", ";"]


def test_save_and_load_round_trip_and_refusals(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, len(feature_names())))
    labels = ["arithmetic" if row[0] > 0 else "none" for row in x]
    model = ContractModel(num_boost_round=5).fit(x, labels)
    model.save(tmp_path / "m")
    files = read_folder(tmp_path / "m", MODEL_FOLDER)
    loaded = ContractModel.from_files(files, source="m")
    assert np.allclose(loaded.predict_proba(x), model.predict_proba(x))
    assert loaded.predict_proba(x).shape == (120, len(CLASSES))
    meta = json.loads(files["meta.json"])
    with pytest.raises(ConfigError, match="other classes or features"):
        ContractModel.from_files({**files, "meta.json": json.dumps({**meta, "features": ["x"]}).encode()}, source="m")
    with pytest.raises(ConfigError, match="not a LightGBM model"):
        ContractModel.from_files({**files, "model.txt": b"not a model"}, source="m")


def test_units_inside_a_bug_are_labelled_with_its_category() -> None:
    bugs = (Bug(10, 14, "reentrancy", "t1"), Bug(30, 30, "arithmetic", "t2"))
    labels = label_units([(1, 2), (12, 12), (30, 31), (40, 41)], bugs, skip=lambda bug: bug.template == "t2")
    assert labels == ["none", "reentrancy", None, "none"]
    assert template_key(SNIPPET.format(n=7)) == template_key(SNIPPET.format(n=31))


def make_benchmark(root: Path) -> Path:
    """A SolidiFI-shaped folder: two bug types, contracts 1-2 (train) and 26 (test)."""
    base = root / "solidifi_benchmark" / "buggy_contracts"
    for folder, category_snippet in (("Overflow-Underflow", SNIPPET), ("tx.origin", None)):
        (base / folder).mkdir(parents=True)
        for number in (1, 2, 26):
            head = f"pragma solidity ^0.5.0;\ncontract C{number} {{\n  address owner;\n"
            if category_snippet:
                body, length = category_snippet.format(n=number), 4
            else:
                body = f"function t{number}(address o) public {{\n  require(tx.origin == o);\n}}\n"
                length = 3
            (base / folder / f"buggy_{number}.sol").write_text(head + body + "}\n")
            (base / folder / f"BugLog_{number}.csv").write_text(
                f"loc,length,bug type,approach\n4,{length},{folder},x\n"
            )
    return root / "solidifi_benchmark"


def test_train_registers_the_model_with_the_training_split(home: Path, tmp_path: Path) -> None:
    data = make_benchmark(tmp_path / "data")
    train, test = split_by_contract(load_contracts(data))
    assert [c.number for c in train] == [1, 2, 1, 2] and [c.number for c in test] == [26, 26]
    out = tmp_path / "model"
    args = ("contracts", "train", "--data", str(data), "--model-out", str(out), "--json", "--home", str(home))
    refused = run_cli(*args)
    assert refused.code == 14 and "needs the data_owner role" in refused.err
    assert not out.exists()  # nothing half-written
    for role in ("data_owner", "trainer"):
        assert run_cli("role", "grant", role, "admin", "--home", str(home)).code == 0
    result = run_cli(*args)
    assert result.code == 0, result.err
    trained = json.loads(result.out)
    assert trained["model_id"].startswith("sha256:") and trained["training_contracts"] == 4
    meta = json.loads((out / "meta.json").read_text())
    assert meta["training_data"] == trained["training_data"]
    assert all("buggy_26" not in name for name in meta["training_contracts"])
    scanned = run_cli(
        "contracts",
        "scan",
        str(data / "buggy_contracts"),
        "--model",
        str(out),
        "--no-slither",
        "--json",
        "--home",
        str(home),
    )
    assert scanned.code == 0, scanned.err
    again = run_cli("contracts", "train", "--data", str(data), "--model-out", str(out), "--home", str(home))
    assert again.code == 2 and "not empty" in again.err
    missing = run_cli("contracts", "train", "--data", str(tmp_path / "none"), "--model-out", str(tmp_path / "m2"))
    assert missing.code == 3 and "Traceback" not in missing.err
