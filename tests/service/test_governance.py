"""Governance in the service: ``GET /api/governance`` serves the document ``governance list --json`` prints, and the
dashboard's governance page shows the policy and who approved what."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from ledgerml.home import Home
from ledgerml.service.app import create_app
from ledgerml.service.context import token_store

from .._cli import run_cli


def _ok(*args: str) -> str:
    result = run_cli(*args)
    assert result.code == 0, result.err
    return result.out


def test_api_and_page_show_the_policy_and_the_votes(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    _ok("init", "--home", home, "--unencrypted")
    for name in ("alice", "bob", "carol"):
        _ok("identity", "create", name, "--unencrypted", "--home", home)
    _ok("governance", "policy", "set", "--threshold", "2", "--members", "admin,alice,bob", "--home", home)
    number = json.loads(_ok("role", "grant", "auditor", "carol", "--propose", "--json", "--home", home))["proposal"]
    _ok("governance", "approve", str(number), "--as", "bob", "--home", home)
    printed = json.loads(_ok("governance", "list", "--json", "--home", home))
    token, _ = token_store(Home(home)).create("audit office", "auditor")
    with TestClient(create_app(Home(home))) as client:
        assert client.get("/api/governance").status_code == 401
        served = client.get("/api/governance", headers={"Authorization": f"Bearer {token}"})
        assert served.status_code == 200 and served.json() == printed
        assert served.json()["proposals"][0]["status"] == "executed"
        client.cookies.set("ledgerml_token", token)
        page = client.get("/governance")
        assert page.status_code == 200 and "2 of 3" in page.text and "RoleGranted" in page.text
        assert "bob" in page.text and 'href="/governance"' in page.text
