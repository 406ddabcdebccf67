"""The dashboard in a real browser (Playwright driving Debian's chromium): one server and one browser for the module.

Each page's embedded document must equal the ``--json`` of the matching CLI command, and what the page shows is
checked against it; the test signs in, clicks through a round, downloads a proof and verifies it offline.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .._cli import run_cli
from .conftest import Demo

CHROMIUM = os.environ.get("LEDGERML_CHROMIUM", "/usr/bin/chromium")
SHOTS = os.environ.get("LEDGERML_SCREENSHOTS")
"""A folder to save screenshots of the main pages into (docs/img when regenerating them)."""

if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists():  # pragma: no cover - CI installs chromium
    pytest.fail(f"the dashboard tests need chromium at {CHROMIUM} (apt-get install -y chromium)", pytrace=False)
try:
    from playwright import sync_api
except ImportError:  # pragma: no cover - the test extra installs it
    pytest.fail("the dashboard tests need playwright: pip install 'ledgerml[test]'", pytrace=False)
pytestmark = pytest.mark.slow  # one chromium and one server for the module: about 10 s in all


@pytest.fixture(scope="module")
def server(demo: Demo) -> Iterator[str]:
    """The service over the demo home on a free loopback port, in a thread; stopped after the module."""
    import uvicorn

    from ledgerml.service.app import create_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(demo.home), log_level="warning", lifespan="on")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=30)
    sock.close()


@pytest.fixture(scope="module")
def page(server: str, demo: Demo) -> Iterator[Any]:
    """One signed-in chromium page (auditor token) for the module."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        tab = context.new_page()
        tab.goto(f"{server}/tasks")
        assert "/login" in tab.url
        tab.fill("#token", demo.auditor)
        tab.click("#sign-in")
        tab.wait_for_url(f"{server}/tasks")
        yield tab
        browser.close()


def cli_json(demo: Demo, *args: str) -> Any:
    result = run_cli(*args, "--home", str(demo.home.path), "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def open_page(page: Any, server: str, path: str, shot: str | None = None) -> Any:
    """Go to ``path``; the page's embedded document."""
    response = page.goto(server + path)
    assert response is not None and response.status == 200, path
    if SHOTS and shot:
        page.screenshot(path=str(Path(SHOTS) / f"dashboard-{shot}.png"), full_page=False)
    return json.loads(page.locator("#document").text_content())


def test_status_and_verify_pages(page: Any, server: str, demo: Demo) -> None:
    head = open_page(page, server, "/", "status")
    assert page.locator("#size").inner_text() == str(head["size"])
    assert head["ledger_id"] == cli_json(demo, "chain", "show", "0")["ledger"]
    page.click("#run-verify")
    page.wait_for_url(f"{server}/verify")
    report = json.loads(page.locator("#document").text_content())
    assert report == cli_json(demo, "verify")
    assert page.locator("#verdict").inner_text().startswith(f"OK: {report['events_checked']} events")


def test_federations_rounds_and_a_round(page: Any, server: str, demo: Demo) -> None:
    # Prepare
    tasks = open_page(page, server, "/tasks")
    assert tasks == cli_json(demo, "fl", "tasks")
    assert page.locator("#tasks tbody tr").count() == len(tasks)
    # Execute: click through to the robust federation and one of its rounds
    with page.expect_navigation():  # read the next page's document, not the one being left
        page.click("text=attacked-multikrum")
    page.wait_for_function("window.ledgermlChart !== undefined")
    doc = json.loads(page.locator("#document").text_content())
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / "dashboard-federation.png"), full_page=True)
    drawn = page.evaluate("window.ledgermlChart.data.datasets[0].data")
    with page.expect_navigation():
        page.click("#rounds tbody tr[data-round='2'] a")
    detail = json.loads(page.locator("#document").text_content())
    # Assert
    assert doc["rewards"] == cli_json(demo, "rewards", "show", "attacked-multikrum")
    assert drawn == [r["metrics"]["val_accuracy"] for r in doc["rounds"]["rounds"]]
    riverside = demo.home.keys.info("riverside").address
    row = page.locator("#participants tr.rejected")
    assert row.count() == 1 and "riverside" in row.inner_text() and "not selected by multi_krum" in row.inner_text()
    assert [p["participant"] for p in detail["participants"] if p["verdict"] == "rejected"] == [riverside]


def test_audit_page_equals_audit_task(page: Any, server: str, demo: Demo) -> None:
    doc = open_page(page, server, "/tasks/attacked-multikrum/audit")
    assert doc == cli_json(demo, "audit", "task", "attacked-multikrum")
    assert (
        page.locator("#audit tbody tr").count() == len(doc["rounds"])
        and "replays" in page.locator("#verdict").inner_text()
    )


def test_events_and_blocks_with_a_proof_download(page: Any, server: str, demo: Demo, tmp_path: Path) -> None:
    # Prepare
    events = open_page(page, server, "/events", "events")
    blocks = open_page(page, server, "/blocks", "blocks")
    # Execute
    page.goto(f"{server}/events/12")
    with page.expect_download() as download:
        page.click("#download-proof")
    proof = tmp_path / "proof.json"
    download.value.save_as(proof)
    checked = run_cli("chain", "verify-proof", str(proof), "--trust", demo.home.keys.info("admin").address, "--json")
    # Assert
    assert events == cli_json(demo, "chain", "log")
    assert blocks == cli_json(demo, "chain", "blocks")
    assert checked.code == 0 and json.loads(checked.out)["leaf_index"] == 12


def test_models_lineage_datasets_and_analytics(page: Any, server: str, demo: Demo) -> None:
    models = open_page(page, server, "/models")
    assert models == cli_json(demo, "model", "list")
    with page.expect_navigation():
        page.click(f"text={models[0]['name']}")
    doc = json.loads(page.locator("#document").text_content())
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / "dashboard-lineage.png"), full_page=True)
    model_id = models[0]["model_id"]
    assert doc == {
        "model": cli_json(demo, "model", "show", model_id),
        "lineage": cli_json(demo, "model", "lineage", model_id),
    }
    drawn = page.locator("#lineage g.node.dataset").count()
    assert drawn == len(doc["lineage"]["datasets"]) and page.locator("#lineage g.node.round").count() == 1
    datasets = open_page(page, server, "/datasets")
    assert datasets == cli_json(demo, "data", "list")
    with page.expect_navigation():
        page.click(f"text={datasets[0]['name']}")
    assert json.loads(page.locator("#document").text_content()) == cli_json(
        demo, "data", "show", datasets[0]["dataset_id"]
    )
    analytics = open_page(page, server, "/analytics")
    assert analytics == {"models": [], "fraud_scores": [], "fraud_score_notes": []}
    assert "No analytics model" in page.locator("#analytics").inner_text()


def test_an_unknown_page_names_the_error(page: Any, server: str) -> None:
    response = page.goto(f"{server}/tasks/no-such-task")
    assert response is not None and response.status == 404
    assert page.locator("#problem").inner_text().startswith("NotFound")
