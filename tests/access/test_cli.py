"""The access commands as a user runs them: the interface outside tests call, one-line errors, no output on
failure; identity import/export of standard Ethereum keys; the data register progress callback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .._cli import Result, one_error_line, snapshot


def error(result: Result) -> str:
    """The one ``error:`` line a failed command printed."""
    assert one_error_line(result.err), result.err
    return result.err.strip()


@pytest.fixture
def sealed(cli, home: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    """alice (a data_owner) has sealed a CSV; bob and carol exist with registered keys."""
    assert cli("role", "grant", "data_owner", "alice").code == 0
    assert cli("identity", "create", "carol", "--unencrypted").code == 0
    data = tmp_path / "ward.csv"
    data.write_text("age,outcome\n" + "".join(f"{i},{i % 2}\n" for i in range(500)))
    result = cli("data", "encrypt", str(data), "--as", "alice", "--json")
    assert result.code == 0, result.err
    return data, result.json()


def test_identity_create_registers_its_encryption_key_signed_by_it(cli, home: Path) -> None:  # type: ignore[no-untyped-def]
    created = cli("identity", "create", "dora", "--unencrypted", "--json").json()
    assert len(created["encryption_key"]) == 64 and isinstance(created["key_registered"], int)
    event = cli("chain", "show", str(created["key_registered"]), "--json").json()
    assert event["kind"] == "EncryptionKeyRegistered" and event["actor"] == created["address"]
    assert event["payload"]["public_key"] == created["encryption_key"]


def test_the_interface_grant_decrypt_revoke_access(cli, sealed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data, encrypted = sealed
    dataset, out = encrypted["dataset_id"], tmp_path / "bob.csv"
    assert isinstance(encrypted["epoch"], int) and encrypted["epoch"] == 0
    assert cli("data", "grant", dataset, "--to", "bob", "--as", "alice").code == 0
    assert cli("data", "grant", dataset, "--to", "carol", "--as", "alice", "--expires", "30d").code == 0
    assert cli("data", "decrypt", dataset, "--as", "bob", "--out", str(out)).code == 0
    assert out.read_bytes() == data.read_bytes()
    revoked = cli("data", "revoke", dataset, "--from", "bob", "--as", "alice", "--json")
    assert revoked.code == 0 and revoked.json()["epoch"] == 1
    again = cli("data", "decrypt", dataset, "--as", "bob", "--out", str(tmp_path / "again.csv"))
    assert again.code == 45 and "revoked" in error(again)
    assert not (tmp_path / "again.csv").exists()
    assert cli("data", "decrypt", dataset, "--as", "carol", "--out", str(tmp_path / "carol.csv")).code == 0
    assert cli("data", "rotate", dataset, "--as", "alice", "--json").json()["epoch"] == 2
    log = cli("data", "access", dataset, "--json").json()
    assert [g["grantee"] for g in log["grants"]] == [
        cli("identity", "show", n, "--json").json()["address"] for n in ("bob", "carol")
    ]
    assert len(log["revocations"]) == 1 and [e["epoch"] for e in log["epochs"]] == [0, 1, 2]
    assert [u["epoch"] for u in log["uses"]] == [0, 0] and log["epoch"] == 2
    assert cli("data", "access", dataset).code == 0


def test_a_new_version_uses_the_epoch_after_the_revocation(cli, sealed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, encrypted = sealed
    dataset = encrypted["dataset_id"]
    cli("data", "grant", dataset, "--to", "bob", "--as", "alice")
    cli("data", "revoke", dataset, "--from", "bob", "--as", "alice")
    newer = tmp_path / "ward-v2.csv"
    newer.write_text("age,outcome\n70,1\n")
    second = cli("data", "encrypt", str(newer), "--as", "alice", "--version-of", dataset, "--json").json()
    assert second["epoch"] == 1 and second["series"] == dataset
    refused = cli("data", "decrypt", second["dataset_id"], "--as", "bob", "--out", str(tmp_path / "v2.csv"))
    assert refused.code == 45 and not (tmp_path / "v2.csv").exists()


MISTAKES = [
    (["data", "decrypt", "{D}", "--as", "bob", "--out", "{T}/x.csv"], 44, "holds no grant"),
    (["data", "grant", "{D}", "--to", "bob", "--as", "carol"], 14, "only the owner"),
    (["data", "grant", "{D}", "--to", "nobody", "--as", "alice"], 3, "neither an address"),
    (["data", "grant", "{D}", "--to", "bob", "--as", "alice", "--expires", "soon"], 2, "duration"),
    (["data", "grant", "sha256:" + "ab" * 32, "--to", "bob", "--as", "alice"], 18, "not sealed"),
    (["data", "revoke", "{D}", "--from", "bob", "--as", "alice"], 19, "no unrevoked grant"),
    (["data", "decrypt", "not-an-id", "--as", "bob", "--out", "{T}/x.csv"], 3, "ids are 'sha256:'"),
    (["data", "decrypt", "{D}", "--as", "alice", "--out", "{T}/missing/x.csv"], 6, "does not exist"),
    (["data", "encrypt", "{T}/nothing.csv", "--as", "alice"], 3, "does not exist"),
    (["data", "encrypt", "{T}/ward.csv", "--as", "bob"], 14, "data_owner"),
    (["data", "encrypt", "{T}/ward.csv", "--as", "alice", "--version-of", "sha256:" + "ab" * 32], 18, "not sealed"),
    (["data", "access", "sha256:" + "ab" * 32], 18, "not sealed"),
    (["data", "rotate", "{D}", "--as", "bob"], 14, "only the owner"),
]


def test_mistakes_are_one_line_and_change_nothing(cli, sealed, home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dataset = sealed[1]["dataset_id"]
    for args, code, words in MISTAKES:
        before = snapshot(home)
        result = cli(*[a.replace("{D}", dataset).replace("{T}", str(tmp_path)) for a in args])
        assert result.code == code, (args, result.err)
        assert words in error(result), args
        assert snapshot(home) == before, args
        assert not (tmp_path / "x.csv").exists()


def test_a_tampered_store_is_exit_31_and_no_output(cli, sealed, home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, encrypted = sealed
    cli("data", "grant", encrypted["dataset_id"], "--to", "bob", "--as", "alice")
    sealed_doc = json.loads(
        (home / "artifacts" / "sha256" / encrypted["sealed"][7:9] / encrypted["sealed"][7:]).read_text()
    )
    target = sealed_doc["files"][0]["ciphertext"][7:]
    path = home / "artifacts" / "sha256" / target[:2] / target
    path.chmod(0o644)
    blob = bytearray(path.read_bytes())
    blob[100] ^= 1
    path.write_bytes(bytes(blob))
    result = cli("data", "decrypt", encrypted["dataset_id"], "--as", "bob", "--out", str(tmp_path / "x.csv"))
    assert result.code == 31 and "chunk 0 fails authentication" in error(result)
    assert not (tmp_path / "x.csv").exists()


def test_an_existing_v3_keystore_imports_and_exports_as_it_was(cli, home: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from eth_account import Account

    key = bytes.fromhex("5a" * 32)
    source = tmp_path / "geth.json"
    source.write_text(json.dumps(Account.encrypt(key, "their-pass", kdf="pbkdf2", iterations=1000)))
    monkeypatch.setenv("LEDGERML_PASSWORD", "not-it")
    wrong = cli("identity", "import", "ext", "--keystore", str(source))
    assert wrong.code == 5 and "wrong password" in error(wrong)
    assert not (home / "keys" / "ext.json").exists()
    monkeypatch.setenv("LEDGERML_PASSWORD", "their-pass")
    imported = cli("identity", "import", "ext", "--keystore", str(source), "--json")
    assert imported.code == 0, imported.err
    assert imported.json()["address"] == Account.from_key(key).address and imported.json()["encrypted"] is True
    exported = tmp_path / "ext.v3.json"
    assert cli("identity", "export", "ext", "--out", str(exported)).code == 0
    document = json.loads(exported.read_text())
    assert set(document) == {"address", "crypto", "id", "version"}
    assert bytes(Account.decrypt(document, "their-pass")) == key


def test_identity_import_of_a_hex_key_from_stdin(cli, home: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import io

    from eth_account import Account

    key = "0x" + "4c" * 32
    monkeypatch.setattr("sys.stdin", io.StringIO(key + "\n"))
    result = cli("identity", "import", "hot", "--private-key-stdin", "--unencrypted", "--json")
    assert result.code == 0, result.err
    assert result.json()["address"] == Account.from_key(key).address and result.json()["key_registered"] is not None
    monkeypatch.setattr("sys.stdin", io.StringIO("0x1234\n"))
    bad = cli("identity", "import", "cold", "--private-key-stdin", "--unencrypted")
    assert bad.code == 5 and "64 hex digits" in error(bad)
    both = cli("identity", "import", "cold", "--unencrypted")
    assert both.code == 2 and not (home / "keys" / "cold.json").exists()


def test_register_key_gives_an_old_keystore_an_encryption_key(cli, home: Path) -> None:  # type: ignore[no-untyped-def]
    path = home / "keys" / "bob.json"
    document = json.loads(path.read_text())
    del document["ledgerml_encryption"]
    path.write_text(json.dumps(document))
    result = cli("identity", "register-key", "bob", "--json")
    assert result.code == 0 and isinstance(result.json()["key_registered"], int)
    assert "ledgerml_encryption" in json.loads(path.read_text())
    assert cli("identity", "register-key", "bob", "--json").json()["key_registered"] is None


def test_manifest_progress_reaches_its_total(tmp_path: Path) -> None:
    from ledgerml.provenance.manifest import build_manifest

    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "t.csv").write_text("a\n" + "1\n" * 5000)
    (tmp_path / "d" / "b.bin").write_bytes(bytes(3 << 20))
    calls: list[tuple[int, int]] = []
    manifest = build_manifest(tmp_path / "d", progress=lambda done, total: calls.append((done, total)))
    assert calls[-1][0] == calls[-1][1] == (3 << 20) + 2 * (tmp_path / "d" / "t.csv").stat().st_size
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert manifest == build_manifest(tmp_path / "d")
