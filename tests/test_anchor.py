"""Anchoring the embedded ledger's signed head on a real EVM node: rewrites and truncations are caught."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

from ledgerml._jsonrpc import JsonRpc
from ledgerml.anchor import anchor_head, check_anchors, load_anchors, save_anchor
from ledgerml.home import Home
from ledgerml.types import Role
from ledgerml.vocab.core import RoleGranted

from .conftest import make_identity


def _home(tmp_path: Path, node: str) -> Home:
    home = Home(tmp_path / "home")
    home.init(unencrypted=True, block_size=1000, block_interval=3600)
    admin = home.identity()
    JsonRpc(node).call("anvil_setBalance", [admin.address, hex(10**20)])  # gas for the anchors
    ledger = home.open_ledger()
    for i in range(3):
        ledger.submit(admin, RoleGranted(subject=make_identity("p", 500 + i).address, role=Role.AUDITOR))
    ledger.seal()
    ledger.close()
    return home


def _rewrite_last_block(home: Home) -> None:
    """What a dishonest validator could do: drop the newest block and its events, write other events, re-seal."""
    conn = sqlite3.connect(home.ledger_path)
    height = conn.execute("SELECT MAX(height) FROM blocks").fetchone()[0]
    previous = conn.execute("SELECT log_size FROM blocks WHERE height = ?", (height - 1,)).fetchone()[0]
    conn.execute("DELETE FROM blocks WHERE height = ?", (height,))
    conn.execute("DELETE FROM events WHERE seq >= ?", (previous,))
    conn.commit()
    conn.close()
    ledger = home.open_ledger()
    ledger.submit(home.identity(), RoleGranted(subject=make_identity("q", 900).address, role=Role.TRAINER))
    ledger.seal()
    ledger.close()


@pytest.mark.slow
def test_anchor_catches_a_rewritten_history(node: str, tmp_path: Path) -> None:
    home = _home(tmp_path, node)
    ledger = home.open_ledger()
    anchor = anchor_head(ledger, home.identity(), f"evm+{node}")
    save_anchor(home.path / "anchors.jsonl", anchor)
    assert check_anchors(ledger, load_anchors(home.path / "anchors.jsonl")) == []
    ledger.close()
    _rewrite_last_block(home)
    ledger = home.open_ledger()
    assert ledger.verify().ok  # the rewritten ledger is self-consistent: only the anchor can tell
    problems = check_anchors(ledger, [anchor])
    ledger.close()
    assert problems and "history rewritten" in problems[0]


@pytest.mark.slow
def test_cli_anchor_and_verify_catch_truncation(
    node: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ledgerml.cli import main

    home = _home(tmp_path, node)

    def run(*args: str) -> int:
        monkeypatch.setattr(sys, "argv", ["ledgerml", *args, "--home", str(home.path)])
        try:
            main()
        except SystemExit as exc:
            return int(exc.code or 0)
        return 0

    assert run("anchor", "--to", f"evm+{node}") == 0
    assert run("verify") == 0
    conn = sqlite3.connect(home.ledger_path)
    height, previous = conn.execute(
        "SELECT MAX(height), (SELECT log_size FROM blocks WHERE height = "
        "(SELECT MAX(height) - 1 FROM blocks)) FROM blocks"
    ).fetchone()
    conn.execute("DELETE FROM blocks WHERE height = ?", (height,))
    conn.execute("DELETE FROM events WHERE seq >= ?", (previous,))
    conn.commit()
    conn.close()
    capsys.readouterr()
    assert run("verify") == 31
    assert "truncated" in capsys.readouterr().err
    assert run("anchor", "--to", "http://nope") == 2


@pytest.mark.slow
def test_node_start_status_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json
    import os

    from ledgerml.cli import main
    from ledgerml.localnode import free_port

    home = Home(tmp_path / "home")
    home.init(unencrypted=True)
    port = free_port()

    def run(*args: str) -> tuple[int, str]:
        monkeypatch.setattr(sys, "argv", ["ledgerml", *args, "--home", str(home.path), "--json"])
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        return code, capsys.readouterr().out

    code, out = run("node", "start", "--port", str(port))
    assert code == 0, out
    pid = json.loads(out)["pid"]
    try:
        assert run("node", "start", "--port", str(port))[0] == 2  # one node per home
        other = Home(tmp_path / "other")
        other.init(unencrypted=True)
        monkeypatch.setattr(sys, "argv", ["ledgerml", "node", "start", "--port", str(port), "--home", str(other.path)])
        with pytest.raises(SystemExit) as refused:  # another home's node holds the port: said, nothing written
            main()
        assert refused.value.code == 2 and not (other.path / "node").exists()
        assert f"another process listens on 127.0.0.1:{port}" in capsys.readouterr().err
        status = json.loads(run("node", "status")[1])
        assert status["running"] and status["chain_id"] == 31337
        JsonRpc(status["rpc"]).call("anvil_setBalance", [home.identity().address, hex(10**20)])
        assert run("anchor", "--to", f"evm+{status['rpc']}")[0] == 0
    finally:
        code, _ = run("node", "stop")
    assert code == 0
    from ledgerml.localnode import alive

    assert not alive(pid)
    import time

    deadline = time.monotonic() + 10  # reaped, not left a zombie (a busy machine may take a moment to reap it)
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        alive(pid)  # reaps it if it is this process's child
        time.sleep(0.05)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert json.loads(run("node", "status")[1]) == {"running": False}


@pytest.mark.slow
def test_verify_rediscovers_anchors_from_the_chain(node: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 21 item 11: anchors.jsonl deleted with the rewrite; ``verify --anchors-from`` finds the anchor on
    chain and fails, while a head that an outsider signed and posted for this ledger id is ignored."""
    from ledgerml.ledger.blocks import sign_block

    from ._cli import one_error_line, run_cli

    home = _home(tmp_path, node)
    ledger = home.open_ledger()
    head = ledger.block()
    save_anchor(home.path / "anchors.jsonl", anchor_head(ledger, home.identity(), f"evm+{node}"))
    stranger = make_identity("stranger", 4242)
    JsonRpc(node).call("anvil_setBalance", [stranger.address, hex(10**20)])
    fake_head = sign_block(
        stranger, ledger=head.ledger, height=head.height, prev_hash=head.prev_hash, log_size=head.log_size,
        log_root=bytes(32), time=head.time,
    )  # fmt: skip

    class PostsAFakeHead:
        def block(self) -> object:
            return fake_head

    anchor_head(PostsAFakeHead(), stranger, f"evm+{node}")  # type: ignore[arg-type]
    ledger.close()
    monkeypatch.setenv("LEDGERML_HOME", str(home.path))
    assert run_cli("verify", "--anchors-from", f"evm+{node}").code == 0  # the outsider's head is not counted
    _rewrite_last_block(home)
    (home.path / "anchors.jsonl").unlink()
    plain = run_cli("verify")
    assert plain.code == 0 and "no chain was asked for anchors" in plain.out, plain
    found = run_cli("verify", "--anchors-from", f"evm+{node}")
    assert found.code == 31 and "history rewritten" in found.err and one_error_line(found.err), found
    assert run_cli("verify", "--anchors-from", f"evm+{node}", "--anchors-since", "999999").code == 2


@pytest.mark.slow
def test_an_unfunded_key_is_told_what_to_do_and_dev_funding_pays(node: str, tmp_path: Path) -> None:
    from ledgerml.anchor import InsufficientGas

    home = Home(tmp_path / "fresh")
    home.init(unencrypted=True)
    identity = home.identity()  # a new key: no ether on the chain
    with home.open_ledger() as ledger:
        with pytest.raises(InsufficientGas, match=r"holds 0 wei .* pass --dev-funding"):
            anchor_head(ledger, identity, f"evm+{node}")
        assert int(JsonRpc(node).call("eth_getTransactionCount", [identity.address, "latest"]), 16) == 0
        anchor = anchor_head(ledger, identity, f"evm+{node}", dev_funding=True)
        assert check_anchors(ledger, [anchor]) == []


@pytest.mark.slow
def test_a_mined_anchor_the_node_still_lists_as_pending_is_checked_by_its_receipt(
    node: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Anvil answers eth_getTransactionByHash from its pool first and clears the pool only after storing the block
    (foundry-rs/foundry#10944): right after mining, the transaction can show no block. The receipt decides; with
    no receipt either, the anchor is reported as pending, not as missing."""
    import ledgerml.anchor as anchoring

    home = _home(tmp_path, node)
    ledger = home.open_ledger()
    anchor = anchor_head(ledger, home.identity(), f"evm+{node}")
    receipts = {"answer": True}

    class PoolFirst(JsonRpc):
        def call(self, method: str, params: list[object] | None = None) -> object:
            answer = super().call(method, params)
            if method == "eth_getTransactionByHash":
                return {**answer, "blockNumber": None, "blockHash": None}
            if method == "eth_getTransactionReceipt" and not receipts["answer"]:
                return None
            return answer

    monkeypatch.setattr(anchoring, "JsonRpc", PoolFirst)
    assert check_anchors(ledger, [anchor]) == []
    receipts["answer"] = False
    problems = check_anchors(ledger, [anchor])
    assert len(problems) == 1 and "still pending on chain 31337" in problems[0]
    monkeypatch.setattr(anchoring, "JsonRpc", JsonRpc)
    from dataclasses import replace

    elsewhere = check_anchors(ledger, [replace(anchor, chain_id=1)])
    assert len(elsewhere) == 1 and "serves chain 31337, not the anchor's chain 1" in elsewhere[0]

    class Hostile(JsonRpc):
        def call(self, method: str, params: list[object] | None = None) -> object:
            answer = super().call(method, params)
            if method == "eth_getTransactionByHash":
                return answers.pop(0)
            return answer

    answers: list[object] = [[1, 2], {"input": "0xzz", "blockNumber": "0x1"}, {"input": "0x00", "blockNumber": "0x1"}]
    monkeypatch.setattr(anchoring, "JsonRpc", Hostile)
    assert check_anchors(ledger, [anchor] * 3) == [
        f"anchor {anchor.transaction[:12]}… (block {anchor.height}): {why}"
        for why in (
            "the node's answer is not a transaction",
            "the transaction does not carry a ledgerml anchor",
            "the transaction does not carry a ledgerml anchor",
        )
    ]
    ledger.close()


def test_an_anchors_log_a_crash_cut_short_keeps_its_whole_records(tmp_path: Path) -> None:
    """save_anchor appends under a lock and leaves a torn last line as a line of its own; reading the log names
    that line instead of refusing the whole file, and verify says it skipped it. A line that is JSON but not a
    well-formed record was edited, not torn: it is refused, in one line, also by verify."""
    import json
    from dataclasses import asdict

    from ledgerml.anchor import Anchor
    from ledgerml.errors import ConfigError
    from ledgerml.verification import verify_home

    record = Anchor("http://127.0.0.1:1", 31337, "0x" + "ab" * 32, "0" * 32, 3, 4, "cd" * 32, "ef" * 32)
    path = tmp_path / "anchors.jsonl"
    path.write_bytes(json.dumps(asdict(record)).encode()[:57])  # a crash in the middle of an append
    save_anchor(path, record)
    assert path.read_bytes().count(b"\n") == 2
    skipped: list[str] = []
    assert load_anchors(path, skipped) == [record]
    assert skipped == [f"{path} line 1 is not JSON (an append cut short?)"]
    with pytest.raises(ConfigError, match="line 1 is not an anchor record"):
        load_anchors(path)
    for bad, why in [
        ({**asdict(record), "height": "3"}, "its height is not a non-negative integer"),
        ({**asdict(record), "height": True}, "its height is not a non-negative integer"),
        ({**asdict(record), "height": -5}, "its height is not a non-negative integer"),
        ({**asdict(record), "transaction": "0x\nforged"}, "its transaction is not in the form anchor writes"),
        ({**asdict(record), "rpc": "file:///etc/passwd"}, "its rpc is not in the form anchor writes"),
        ({k: v for k, v in asdict(record).items() if k != "rpc"}, r"missing \['rpc'\], unexpected \[\]"),
        ({**asdict(record), "x\nFAKE: all anchors checked": 1}, "unexpected"),
        ([1, 2], "not a JSON object"),
    ]:
        path.write_text(json.dumps(bad) + "\n")
        with pytest.raises(ConfigError, match=why) as raised:
            load_anchors(path, [])
        assert "\n" not in str(raised.value)
    path.write_text("x" * 5000 + "\n")
    with pytest.raises(ConfigError, match="longer than 4,096 bytes"):
        load_anchors(path, [])

    home = Home(tmp_path / "home")
    home.init(unencrypted=True)
    (home.path / "anchors.jsonl").write_text('{"rpc": "http://127.0.0.1:1", "chain_id": 313')
    with home.open_ledger() as ledger:
        report = verify_home(home, ledger)
        assert report.ok, report.problem
        assert any("line 1 is not JSON" in note and "skipped" in note for note in report.notes)
        (home.path / "anchors.jsonl").write_text(json.dumps({**asdict(record), "height": "3"}) + "\n")
        with pytest.raises(ConfigError, match="line 1 is not an anchor record: its height"):
            verify_home(home, ledger)
