"""The service's API in process: tokens, the documents it serves, signed writes and every bad input."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledgerml.events import sign_event
from ledgerml.service.app import create_app
from ledgerml.service.context import MAX_EVENT_BODY, ServiceSettings
from ledgerml.vocab.core import DatasetRegistered

from .._cli import event_count, run_cli
from .conftest import Demo


@pytest.fixture(scope="module")
def client(demo: Demo) -> Iterator[TestClient]:
    """The service over the demo home, in process (no socket)."""
    with TestClient(create_app(demo.home)) as test_client:
        yield test_client


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def cli_json(demo: Demo, *args: str) -> Any:
    result = run_cli(*args, "--home", str(demo.home.path), "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def signed_dataset(demo: Demo, nonce_offset: int = 0, name: str | None = None) -> dict[str, Any]:
    """A fresh DatasetRegistered event signed by the participant, with its next nonce (plus an offset)."""
    identity = demo.home.identity(demo.participant_name)
    with demo.home.open_ledger(as_validator=False) as ledger:
        nonce, ledger_id = ledger.next_nonce(identity.address), ledger.ledger_id
    payload = DatasetRegistered(dataset_id="sha256:" + secrets.token_hex(32), name=name or "cohort")
    return sign_event(identity, ledger_id, payload, nonce + nonce_offset).to_dict()


def test_no_token_is_401_and_a_page_goes_to_the_login(client: TestClient, demo: Demo) -> None:
    # Execute
    api = client.get("/api/events")
    bad = client.get("/api/head", headers=auth("lml_not-a-token"))
    page = client.get("/tasks", follow_redirects=False)
    # Assert
    assert api.status_code == 401 and api.headers["content-type"] == "application/problem+json"
    assert api.json()["error"] == "Unauthenticated" and api.headers["www-authenticate"].startswith("Bearer")
    assert bad.status_code == 401 and bad.json()["detail"] == "the API token is not known"
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/tasks"
    for path in ("/api/tasks", "/api/models", "/api/datasets", "/api/events/1", "/api/whoami"):
        assert client.get(path).status_code == 401, path


def test_what_checking_the_log_needs_is_public_unless_private(client: TestClient, demo: Demo) -> None:
    public = [
        "/api/head",
        "/api/verify",
        "/api/events/1/proof",
        "/api/blocks",
        "/api/blocks/1",
        "/api/consistency?old=1",
    ]
    for path in public:
        assert client.get(path).status_code == 200, path
    assert client.get("/api/verify").json() == cli_json(demo, "verify")
    with TestClient(create_app(demo.home, settings=ServiceSettings(private=True))) as private:
        for path in public:
            answer = private.get(path)
            assert (answer.status_code, answer.json()["error"]) == (401, "Unauthenticated"), path
        assert private.get("/api/head", headers=auth(demo.auditor)).status_code == 200


def test_a_signed_event_needs_no_token_unless_private(demo: Demo) -> None:
    before = event_count(demo.home.path)
    with TestClient(create_app(demo.home, settings=ServiceSettings(private=True))) as private:
        refused = private.post("/api/events", json=signed_dataset(demo))
    assert (refused.status_code, refused.json()["error"]) == (401, "Unauthenticated")
    assert event_count(demo.home.path) == before
    forged = signed_dataset(demo)
    forged["payload"]["name"] = "changed after signing"
    with TestClient(create_app(demo.home)) as public:
        rejected = public.post("/api/events", json=forged)
        accepted = public.post("/api/events", json=signed_dataset(demo))
    assert rejected.status_code == 422 and event_count(demo.home.path) == before + 1
    assert accepted.status_code == 201 and accepted.json()["seq"] == before


def test_a_revoked_token_is_refused_from_its_next_request(client: TestClient, demo: Demo) -> None:
    from ledgerml.service.context import token_store

    tokens = token_store(demo.home)
    token, record = tokens.create("short-lived", "auditor")
    assert client.get("/api/head", headers=auth(token)).status_code == 200
    tokens.revoke(record.token_id)
    refused = client.get("/api/head", headers=auth(token))
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]


def test_tokens_are_stored_hashed(demo: Demo) -> None:
    stored = (demo.home.path / "service" / "tokens.json").read_text()
    assert demo.auditor not in stored and demo.admin not in stored and demo.participant not in stored
    assert oct((demo.home.path / "service" / "tokens.json").stat().st_mode & 0o777) == "0o600"


def test_verify_is_the_document_of_verify_json(client: TestClient, demo: Demo) -> None:
    served = client.get("/api/verify", headers=auth(demo.auditor))
    assert served.status_code == 200
    assert served.json() == cli_json(demo, "verify")


@pytest.mark.parametrize(
    ("path", "command"),
    [
        ("/api/tasks", ["fl", "tasks"]),
        ("/api/tasks/attacked-multikrum/rewards", ["rewards", "show", "attacked-multikrum"]),
        ("/api/models", ["model", "list"]),
        ("/api/datasets", ["data", "list"]),
        ("/api/events/3", ["chain", "show", "3"]),
        ("/api/blocks/1", ["chain", "show", "--block", "1"]),
    ],
)
def test_documents_equal_the_cli_json(client: TestClient, demo: Demo, path: str, command: list[str]) -> None:
    assert client.get(path, headers=auth(demo.auditor)).json() == cli_json(demo, *command)


def test_paged_lists_equal_chain_log_and_blocks(client: TestClient, demo: Demo) -> None:
    events = client.get(
        "/api/events", params={"start": 10, "limit": 40, "kind": "UpdateCommitted"}, headers=auth(demo.auditor)
    )
    blocks = client.get("/api/blocks", params={"start": 0, "limit": 3}, headers=auth(demo.auditor))
    assert events.json()["events"] == cli_json(
        demo, "chain", "log", "--from", "10", "--limit", "40", "--kind", "UpdateCommitted"
    )
    assert events.json()["next"] == 50
    assert blocks.json()["blocks"] == cli_json(demo, "chain", "blocks", "--limit", "3")


def test_model_and_dataset_details_equal_the_cli(client: TestClient, demo: Demo) -> None:
    model = client.get("/api/models", headers=auth(demo.auditor)).json()[0]["model_id"]
    data = client.get("/api/datasets", headers=auth(demo.auditor)).json()[0]["dataset_id"]
    for path, command in [
        (f"/api/models/{model}", ["model", "show", model]),
        (f"/api/models/{model}/lineage", ["model", "lineage", model]),
        (f"/api/datasets/{data}", ["data", "show", data]),
    ]:
        assert client.get(path, headers=auth(demo.auditor)).json() == cli_json(demo, *command), path


def test_the_served_proof_verifies_offline(client: TestClient, demo: Demo, tmp_path: Path) -> None:
    # Prepare
    served = client.get("/api/events/7/proof", params={"download": "true"}, headers=auth(demo.auditor))
    proof = tmp_path / "proof.json"
    proof.write_bytes(served.content)
    validator = demo.home.keys.info("admin").address
    # Execute
    checked = run_cli("chain", "verify-proof", str(proof), "--trust", validator, "--json")
    # Assert
    assert served.headers["content-disposition"] == 'attachment; filename="proof-7.json"'
    assert checked.code == 0 and json.loads(checked.out)["ok"] is True and json.loads(checked.out)["leaf_index"] == 7


def test_a_signed_event_lands_with_a_201_receipt(client: TestClient, demo: Demo) -> None:
    event = signed_dataset(demo)
    answer = client.post("/api/events", json=event, headers=auth(demo.participant))
    assert answer.status_code == 201
    receipt = answer.json()
    with demo.home.open_ledger(as_validator=False) as ledger:
        stored = ledger.get_event(receipt["seq"])
    assert stored.event.to_dict() == event and receipt["id"] == stored.event.id


def _forged(demo: Demo) -> dict[str, Any]:
    event = signed_dataset(demo)
    event["payload"]["name"] = "changed after signing"
    return event


def _unknown_kind(demo: Demo) -> dict[str, Any]:
    """A correctly signed event of a kind no vocabulary defines."""
    from ledgerml.events import Event

    template = signed_dataset(demo)
    fields = {k: template[k] for k in ("ledger", "actor", "nonce", "time", "payload")}
    unsigned = Event(kind="NoSuchKind", **fields)
    signature = demo.home.identity(demo.participant_name).sign_digest(unsigned.digest)
    return Event(kind="NoSuchKind", signature=signature, **fields).to_dict()


def _replayed(demo: Demo, client: TestClient) -> dict[str, Any]:
    event = signed_dataset(demo)
    assert client.post("/api/events", json=event, headers=auth(demo.participant)).status_code == 201
    return event


BAD_INPUTS = {
    "malformed JSON": (
        lambda d, c: {"content": b'{"v": 1,', "headers": {"content-type": "application/json"}},
        400,
        "MalformedEvent",
    ),
    "wrong content type": (
        lambda d, c: {"content": json.dumps(signed_dataset(d)), "headers": {"content-type": "text/plain"}},
        415,
        "UnsupportedMediaType",
    ),
    "oversized body": (
        lambda d, c: {"content": b" " * (MAX_EVENT_BODY + 1), "headers": {"content-type": "application/json"}},
        413,
        "BodyTooLarge",
    ),
    "forged signature": (lambda d, c: {"json": _forged(d)}, 422, "SignerMismatch"),
    "replayed event": (lambda d, c: {"json": _replayed(d, c)}, 409, "ReplayedNonce"),
    "nonce gap": (lambda d, c: {"json": signed_dataset(d, nonce_offset=5)}, 409, "NonceGap"),
    "unknown kind": (lambda d, c: {"json": _unknown_kind(d)}, 422, "UnknownEventKind"),
    "not an event": (lambda d, c: {"json": [1, 2]}, 400, "MalformedEvent"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_a_specific_4xx_problem_and_changes_nothing(client: TestClient, demo: Demo, case: str) -> None:
    # Prepare
    build, status, error = BAD_INPUTS[case]
    request = build(demo, client)
    before = event_count(demo.home.path)
    # Execute
    answer = client.post("/api/events", headers={**auth(demo.participant), **request.pop("headers", {})}, **request)
    # Assert
    assert (answer.status_code, answer.json()["error"]) == (status, error), answer.json()
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["title"] == error and answer.json()["instance"] == "/api/events"
    assert event_count(demo.home.path) == before


def test_tokens_limit_who_writes(client: TestClient, demo: Demo) -> None:
    # Prepare: an event of another identity (the auditor key of the demo) sent with the participant's token
    identity = demo.home.identity("auditor")
    with demo.home.open_ledger(as_validator=False) as ledger:
        other = sign_event(
            identity,
            ledger.ledger_id,
            DatasetRegistered(dataset_id="sha256:" + "e" * 64, name="x"),
            ledger.next_nonce(identity.address),
        ).to_dict()
    before = event_count(demo.home.path)
    # Execute
    as_participant = client.post("/api/events", json=other, headers=auth(demo.participant))
    as_auditor = client.post("/api/events", json=signed_dataset(demo), headers=auth(demo.auditor))
    # Assert
    assert (as_participant.status_code, as_participant.json()["error"]) == (403, "Forbidden")
    assert (as_auditor.status_code, as_auditor.json()["error"]) == (403, "Forbidden")
    assert event_count(demo.home.path) == before


def test_writes_are_rate_limited_per_token(demo: Demo) -> None:
    app = create_app(demo.home, settings=ServiceSettings(write_rate=0.01, write_burst=2))
    with TestClient(app) as limited:
        answers = [
            limited.post("/api/events", json=signed_dataset(demo), headers=auth(demo.participant)) for _ in range(3)
        ]
    assert [a.status_code for a in answers] == [201, 201, 429]
    assert answers[2].json()["error"] == "RateLimited" and int(answers[2].headers["retry-after"]) >= 1


def test_a_batch_is_all_or_nothing(client: TestClient, demo: Demo) -> None:
    good = signed_dataset(demo)
    bad = signed_dataset(demo, nonce_offset=3)
    before = event_count(demo.home.path)
    answer = client.post("/api/events/batch", json=[good, bad], headers=auth(demo.participant))
    assert (answer.status_code, answer.json()["error"], answer.json()["index"]) == (409, "NonceGap", 1)
    assert event_count(demo.home.path) == before


def test_unknown_paths_and_bad_parameters_are_problems(client: TestClient, demo: Demo) -> None:
    missing = client.get("/api/events/99999", headers=auth(demo.auditor))
    nowhere = client.get("/api/nothing-here", headers=auth(demo.auditor))
    bad_query = client.get("/api/events", params={"limit": "many"}, headers=auth(demo.auditor))
    assert (missing.status_code, missing.json()["error"]) == (404, "NotFound")
    assert (nowhere.status_code, nowhere.json()["error"]) == (404, "NotFound")
    assert (bad_query.status_code, bad_query.json()["error"]) == (400, "BadRequest")


def test_openapi_schema_lists_the_api(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert {"/api/verify", "/api/events", "/api/events/{ref}/proof"} <= set(schema["paths"])
    assert "post" in schema["paths"]["/api/events"]


def test_a_tampered_ledger_is_named_by_the_api_and_the_status_pages(tmp_path: Path) -> None:
    # Prepare: a small home whose stored event 2 is edited behind the ledger's back
    import sqlite3

    from ledgerml import RoleGranted
    from ledgerml.home import Home
    from ledgerml.service.context import token_store
    from ledgerml.types import Role

    home = Home(tmp_path / "home")
    _, admin = home.init(unencrypted=True)
    with home.open_ledger() as ledger:
        ledger.submit(admin, RoleGranted(subject=admin.address, role=Role.DATA_OWNER))
        for i in range(3):
            ledger.submit(admin, DatasetRegistered(dataset_id="sha256:" + f"{i + 1:064x}", name=f"d{i}"))
        ledger.seal()
    token, _ = token_store(home).create("auditor", "auditor")
    conn = sqlite3.connect(home.ledger_path)
    body = conn.execute("SELECT body FROM events WHERE seq = 2").fetchone()[0]
    conn.execute("UPDATE events SET body = ? WHERE seq = 2", (bytes(body).replace(b'"name":"d', b'"name":"X'),))
    conn.commit()
    conn.close()
    # Execute
    with TestClient(create_app(home)) as served:
        api = served.get("/api/verify", headers=auth(token)).json()
        served.cookies.set("ledgerml_token", token)
        page = served.get("/verify").text
    cli = run_cli("verify", "--home", str(home.path), "--json")
    # Assert
    assert api["ok"] is False and api["location"] and api == json.loads(cli.out) and cli.code == 31
    assert f'FAILED at <strong id="location">{api["location"]}</strong>' in page
