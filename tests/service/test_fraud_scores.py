"""Fraud scores with explanations: ``fraud score --json`` is kept in the home, served by ``/api/analytics`` and shown
on the analytics page."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from ledgerml import documents
from ledgerml.analytics.detector import FraudDetector
from ledgerml.analytics.features import account_features
from ledgerml.analytics.synthetic import generate
from ledgerml.analytics.workflows import top_contributions
from ledgerml.home import Home
from ledgerml.service.app import create_app
from ledgerml.service.context import token_store

from .._cli import run_cli


@dataclass
class Scored:
    """A fresh home, a tiny unregistered detector, its account table and one ``fraud score --json`` document."""

    home: Home
    model: Path
    accounts: Path
    token: str
    document: dict[str, Any]


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Scored:
    """Train a tiny detector in process and score its accounts once through the CLI."""
    root = tmp_path_factory.mktemp("fraud-scores")
    home = root / "home"
    assert run_cli("init", "--home", str(home), "--unencrypted").code == 0
    world = generate(ordinary_accounts=60, ordinary_transactions=600, groups_per_pattern=2, seed=4)
    frame = account_features(world.transactions)
    labels = frame["Address"].map(lambda a: int(a in world.illicit)).to_numpy()
    detector = FraudDetector(n_estimators=20).fit(frame.drop(columns=["Address"]), labels)
    detector.save(root / "model")
    accounts = root / "accounts.csv"
    frame.to_csv(accounts, index=False)
    token, _ = token_store(Home(home)).create("audit office", "auditor")
    args = ("--model", str(root / "model"), "--data", str(accounts), "--out", str(root / "scores.csv"))
    result = run_cli("fraud", "score", *args, "--unregistered", "--home", str(home), "--json")
    assert result.code == 0, result.err
    return Scored(Home(home), root / "model", accounts, token, json.loads(result.out))


@pytest.fixture(scope="module")
def client(scored: Scored) -> Iterator[TestClient]:
    """The service over the scored home, in process."""
    with TestClient(create_app(scored.home)) as test_client:
        yield test_client


def test_score_json_is_the_newest_api_report_and_the_page_shows_it(scored: Scored, client: TestClient) -> None:
    doc = scored.document
    served = client.get("/api/analytics", headers={"Authorization": f"Bearer {scored.token}"})
    assert served.status_code == 200
    assert served.json()["fraud_scores"][0] == doc
    scores = pd.read_csv(doc["out"])
    assert doc["accounts"] == doc["scored"] == len(scores) and doc["flagged"] == int(scores["flagged"].sum())
    assert doc["data_digest"] == "sha256:" + hashlib.sha256(scored.accounts.read_bytes()).hexdigest()
    assert doc["model_id"] and doc["threshold"] == pytest.approx(FraudDetector.load(scored.model).threshold_)
    top = doc["top"]
    flagged = scores[scores["flagged"] == 1].sort_values("score", ascending=False)
    assert 0 < len(top) == min(50, len(flagged))
    assert [t["address"] for t in top] == flagged["Address"].tolist()[: len(top)]
    assert all(1 <= len(t["explanation"]) <= 5 for t in top)
    first = [abs(c["contribution"]) for c in top[0]["explanation"]]
    assert first == sorted(first, reverse=True)
    kept = list((scored.home.path / "analytics" / "fraud-scores").glob("*.json"))
    assert len(kept) == 1 and json.loads(kept[0].read_text()) == doc
    client.cookies.set("ledgerml_token", scored.token)
    page = client.get("/analytics")
    assert page.status_code == 200 and top[0]["address"] in page.text
    assert top[0]["explanation"][0]["feature"] in page.text


def test_api_analytics_needs_a_token(client: TestClient) -> None:
    client.cookies.clear()
    assert client.get("/api/analytics").status_code == 401
    assert client.get("/api/analytics", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_a_damaged_report_is_skipped_with_a_note(scored: Scored, tmp_path: Path) -> None:
    home = Home(tmp_path / "copy")
    folder = home.path / "analytics" / "fraud-scores"
    folder.mkdir(parents=True)
    (folder / "20990101T000000000000Z-broken.json").write_text("{not json")
    (folder / "20980101T000000000000Z-list.json").write_text("[1, 2]")
    (folder / "20000101T000000000000Z-good.json").write_text(json.dumps(scored.document))
    reports = documents.fraud_score_reports(home)
    assert reports == [scored.document]
    _, notes = documents._fraud_score_files(home)
    assert len(notes) == 2 and "broken.json is not valid JSON" in notes[0] and "list.json" in notes[1]


def test_a_bad_score_run_keeps_no_report(scored: Scored, tmp_path: Path) -> None:
    folder = scored.home.path / "analytics" / "fraud-scores"
    before = sorted(p.name for p in folder.iterdir())
    args = ("--model", str(scored.model), "--data", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "s.csv"))
    result = run_cli("fraud", "score", *args, "--unregistered", "--home", str(scored.home.path), "--json")
    assert result.code != 0 and len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err
    assert sorted(p.name for p in folder.iterdir()) == before and not (tmp_path / "s.csv").exists()


def test_top_contributions_ranks_by_magnitude_and_drops_the_base() -> None:
    contributions = pd.Series({"a": 0.1, "b": -2.0, "c (missing)": 0.5, "(base)": 9.0})
    row = pd.Series({"a": 3.0, "b": float("nan"), "c": None})
    assert top_contributions(contributions, row, 2) == [
        {"feature": "b", "value": None, "contribution": -2.0},
        {"feature": "c (missing)", "value": None, "contribution": 0.5},
    ]
