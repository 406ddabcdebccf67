"""Our checkpoint notes open with golang.org/x/mod/sumdb/note, the reference implementation (where Go is installed:
Debian's golang-go and golang-golang-x-mod-dev; the Go module proxy is not reachable from here)."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ledgerml.witness.checkpoint import Checkpoint, cosign
from ledgerml.witness.note import TYPE_ED25519, Note, VerifierKey, ed25519_public, sign_note_text

GO_NOTE = Path("/usr/share/gocode/src/golang.org/x/mod/sumdb/note")
PROGRAM = Path(__file__).parent / "go" / "opennote.go"
pytestmark = pytest.mark.skipif(
    shutil.which("go") is None or not GO_NOTE.is_dir(),
    reason="Go and golang.org/x/mod are not installed (apt-get install golang-go golang-golang-x-mod-dev)",
)


@pytest.mark.slow
def test_go_opens_our_checkpoint_and_checks_its_cosignature(tmp_path: Path) -> None:
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": "/usr/share/gocode", "GOCACHE": str(tmp_path / "cache")}
    binary = tmp_path / "opennote"
    subprocess.run(["go", "build", "-o", str(binary), str(PROGRAM)], check=True, env=env, cwd=PROGRAM.parent)
    log_seed, witness_seed = bytes(range(32)), bytes(range(32, 64))
    checkpoint = Checkpoint("ledgerml.local/" + "cd" * 16, 100_000, bytes(range(32)))
    text = checkpoint.text()
    note = Note(
        text,
        (sign_note_text(text, checkpoint.origin, log_seed), cosign(text, "witness.example/w1", witness_seed, 1_700)),
    ).encode()
    vkey = str(VerifierKey(checkpoint.origin, TYPE_ED25519, ed25519_public(log_seed)))
    public = base64.b64encode(ed25519_public(witness_seed)).decode()
    opened = subprocess.run(
        [str(binary), vkey, "witness.example/w1", public], input=note, capture_output=True, text=True, check=True
    )
    assert opened.stdout == text + "cosigned witness.example/w1 1700\n"
    changed = note.replace("100000", "100001")
    refused = subprocess.run(
        [str(binary), vkey, "witness.example/w1", public], input=changed, capture_output=True, text=True
    )
    assert refused.returncode == 1
