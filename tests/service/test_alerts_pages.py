"""Alerts in the service: ``GET /api/alerts`` and ``/api/alerts/{id}`` serve the documents ``alerts list|show
--json`` print, and the dashboard's alert page draws the explanation; a browser (chromium) sees the chart."""

from __future__ import annotations

import json
import os

import pytest
from fastapi.testclient import TestClient

from ledgerml.home import Home
from ledgerml.service.app import create_app
from ledgerml.service.context import token_store

from .._cli import run_cli
from ..analytics.chainwatch._data import trace, write_folder


def _ok(*args: str) -> str:
    result = run_cli(*args)
    assert result.code == 0, result.err
    return result.out


@pytest.fixture(scope="module")
def alerted(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    root = tmp_path_factory.mktemp("alerts-service")
    home = str(root / "home")
    _ok("init", "--home", home, "--unencrypted")
    folder = write_folder(trace("sybil_burst")[0], root / "trace")
    raised = json.loads(_ok("monitor", "chain", "--data", str(folder), "--raise-alerts", "--json", "--home", home))
    assert raised["alerts"]
    return home, raised["alerts"][0]["alert_id"]


def test_api_serves_what_the_cli_prints_and_the_page_draws_it(alerted: tuple[str, str]) -> None:
    home, alert_id = alerted
    listed = json.loads(_ok("alerts", "list", "--json", "--home", home))
    shown = json.loads(_ok("alerts", "show", alert_id, "--json", "--home", home))
    token, _ = token_store(Home(home)).create("audit office", "auditor")
    with TestClient(create_app(Home(home))) as client:
        assert client.get("/api/alerts").status_code == 401
        auth = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/alerts", headers=auth).json() == listed
        assert client.get(f"/api/alerts/{alert_id}", headers=auth).json() == shown
        assert client.get("/api/alerts/sha256:" + "0" * 64, headers=auth).status_code == 404
        client.cookies.set("ledgerml_token", token)
        page = client.get("/alerts")
        assert page.status_code == 200 and alert_id in page.text and 'href="/alerts"' in page.text
        detail = client.get(f"/alerts/{alert_id}")
        assert detail.status_code == 200 and "<svg" in detail.text and "new_fan_in" in detail.text


@pytest.mark.slow
def test_a_browser_sees_the_alert_and_its_chart(alerted: tuple[str, str]) -> None:
    import socket
    import threading
    import time

    import uvicorn
    from playwright import sync_api

    home, alert_id = alerted
    token, _ = token_store(Home(home)).create("browser", "auditor")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(Home(home)), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive()
            time.sleep(0.05)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        with sync_api.sync_playwright() as playwright:
            chromium = os.environ.get("LEDGERML_CHROMIUM", "/usr/bin/chromium")
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            tab = browser.new_page()
            tab.goto(f"{url}/alerts")
            tab.fill("#token", token)
            tab.click("#sign-in")
            tab.wait_for_url(f"{url}/alerts")
            with tab.expect_navigation():
                tab.click(f"a[href='/alerts/{alert_id}']")
            document = json.loads(tab.locator("#document").text_content() or "{}")
            bars = tab.locator("#explanation-chart svg rect").count()
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
    assert document["id"] == alert_id and document["explanation"]["method"] == "chainwatch"
    assert bars == len(document["explanation"]["signals"])
