"""Provenance: manifests, record roots and proofs, registration with lineage, attestations, verification."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.numpy import save_file

from ledgerml import DatasetRegistered, Identity, Ledger, RoleGranted, sqlite_url
from ledgerml.errors import ConfigError, DuplicateRegistration, InvalidProof, Unauthorized, UnknownReference
from ledgerml.ledger.base import LedgerBackend
from ledgerml.ledger.merkle import MerkleTree
from ledgerml.provenance import (
    InvalidAttestation,
    attest,
    build_manifest,
    check_record_proof,
    lineage,
    lineage_dot,
    open_envelope,
    prove_record,
    register_dataset,
    register_model,
    sign_statement,
    verify_dataset,
    verify_model,
)
from ledgerml.provenance import records as records_module
from ledgerml.provenance.attest import model_statement
from ledgerml.provenance.records import merkle_root, row_leaf, table_leaves
from ledgerml.state import State
from ledgerml.store import LocalStore
from ledgerml.types import Role
from ledgerml.vocab.core import ModelRecord

from .._cli import error_lines
from ..conftest import make_identity


@dataclass
class World:
    ledger: LedgerBackend
    store: LocalStore
    admin: Identity
    owner: Identity
    trainer: Identity
    root: Path


@pytest.fixture
def world(tmp_path: Path, admin: Identity) -> World:
    owner, trainer = make_identity("owner", 11), make_identity("trainer", 12)
    ledger = Ledger.create(sqlite_url(tmp_path / "ledger.db"), admin=admin)
    ledger.submit_batch(
        admin,
        [
            RoleGranted(subject=owner.address, role=Role.DATA_OWNER),
            RoleGranted(subject=trainer.address, role=Role.TRAINER),
        ],
    )
    return World(ledger, LocalStore(tmp_path / "artifacts"), admin, owner, trainer, tmp_path)


def write_csv(path: Path, rows: list[list[str]], header: tuple[str, ...] = ("a", "b", "label")) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_model(path: Path, scale: float = 1.0) -> Path:
    save_file({"coef": np.arange(6, dtype=np.float64).reshape(2, 3) * scale, "bias": np.zeros(2)}, str(path))
    return path


# -- manifests and record roots -------------------------------------------------------------------------


def test_manifest_golden(tmp_path: Path, golden) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "ds"
    (folder / "sub").mkdir(parents=True)
    write_csv(folder / "train.csv", [["1", "x", "0"], ["2", "y, with comma", "1"], ["3", 'q"uote\nline', "0"]])
    (folder / "sub" / "README.txt").write_text("about the data\n")
    manifest = build_manifest(folder)
    assert [e.path for e in manifest.files] == ["sub/README.txt", "train.csv"]
    assert manifest.entry("train.csv").records is not None and manifest.entry("train.csv").records.count == 3
    golden("manifest.json", json.dumps(manifest.to_dict(), indent=2, sort_keys=True) + "\n")
    assert str(manifest.digest) == "sha256:" + __import__("hashlib").sha256(manifest.to_bytes()).hexdigest()


csv_cells = st.text(alphabet=st.sampled_from(list('ab,"\n\r xé1')), max_size=6)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.lists(csv_cells, min_size=3, max_size=3), min_size=1, max_size=60))
def test_record_root_matches_rfc_tree_and_parallel_split(
    tmp_path_factory: pytest.TempPathFactory, rows: list[list[str]]
) -> None:
    path = write_csv(tmp_path_factory.mktemp("csv") / "t.csv", rows)
    with path.open(newline="") as handle:
        parsed = [r for r in list(csv.reader(handle))[1:] if r]
    columns, leaves = table_leaves(path, "csv", workers=1)
    assert columns == ["a", "b", "label"] and leaves == [row_leaf(r) for r in parsed]
    tree = MerkleTree()
    for leaf in leaves:
        tree.append(leaf)
    assert merkle_root(leaves) == tree.root()
    original = records_module._PARALLEL_MIN_BYTES
    records_module._PARALLEL_MIN_BYTES = 0
    try:
        assert table_leaves(path, "csv", workers=3)[1] == leaves  # split at quote-balanced newlines
    finally:
        records_module._PARALLEL_MIN_BYTES = original


def test_parquet_records(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"x": [1.5, float("nan"), 3.0], "name": ["a", "b", None], "n": [1, 2, 3]})
    pq.write_table(table, tmp_path / "t.parquet")
    manifest = build_manifest(tmp_path / "t.parquet")
    records = manifest.entry("t.parquet").records
    assert records is not None and records.count == 3 and records.columns == ("x", "name", "n")
    proof = prove_record(tmp_path / "t.parquet", 1)
    assert proof["values"] == ["NaN", "b", 2]
    assert check_record_proof(proof)["values"] == ["NaN", "b", 2]


def test_bad_tabular_files_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ConfigError, match="empty"):
        build_manifest(tmp_path / "empty.csv")
    (tmp_path / "latin.csv").write_bytes("a,b\n\xe9,1\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="UTF-8"):
        build_manifest(tmp_path / "latin.csv")
    (tmp_path / "x.parquet").write_bytes(b"not parquet")
    with pytest.raises(ConfigError, match="Parquet"):
        build_manifest(tmp_path / "x.parquet")


# -- record proofs ------------------------------------------------------------------------------------------


def test_record_proof_roundtrip_and_tampering(world: World) -> None:
    data = write_csv(world.root / "patients.csv", [[str(i), f"v{i}", str(i % 2)] for i in range(100)])
    register_dataset(world.ledger, world.store, world.owner, data, license="CC-BY-4.0")
    world.ledger.seal()
    proof = prove_record(data, 42, ledger=world.ledger)
    summary = check_record_proof(json.loads(json.dumps(proof)), {world.admin.address})
    assert summary["values"] == ["42", "v42", "0"] and summary["registered"]["by"] == world.owner.address
    changed = {**proof, "values": ["42", "v42", "1"]}  # a changed row
    with pytest.raises(InvalidProof):
        check_record_proof(changed)
    moved = {**proof, "row": 41}
    with pytest.raises(InvalidProof):
        check_record_proof(moved)
    forged_manifest = json.loads(json.dumps(proof))
    forged_manifest["manifest"]["files"][0]["records"]["root"] = "00" * 32
    with pytest.raises(InvalidProof, match="dataset id"):
        check_record_proof(forged_manifest)
    with pytest.raises(InvalidProof, match="trusted"):
        check_record_proof(proof, {world.owner.address})


# -- registration, lineage, verification -------------------------------------------------------------------


def register_basics(world: World) -> tuple[str, str, Path]:
    data = write_csv(world.root / "train.csv", [[str(i), str(i * 2), str(i % 2)] for i in range(50)])
    dataset_id = register_dataset(world.ledger, world.store, world.owner, data).id
    model_path = write_model(world.root / "model.safetensors")
    model_id = register_model(
        world.ledger, world.store, world.trainer, model_path, trained_on=[dataset_id], metrics={"accuracy": 0.9}
    ).id
    world.ledger.seal()
    return dataset_id, model_id, model_path


def test_verify_model_all_checks_pass(world: World) -> None:
    _, model_id, model_path = register_basics(world)
    envelope = attest(world.ledger, world.trainer, model_id)
    attestation = world.root / "model.intoto.jsonl"
    attestation.write_text(json.dumps(envelope) + "\n")
    report = verify_model(world.ledger, world.store, model_path, attestation)
    assert report.ok, report.to_dict()
    assert [c.name for c in report.checks] == ["digest", "stored copy", "registration", "lineage", "attestation"]


def test_one_byte_change_fails_the_digest_check(world: World) -> None:
    _, _, model_path = register_basics(world)
    data = bytearray(model_path.read_bytes())
    data[-3] ^= 0x01
    model_path.write_bytes(bytes(data))
    report = verify_model(world.ledger, world.store, model_path)
    assert not report.ok and report.first_failure is not None and report.first_failure.name == "digest"


def test_corrupted_stored_copy_fails_its_check(world: World) -> None:
    _, model_id, model_path = register_basics(world)
    stored = world.store.path_of(model_id)
    stored.chmod(0o644)
    stored.write_bytes(stored.read_bytes()[:-1] + b"\x00")
    report = verify_model(world.ledger, world.store, model_path)
    assert report.first_failure is not None and report.first_failure.name == "stored copy"


def test_unsealed_registration_fails_the_registration_check(world: World) -> None:
    data = write_csv(world.root / "d.csv", [["1", "2", "3"]])
    register_dataset(world.ledger, world.store, world.owner, data)
    report = verify_dataset(world.ledger, world.store, data)
    assert report.first_failure is not None and report.first_failure.name == "registration"
    assert "not sealed" in report.first_failure.detail
    world.ledger.seal()
    assert verify_dataset(world.ledger, world.store, data).ok


def test_lineage_naming_an_unregistered_dataset_is_rejected(world: World) -> None:
    model_path = write_model(world.root / "m.safetensors")
    before = (world.ledger.size, world.store.list())
    with pytest.raises(UnknownReference):
        register_model(world.ledger, world.store, world.trainer, model_path, trained_on=["sha256:" + "9" * 64])
    assert (world.ledger.size, world.store.list()) == before  # nothing registered, nothing stored


def test_models_must_not_be_pickles(world: World) -> None:
    (world.root / "model.pkl").write_bytes(b"\x80\x04.")
    with pytest.raises(ConfigError, match="safetensors"):
        register_model(world.ledger, world.store, world.trainer, world.root / "model.pkl", trained_on=[])
    (world.root / "fake.safetensors").write_bytes(b"\xff" * 40)
    with pytest.raises(ConfigError, match="not a safetensors"):
        register_model(world.ledger, world.store, world.trainer, world.root / "fake.safetensors", trained_on=[])


def test_model_folder_and_lineage_graph(world: World) -> None:
    dataset_id, base_id, _ = register_basics(world)
    child = world.root / "finetuned"
    child.mkdir()
    write_model(child / "weights.safetensors", 2.0)
    (child / "config.json").write_text('{"layers": 2}')
    parent_data = write_csv(world.root / "extra.csv", [["9", "9", "1"]])
    extra_id = register_dataset(world.ledger, world.store, world.owner, parent_data, parents=[dataset_id]).id
    child_id = register_model(
        world.ledger, world.store, world.trainer, child, trained_on=[extra_id], parents=[base_id]
    ).id
    world.ledger.seal()
    graph = lineage(world.ledger.state(), child_id)
    assert graph["parents"][0]["id"] == base_id and graph["datasets"][0]["parents"][0]["id"] == dataset_id
    assert f'"{child_id}" -> "{base_id}"' in lineage_dot(graph)
    report = verify_model(world.ledger, world.store, child)
    assert report.ok, report.to_dict()
    assert "2 dataset(s) and 1 parent model(s)" in report.checks[3].detail
    (child / "config.json").write_text('{"layers": 3}')
    assert verify_model(world.ledger, world.store, child).first_failure.name == "digest"  # type: ignore[union-attr]


def test_verify_dataset_detects_changed_data(world: World) -> None:
    data = write_csv(world.root / "d.csv", [["1", "2", "0"], ["3", "4", "1"]])
    register_dataset(world.ledger, world.store, world.owner, data)
    world.ledger.seal()
    assert verify_dataset(world.ledger, world.store, data).ok
    write_csv(data, [["1", "2", "0"], ["3", "4", "0"]])
    assert verify_dataset(world.ledger, world.store, data).first_failure.name == "digest"  # type: ignore[union-attr]


# -- attestations --------------------------------------------------------------------------------------------


def test_attestation_golden_and_signature(golden) -> None:  # type: ignore[no-untyped-def]
    trainer = make_identity("trainer", 12)
    state = State()
    state.put(
        "datasets",
        "sha256:" + "1" * 64,
        __import__("ledgerml.vocab.core", fromlist=["DatasetRecord"]).DatasetRecord(
            "sha256:" + "1" * 64,
            trainer.address,
            "cohort",
            "file:///data/cohort.csv",
            "CC-BY-4.0",
            "",
            (),
            "sha256:" + "2" * 64,
            1795600000000,
        ),
    )
    record = ModelRecord(
        "sha256:" + "3" * 64,
        trainer.address,
        "risk model",
        "file:///m.safetensors",
        (),
        ("sha256:" + "1" * 64,),
        "sha256:" + "4" * 64,
        None,
        None,
        None,
        "sha256:" + "5" * 64,
        1795600001000,
    )
    statement = model_statement(state, record, ledger_id="ab" * 16, seq=7, block=2)
    envelope = sign_statement(statement, trainer)
    golden("model.intoto.jsonl", json.dumps(envelope, sort_keys=True) + "\n")
    golden("model.statement.json", json.dumps(statement, indent=2, sort_keys=True) + "\n")
    opened, signers = open_envelope(envelope)
    assert opened == statement and signers == [trainer.address]
    forged = dict(envelope, payload=envelope["payload"][:-4] + "AAA=")
    with pytest.raises(InvalidAttestation, match=r"signature|malformed"):
        open_envelope(forged)


def test_attestation_by_someone_else_fails(world: World) -> None:
    _, model_id, model_path = register_basics(world)
    with pytest.raises(Unauthorized, match="registrant"):
        attest(world.ledger, world.owner, model_id)
    statement, _ = open_envelope(attest(world.ledger, world.trainer, model_id))
    by_owner = sign_statement(statement, world.owner)
    path = world.root / "a.jsonl"
    path.write_text(json.dumps(by_owner) + "\n")
    report = verify_model(world.ledger, world.store, model_path, path)
    assert report.first_failure is not None and report.first_failure.name == "attestation"
    statement["predicate"]["buildDefinition"]["resolvedDependencies"] = []
    path.write_text(json.dumps(sign_statement(statement, world.trainer)) + "\n")
    report = verify_model(world.ledger, world.store, model_path, path)
    assert report.first_failure is not None and "differs" in report.first_failure.detail


def test_registration_rejections_store_nothing(world: World) -> None:
    data = write_csv(world.root / "d.csv", [["1", "2", "0"]])
    before = (world.ledger.size, world.store.list())
    with pytest.raises(Unauthorized, match="data_owner"):
        register_dataset(world.ledger, world.store, world.trainer, data)
    assert (world.ledger.size, world.store.list()) == before
    registered = register_dataset(world.ledger, world.store, world.owner, data)
    with pytest.raises(DuplicateRegistration, match="registered already"):
        register_dataset(world.ledger, world.store, world.owner, data)
    assert isinstance(world.ledger.get_event(registered.receipt.seq).event.typed_payload(), DatasetRegistered)


@pytest.mark.parametrize("delimiter", [",", "\t"])
def test_fast_path_equals_csv_module(delimiter: str) -> None:
    rows = [["1", "0xabc", "é ü", "", "x y"], ["2", "", "a;b", "3.5", "end"], [""]]
    text = "\n".join(delimiter.join(r) for r in rows) + "\n\n"
    assert not records_module._SPECIAL[delimiter].search(text)  # the fast path applies
    expected = [row_leaf(r) for r in csv.reader(text.splitlines(), delimiter=delimiter) if r]
    assert records_module._csv_leaves_of_text(text, delimiter) == expected
    quoted = text + f'"q{delimiter}uoted"{delimiter}2\n'
    assert records_module._SPECIAL[delimiter].search(quoted)  # falls back to the csv module
    assert records_module._csv_leaves_of_text(quoted, delimiter) == [
        row_leaf(r) for r in csv.reader(quoted.splitlines(), delimiter=delimiter) if r
    ]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("model.PKL", b"\x80\x04K\x01."),
        ("model.bin", __import__("pickle").dumps({"w": [1.0, 2.0]}, protocol=4)),
        ("weights.bin", __import__("pickle").dumps({"w": [1.0, 2.0]}, protocol=2)),
        ("legacy.bin", __import__("pickle").dumps({"w": [1.0, 2.0]}, protocol=0)),
        ("torch.bin", "zip:archive/data.pkl"),
        ("objects.npy", "npy-object"),
    ],
)
def test_pickles_are_refused_by_content_whatever_their_name(world: World, name: str, content: object) -> None:
    import io
    import zipfile

    folder = world.root / "model"
    folder.mkdir()
    write_model(folder / "weights.safetensors")
    if content == "npy-object":
        buffer = io.BytesIO()
        np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
        data = buffer.getvalue()
    elif isinstance(content, str):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr(content.removeprefix("zip:"), b"\x80\x02}q\x00.")
            archive.writestr("archive/version", b"3")
        data = buffer.getvalue()
    else:
        assert isinstance(content, bytes)
        data = content
    (folder / name).write_bytes(data)
    before = (world.ledger.size, world.store.list())
    with pytest.raises(ConfigError, match="pickle"):
        register_model(world.ledger, world.store, world.trainer, folder, trained_on=[])
    assert (world.ledger.size, world.store.list()) == before


def test_text_and_tensors_are_not_mistaken_for_pickles(tmp_path: Path) -> None:
    from ledgerml.provenance.registry import pickle_kind

    samples = {"config.json": b'{"layers": 2}', "notes.txt": b"(a note)\n", "empty": b""}
    for name, data in samples.items():
        (tmp_path / name).write_bytes(data)
        assert pickle_kind(tmp_path / name) is None, name
    assert pickle_kind(write_model(tmp_path / "m.safetensors")) is None


# -- every bad option of the data, model and fraud commands: one line, a specific exit code, nothing written ----------

LONG = "n" * 10_000
BAD_DIGEST = "sha256:XYZ"
DEEP = "[" * 200_000 + "]" * 200_000


@pytest.fixture(scope="module")
def cli_home(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A ledger home with a registered dataset and model, and bad input files next to it (made in-process)."""
    from .._cli import run_cli_in

    root = tmp_path_factory.mktemp("bad-options")
    home = root / "home"

    def run(*args: str) -> str:
        result = run_cli_in(home, *args)
        assert result.code == 0, result.err
        return result.out

    run("init", "--unencrypted")
    run("role", "grant", "data_owner", "admin")
    run("role", "grant", "trainer", "admin")
    data = write_csv(root / "d.csv", [["1", "2", "0"], ["3", "4", "1"]])
    dataset_id = json.loads(run("data", "register", str(data), "--json"))["dataset_id"]
    model = write_model(root / "m.safetensors")
    model_id = json.loads(run("model", "register", str(model), "--trained-on", dataset_id, "--json"))["model_id"]
    (root / "deep.json").write_text(DEEP)
    (root / "binary.csv").write_bytes(b"\x00\xff\xfe\x81" * 256)
    (root / "latin1.csv").write_bytes("a,b\ncafé,1\n".encode("latin-1"))
    (root / "binary.json").write_bytes(b"\xff\xfe\x00{" * 64)
    (root / "random.safetensors").write_bytes(b"\xff" * 64)
    (root / "folder").mkdir()
    (root / "file.txt").write_text("a file\n")
    (root / "deep-model").mkdir()
    (root / "deep-model" / "detector.json").write_text(DEEP)
    (root / "deep-model" / "model.txt").write_text("tree\n")
    return {
        "home": str(home),
        "root": str(root),
        "data": str(data),
        "dataset": dataset_id,
        "model_file": str(model),
        "model": model_id,
    }


def _bad_option_cases() -> list[tuple[str, list[str], int]]:
    r = "{root}"
    return [
        # data register
        ("data-long-name", ["data", "register", "{data}", "--name", LONG], 16),
        ("data-long-license", ["data", "register", "{data}", "--license", LONG], 16),
        ("data-long-consent", ["data", "register", "{data}", "--consent-note", LONG], 16),
        ("data-bad-parent", ["data", "register", "{data}", "--parent", BAD_DIGEST], 16),
        ("data-missing-file", ["data", "register", f"{r}/nothing.csv"], 3),
        ("data-binary-file", ["data", "register", f"{r}/binary.csv"], 2),
        ("data-latin1-file", ["data", "register", f"{r}/latin1.csv"], 2),
        # data prove / check-record / attest / show
        ("prove-out-missing-folder", ["data", "prove", "{data}", "--row", "0", "--out", f"{r}/no/p.json"], 6),
        ("prove-out-onto-folder", ["data", "prove", "{data}", "--row", "0", "--out", f"{r}/folder"], 6),
        ("prove-missing-file", ["data", "prove", f"{r}/nothing.csv", "--row", "0"], 3),
        ("prove-binary-file", ["data", "prove", f"{r}/binary.csv", "--row", "0"], 2),
        ("check-deep-json", ["data", "check-record", f"{r}/deep.json"], 30),
        ("check-binary", ["data", "check-record", f"{r}/binary.json"], 30),
        ("check-missing", ["data", "check-record", f"{r}/nothing.json"], 3),
        ("check-folder", ["data", "check-record", f"{r}/folder"], 3),
        ("data-attest-out-missing", ["data", "attest", "{dataset}", "--out", f"{r}/no/a.jsonl"], 6),
        ("data-attest-out-folder", ["data", "attest", "{dataset}", "--out", f"{r}/folder"], 6),
        ("data-attest-bad-id", ["data", "attest", BAD_DIGEST], 3),
        ("data-show-bad-id", ["data", "show", LONG], 3),
        # model register / attest / lineage / show
        ("model-bad-trained-on", ["model", "register", "{model_file}", "--trained-on", BAD_DIGEST], 16),
        ("model-bad-parent", ["model", "register", "{model_file}", "--trained-on", "{dataset}", "--parent", "x"], 16),
        ("model-long-name", ["model", "register", "{model_file}", "--trained-on", "{dataset}", "--name", LONG], 16),
        ("model-long-uri", ["model", "register", "{model_file}", "--trained-on", "{dataset}", "--uri", LONG], 16),
        (
            "model-deep-metrics",
            ["model", "register", "{model_file}", "--trained-on", "{dataset}", "--metrics", f"{r}/deep.json"],
            2,
        ),
        (
            "model-binary-metrics",
            ["model", "register", "{model_file}", "--trained-on", "{dataset}", "--metrics", f"{r}/binary.json"],
            2,
        ),
        (
            "model-missing-metrics",
            ["model", "register", "{model_file}", "--trained-on", "{dataset}", "--metrics", f"{r}/no.json"],
            3,
        ),
        (
            "model-folder-metrics",
            ["model", "register", "{model_file}", "--trained-on", "{dataset}", "--metrics", f"{r}/folder"],
            2,
        ),
        ("model-missing-file", ["model", "register", f"{r}/no.safetensors", "--trained-on", "{dataset}"], 3),
        ("model-binary-file", ["model", "register", f"{r}/random.safetensors", "--trained-on", "{dataset}"], 2),
        ("model-text-file", ["model", "register", f"{r}/file.txt", "--trained-on", "{dataset}"], 2),
        ("model-attest-out-missing", ["model", "attest", "{model}", "--out", f"{r}/no/a.jsonl"], 6),
        ("model-attest-out-folder", ["model", "attest", "{model}", "--out", f"{r}/folder"], 6),
        ("model-lineage-bad-id", ["model", "lineage", BAD_DIGEST], 3),
        ("model-show-bad-id", ["model", "show", LONG], 3),
        # fraud
        ("score-out-missing", ["fraud", "score", "--unsupervised", "--data", "{data}", "--out", f"{r}/no/s.csv"], 6),
        ("score-out-folder", ["fraud", "score", "--unsupervised", "--data", "{data}", "--out", f"{r}/folder"], 6),
        ("score-missing-data", ["fraud", "score", "--unsupervised", "--data", f"{r}/no.csv", "--out", f"{r}/s.csv"], 3),
        ("score-folder-data", ["fraud", "score", "--unsupervised", "--data", f"{r}/folder", "--out", f"{r}/s.csv"], 3),
        (
            "score-binary-data",
            ["fraud", "score", "--unsupervised", "--data", f"{r}/binary.csv", "--out", f"{r}/s.csv"],
            2,
        ),
        ("score-missing-model", ["fraud", "score", "--model", f"{r}/no", "--data", "{data}", "--out", f"{r}/s.csv"], 3),
        (
            "score-file-as-model",
            ["fraud", "score", "--model", f"{r}/file.txt", "--data", "{data}", "--out", f"{r}/s.csv"],
            2,
        ),
        (
            "score-folder-not-a-model",
            ["fraud", "score", "--model", f"{r}/folder", "--data", "{data}", "--out", f"{r}/s.csv"],
            3,
        ),
        (
            "score-deep-detector-json",
            [
                "fraud",
                "score",
                "--model",
                f"{r}/deep-model",
                "--unregistered",
                "--data",
                "{data}",
                "--out",
                f"{r}/s.csv",
            ],
            2,
        ),
        ("train-out-onto-file", ["fraud", "train", "--data", "{data}", "--model-out", f"{r}/file.txt"], 6),
        ("train-out-missing-folder", ["fraud", "train", "--data", "{data}", "--model-out", f"{r}/no/m"], 6),
        ("train-binary-data", ["fraud", "train", "--data", f"{r}/binary.csv", "--model-out", f"{r}/m1"], 2),
        ("train-missing-data", ["fraud", "train", "--data", f"{r}/no.csv", "--model-out", f"{r}/m2"], 3),
        ("features-out-missing", ["fraud", "features", "--transactions", "{data}", "--out", f"{r}/no/a.csv"], 6),
        ("features-out-folder", ["fraud", "features", "--transactions", "{data}", "--out", f"{r}/folder"], 6),
        ("features-binary", ["fraud", "features", "--transactions", f"{r}/binary.csv", "--out", f"{r}/a.csv"], 2),
        ("features-missing", ["fraud", "features", "--transactions", f"{r}/no.csv", "--out", f"{r}/a.csv"], 3),
        (
            "explain-missing-model",
            ["fraud", "explain", "--model", f"{r}/no", "--data", "{data}", "--address", "0x1"],
            3,
        ),
        ("evaluate-binary", ["fraud", "evaluate", "--data", f"{r}/binary.csv"], 2),
        ("evaluate-missing", ["fraud", "evaluate", "--data", f"{r}/no.csv"], 3),
        ("evaluate-folds", ["fraud", "evaluate", "--data", "{data}", "--folds", "0"], 2),
    ]


@pytest.mark.parametrize(
    ("args", "code"), [c[1:] for c in _bad_option_cases()], ids=[c[0] for c in _bad_option_cases()]
)
def test_bad_options_are_one_line_with_a_specific_code_and_change_nothing(
    cli_home: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    code: int,
) -> None:
    import sys

    from ledgerml.cli import main
    from ledgerml.home import Home

    monkeypatch.setenv("LEDGERML_HOME", cli_home["home"])
    monkeypatch.setenv("COLUMNS", "100000")
    root = Path(cli_home["root"])

    def events() -> int:
        ledger = Home(cli_home["home"]).open_ledger(as_validator=False)
        try:
            return ledger.size
        finally:
            ledger.close()

    def files() -> list[str]:
        return sorted(str(p) for p in root.rglob("*") if p.is_file() and "home" not in p.parts[len(root.parts) :][:1])

    before, artifacts, written = events(), Home(cli_home["home"]).store().list(), files()
    monkeypatch.setattr(sys, "argv", ["ledgerml", *[a.format(**cli_home) for a in args]])
    capsys.readouterr()
    try:
        main()
        got = 0
    except SystemExit as exc:
        got = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    lines = error_lines(captured.err)
    assert "Traceback" not in captured.err
    assert (got, len(lines)) == (code, 1), captured.err[:2000]
    assert lines[0].startswith("error: ") and len(lines[0]) < 600 and captured.out == ""
    assert events() == before and Home(cli_home["home"]).store().list() == artifacts and files() == written
