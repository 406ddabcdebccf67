"""The command line, run in-process through its real entry point: output, --json, exit codes, no tracebacks."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from ledgerml.cli import main  # noqa: F401  (imported for the side effect of loading every command)

from .._cli import snapshot


def test_init_creates_home(cli, home: Path) -> None:  # type: ignore[no-untyped-def]
    assert (home / "ledger.db").is_file() and (home / "keys" / "admin.json").is_file()
    assert (home / "artifacts").is_dir() and (home / "config.json").is_file()
    again = cli("init", "--unencrypted")
    assert again.code == 4 and "home exists at" in again.err


def test_init_without_password_leaves_nothing(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("init")
    assert result.code == 5 and "LEDGERML_PASSWORD" in result.err
    assert not (tmp_path / "home").exists()


def test_encrypted_init_and_sign(cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LEDGERML_PASSWORD", "correct horse")
    assert cli("init").code == 0
    keystore = json.loads((tmp_path / "home" / "keys" / "admin.json").read_text())
    assert keystore["version"] == 3
    assert cli("identity", "create", "carol").code == 0
    assert cli("role", "grant", "auditor", "carol").code == 0
    monkeypatch.setenv("LEDGERML_PASSWORD", "wrong")
    wrong = cli("role", "grant", "trainer", "carol")
    assert wrong.code == 5 and "wrong password" in wrong.err


def test_missing_home_is_a_clear_error(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("verify")
    assert result.code == 3 and "ledgerml init" in result.err


def test_identity_commands(cli, home: Path) -> None:  # type: ignore[no-untyped-def]
    listed = cli("identity", "list", "--json").json()
    assert [i["name"] for i in listed] == ["admin", "alice", "bob"]  # type: ignore[index]
    shown = cli("identity", "show", "admin", "--json").json()
    assert shown["roles"] == ["admin", "validator"] and shown["next_nonce"] == 1  # type: ignore[index]
    assert cli("identity", "show", "nobody").code == 3
    assert cli("identity", "create", "bad/name", "--unencrypted").code == 2


def test_roles_and_rejections(cli, home: Path) -> None:  # type: ignore[no-untyped-def]
    granted = cli("role", "grant", "data_owner", "alice", "--json")
    assert granted.code == 0 and granted.json()["kind"] == "RoleGranted"  # type: ignore[index]
    before = snapshot(home)
    forbidden = cli("role", "grant", "admin", "bob", "--as", "alice")
    assert forbidden.code == 14 and "needs the admin role" in forbidden.err
    twice = cli("role", "grant", "data_owner", "alice")
    assert twice.code == 17
    last_admin = cli("role", "revoke", "admin", "admin")
    assert last_admin.code == 19
    assert snapshot(home) == before
    assert cli("role", "grant", "emperor", "bob").code == 2  # typer rejects the choice


def test_append_single_and_batch(cli, home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("role", "grant", "data_owner", "alice")
    payload = {
        "dataset_id": "sha256:" + "a" * 64,
        "name": "d",
        "uri": "",
        "license": "",
        "consent_note": "",
        "parents": [],
        "metadata": {},
    }
    one = cli(
        "chain", "append", "--as", "alice", "--kind", "DatasetRegistered", "--payload", json.dumps(payload), "--json"
    )
    assert one.code == 0, one
    batch = tmp_path / "batch.jsonl"
    lines = [{"kind": "DatasetRegistered", "payload": payload | {"dataset_id": f"sha256:{i:064x}"}} for i in range(5)]
    batch.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    assert len(cli("chain", "append", "--as", "alice", "--file", str(batch), "--json").json()) == 5  # type: ignore[arg-type]
    before = snapshot(home)
    lines.append({"kind": "DatasetRegistered", "payload": payload})  # duplicate of the single one
    lines.insert(0, {"kind": "DatasetRegistered", "payload": payload | {"dataset_id": f"sha256:{99:064x}"}})
    batch.write_text("\n".join(json.dumps(line) for line in lines))
    bad = cli("chain", "append", "--as", "alice", "--file", str(batch))
    assert bad.code == 17 and "batch event" in bad.err
    assert snapshot(home) == before
    malformed = cli("chain", "append", "--as", "alice", "--kind", "DatasetRegistered", "--payload", "{}")
    assert malformed.code == 16
    unknown = cli("chain", "append", "--as", "alice", "--kind", "Teleported", "--payload", "{}")
    assert unknown.code == 15
    assert cli("chain", "append", "--as", "alice", "--kind", "X", "--file", str(batch)).code == 2
    assert snapshot(home) == before


def test_log_blocks_show_proofs_verify(cli, home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    created = len(cli("chain", "log", "--json").json())  # type: ignore[arg-type]  # genesis and the identities' keys
    for role in ("data_owner", "trainer", "auditor", "aggregator"):
        cli("role", "grant", role, "alice")
    total = created + 4
    log = cli("chain", "log", "--json").json()
    assert [e["seq"] for e in log] == list(range(total))  # type: ignore[index]
    sizes = [b["log_size"] for b in cli("chain", "blocks", "--json").json()]  # type: ignore[union-attr,index]
    assert [e["sealed"] for e in log] == [i < sizes[-1] for i in range(total)]  # type: ignore[index]
    assert sizes[0] == 1 and all(b - a <= 3 for a, b in itertools.pairwise(sizes))  # blocks of 3
    if sizes[-1] < total:
        assert cli("chain", "seal", "--json").json()["log_size"] == total  # type: ignore[index]
    sizes = [b["log_size"] for b in cli("chain", "blocks", "--json").json()]  # type: ignore[union-attr,index]
    assert sizes[-1] == total and len(sizes) >= 3
    last = total - 1  # the last role grant
    shown = cli("chain", "show", str(last), "--json").json()
    assert shown["kind"] == "RoleGranted" and shown["block"] == len(sizes) - 1  # type: ignore[index]
    assert cli("chain", "show", "--block", "2", "--json").json()["height"] == 2  # type: ignore[index]
    assert cli("chain", "show", "99").code == 3
    proof_file = tmp_path / "proof.json"
    assert cli("chain", "proof", str(last), "--out", str(proof_file)).code == 0
    admin_address = cli("identity", "show", "admin", "--json").json()["address"]  # type: ignore[index]
    checked = cli("chain", "verify-proof", str(proof_file), "--trust", admin_address, "--json")
    assert checked.code == 0 and checked.json()["leaf_index"] == last  # type: ignore[index]
    bob = cli("identity", "show", "bob", "--json").json()["address"]  # type: ignore[index]
    assert cli("chain", "verify-proof", str(proof_file), "--trust", bob).code == 30
    forged = json.loads(proof_file.read_text())
    forged["event"]["payload"]["role"] = "admin"
    proof_file.write_text(json.dumps(forged))
    assert cli("chain", "verify-proof", str(proof_file)).code == 30
    consistency = tmp_path / "consistency.json"
    assert cli("chain", "consistency", "0", "2", "--out", str(consistency)).code == 0
    assert cli("chain", "verify-proof", str(consistency), "--json").json()["new_block"] == 2  # type: ignore[index]
    verified = cli("verify", "--json")
    assert verified.code == 0 and verified.json()["ok"] is True  # type: ignore[index]


def test_demo_runs_and_keeps_home_when_asked(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    result = cli("demo", "--rounds", "6", "--json")
    assert result.code == 0, result.err
    summary = result.json()
    accuracy = summary["final_accuracy"]  # type: ignore[index]
    assert accuracy["robust"] > accuracy["attacked"] + 0.2  # robust aggregation beats the attacked baseline
    assert summary["attacker_rejected_rounds"] == 6  # type: ignore[index]
    assert all(c["result"] == "PASS" for c in summary["checks"])  # type: ignore[index]
    # LEDGERML_HOME is set by the fixture, so the demo keeps its home there and writes the report into it
    report = (tmp_path / "home" / "report.html").read_text()
    assert report.count("data:image/png;base64,") == 3
    assert "ledgerml version" in report and "ledger id" in report and "setting rounds" in report
    assert "INFO" not in result.err and "fraction_evaluate" not in result.err  # Flower is quiet by default
    kept = tmp_path / "kept"
    assert cli("demo", "--home", str(kept), "--rounds", "3").code == 0
    assert (kept / "ledger.db").is_file() and (kept / "report.html").is_file()
    assert cli("verify", "--home", str(kept)).code == 0
    tasks = cli("fl", "tasks", "--home", str(kept), "--json").json()
    assert {t["task"] for t in tasks} == {"clean-fedavg", "attacked-fedavg", "attacked-multikrum"}  # type: ignore[union-attr,index]
    audit_report = tmp_path / "audit.html"
    audited = cli("audit", "task", "attacked-multikrum", "--home", str(kept), "--report", str(audit_report))
    assert audited.code == 0 and "every round and payout replays exactly" in audit_report.read_text()
    assert cli("demo", "--home", str(kept)).code == 4


def test_data_model_verify_commands(cli, home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import numpy as np
    from safetensors.numpy import save_file

    cli("role", "grant", "data_owner", "alice")
    cli("role", "grant", "trainer", "bob")
    data = tmp_path / "d.csv"
    data.write_text("x,y\n1,2\n3,4\n5,6\n")
    registered = cli("data", "register", str(data), "--as", "alice", "--license", "CC0", "--json")
    assert registered.code == 0, registered
    dataset_id = registered.json()["dataset_id"]  # type: ignore[index]
    assert registered.json()["records"] == 3  # type: ignore[index]
    assert cli("data", "register", str(data), "--as", "alice").code == 17
    assert cli("data", "list", "--json").json()[0]["license"] == "CC0"  # type: ignore[index]
    assert cli("data", "show", dataset_id, "--json").json()["manifest"]["files"][0]["path"] == "d.csv"  # type: ignore[index]
    model_file = tmp_path / "m.safetensors"
    save_file({"w": np.ones(3)}, str(model_file))
    assert cli("model", "register", str(model_file), "--as", "bob", "--trained-on", "sha256:" + "0" * 64).code == 18
    model = cli("model", "register", str(model_file), "--as", "bob", "--trained-on", dataset_id, "--json")
    model_id = model.json()["model_id"]  # type: ignore[index]
    lineage = cli("model", "lineage", model_id, "--format", "json").json()
    assert lineage["datasets"][0]["id"] == dataset_id  # type: ignore[index]
    assert "digraph" in cli("model", "lineage", model_id, "--format", "dot").out
    assert cli("model", "lineage", model_id, "--format", "xml").code == 2
    attestation = tmp_path / "m.intoto.jsonl"
    assert cli("model", "attest", model_id, "--as", "bob", "--out", str(attestation)).code == 0
    assert cli("model", "attest", model_id, "--as", "alice").code == 14
    ok = cli("verify", "model", str(model_file), "--attestation", str(attestation), "--json")
    assert ok.code == 0 and ok.json()["ok"] is True, ok  # type: ignore[index]
    assert cli("verify", "data", str(data)).code == 0
    proof = tmp_path / "row.json"
    assert cli("data", "prove", str(data), "--row", "1", "--out", str(proof)).code == 0
    assert cli("data", "check-record", str(proof), "--json").json()["values"] == ["3", "4"]  # type: ignore[index]
    assert cli("data", "prove", str(data), "--row", "7").code == 3
    doctored = json.loads(proof.read_text())
    doctored["values"] = ["3", "5"]
    proof.write_text(json.dumps(doctored))
    assert cli("data", "check-record", str(proof)).code == 30
    model_file.write_bytes(model_file.read_bytes() + b" ")
    failed = cli("verify", "model", str(model_file))
    assert failed.code == 33 and "FAIL digest" in failed.out and "digest check failed" in failed.err


def test_every_command_takes_json_and_home() -> None:
    import typer.main

    from ledgerml.cli import app

    root = typer.main.get_command(app)

    def leaves(command, path):  # type: ignore[no-untyped-def]
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                yield from leaves(sub, [*path, name])
        else:
            yield path, command

    found = list(leaves(root, []))
    assert len(found) > 30
    for path, command in found:
        options = {opt for param in command.params for opt in getattr(param, "opts", [])}
        assert "--json" in options, f"ledgerml {' '.join(path)} lacks --json"
        offline = (["chain", "verify-proof"], ["data", "check-record"], ["chain", "template"], ["fraud", "synthetic"])
        if path not in offline:  # offline commands need no home
            assert "--home" in options, f"ledgerml {' '.join(path)} lacks --home"


def test_rewards_and_token_commands(cli, home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "paid.toml"
    config.write_text(
        '[federation]\ntask_id = "paid"\nparticipants = 3\nrounds = 2\nrule = "fedavg"\n'
        "[rewards]\nreward_pool = 200\nstake = 10\ninitial_tokens = 10\n"
    )
    ran = cli("fl", "run", str(config), "--unencrypted", "--json")
    assert ran.code == 0 and ran.json()["audit_ok"] is True, ran.err  # type: ignore[index]
    shown = cli("rewards", "show", "paid", "--json").json()
    people = shown["participants"]  # type: ignore[index]
    assert len(people) == 3 and sum(p["reward"] for p in people) > 0 and all(p["stake_held"] == 0 for p in people)
    balances = cli("token", "balance", "--json").json()
    assert balances["balanced"] is True and balances["minted"] == 230  # type: ignore[index]
    assert cli("token", "mint", "5", "--to", "bob", "--json").code == 0
    assert cli("token", "transfer", "alice", "3", "--as", "bob").code == 0
    assert cli("token", "balance", "alice", "--json").json()["balances"][0]["balance"] == 3  # type: ignore[index]
    assert cli("token", "transfer", "alice", "50", "--as", "bob").code == 21  # InsufficientFunds
    assert cli("token", "mint", "5", "--to", "bob", "--as", "alice").code == 14  # only the admin mints
    assert cli("token", "mint", "5").code == 2
    assert cli("audit", "task", "paid").code == 0
    assert cli("rewards", "show", "nope").code == 3


def test_demo_on_the_evm_ledger_starts_and_stops_its_node(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    kept = tmp_path / "evm-demo"
    result = cli("demo", "--ledger", "evm", "--home", str(kept), "--rounds", "2", "--json")
    assert result.code == 0, result.err
    summary = result.json()
    assert all(c["result"] == "PASS" for c in summary["checks"])  # type: ignore[index]
    config = json.loads((kept / "config.json").read_text())
    assert config["ledger"].startswith("evm+http://127.0.0.1:") and (kept / "deployment.json").is_file()
    assert not (kept / "node" / "anvil.pid").exists()  # stopped by PID
    assert not (kept / "ledger.db").exists()  # the contracts were the ledger
    assert cli("demo", "--ledger", "chain", "--home", str(tmp_path / "x")).code == 2
    assert not (tmp_path / "x").exists()


def test_chain_deploy_makes_the_home_use_the_contracts(cli, home: Path, node: str) -> None:  # type: ignore[no-untyped-def]
    deployed = cli("chain", "deploy", "--rpc", node, "--key", "admin", "--use", "--dev-funding", "--json")
    assert deployed.code == 0, deployed.err
    info = deployed.json()
    assert info["ledger_url"].startswith(f"evm+{node}?deployment=")  # type: ignore[index]
    assert json.loads((home / "deployment.json").read_text())["ledger"] == info["ledger"]  # type: ignore[index]
    assert cli("role", "grant", "auditor", "alice").code == 0
    assert cli("chain", "seal").code == 0
    log = cli("chain", "log", "--json").json()
    assert [e["kind"] for e in log] == ["LedgerCreated", "RoleGranted"]  # type: ignore[index]
    assert cli("verify").code == 0
    # a second deploy to the same file is refused and changes nothing; so is a node that does not answer
    before = (home / "deployment.json").read_bytes()
    assert cli("chain", "deploy", "--rpc", node, "--key", "admin").code == 4
    assert (
        cli(
            "chain", "deploy", "--rpc", "http://127.0.0.1:9", "--key", "admin", "--deployment", str(home / "other.json")
        ).code
        == 2
    )
    assert (home / "deployment.json").read_bytes() == before and not (home / "other.json").exists()
