"""The ``/api`` routes: thin handlers over the Python API and ``documents`` (the same calls the CLI makes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from .. import documents
from ..errors import MalformedEvent
from ..events import Event, event_from_dict
from ..ledger.base import Receipt
from ..types import to_address
from . import reports, writepath
from .auth import TokenRecord, require_admin, require_writer
from .context import MAX_BATCH_BODY, MAX_BATCH_EVENTS, Service
from .problems import BodyTooLarge
from .writepath import admit_token_write, bearer_of, read_json

router = APIRouter()
T = TypeVar("T")
COOKIE = "ledgerml_token"
"""The dashboard's cookie; it authorises reads only (writes need the Authorization header)."""


def service_of(request: Request) -> Service:
    """The service the app was created with."""
    service: Service = request.app.state.service
    return service


def bearer(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header."""
    return bearer_of(request.headers.get("authorization", ""))


async def reader(request: Request) -> TokenRecord:
    """Any live token (header, or the dashboard's cookie) may read."""
    return service_of(request).tokens.authenticate(bearer(request) or request.cookies.get(COOKIE))


async def writer(request: Request) -> TokenRecord:
    """A live token from the Authorization header (never the cookie), within its write rate."""
    return admit_token_write(service_of(request), bearer(request))


async def verifier(request: Request) -> TokenRecord | None:
    """What checking the log needs is public unless the service is private; a token given must still be live."""
    service = service_of(request)
    token = bearer(request) or request.cookies.get(COOKIE)
    if token is None and not service.settings.private:
        return None
    return service.tokens.authenticate(token)


Reader = Annotated[TokenRecord, Depends(reader)]
Writer = Annotated[TokenRecord, Depends(writer)]
Verifier = Annotated[TokenRecord | None, Depends(verifier)]
Start = Annotated[int, Query(ge=0, description="First sequence number or height.")]
Limit = Annotated[int, Query(ge=1, le=documents.MAX_PAGE, description="At most this many.")]


def _ref(text: str) -> int | str:
    return int(text) if text.isascii() and text.isdigit() else text


async def _json_body(request: Request, limit: int) -> Any:
    """The request's JSON body: ``application/json``, at most ``limit`` bytes (checked while reading)."""
    return await read_json(request.headers, request.stream(), limit)


QUICK_PAGE = 100
"""Event pages up to this many are read on the event loop (a few ms); longer ones in the thread pool."""


async def quick_read(ledger: Any, work: Callable[[], T]) -> T:
    """``work``, a read of a few rows: on the event loop for the embedded ledger (a thread hop costs more CPU than
    the read, and a worker thread waits for the interpreter lock behind the loop), in the thread pool for a ledger
    over the network (an RPC call must not block the loop)."""
    if ledger.capabilities.distributed:
        return await run_in_threadpool(work)
    return work()


def _receipt(receipt: Receipt) -> dict[str, Any]:
    return {"seq": receipt.seq, "id": receipt.event_id}


@router.get("/head", summary="Ledger id, size and the latest signed block header")
async def get_head(request: Request, _: Verifier) -> dict[str, Any]:
    reader = service_of(request).reader
    return await quick_read(reader, lambda: documents.head(reader))


@router.get("/verify", summary="Audit the whole ledger: the document of 'ledgerml verify --json'")
def get_verify(request: Request, _: Verifier) -> dict[str, Any]:
    service = service_of(request)
    with service.audited() as ledger:
        return reports.verify_document(service.home, ledger)


@router.get("/events", summary="Events in a window, filtered by kind and actor ('chain log --json')")
async def get_events(
    request: Request, _: Reader, start: Start = 0, limit: Limit = 50, kind: str | None = None, actor: str | None = None
) -> dict[str, Any]:
    ledger = service_of(request).reader
    who = to_address(actor) if actor else None

    def work() -> list[dict[str, Any]]:
        return documents.event_list(ledger, start, limit, kind, who)

    found = await (quick_read(ledger, work) if limit <= QUICK_PAGE else run_in_threadpool(work))
    following = start + limit
    return {"events": found, "start": start, "limit": limit, "next": following if following < ledger.size else None}


@router.get("/events/{ref}", summary="One event by sequence number or id ('chain show REF --json')")
async def get_event(request: Request, ref: str, _: Reader) -> dict[str, Any]:
    reader = service_of(request).reader
    return await quick_read(reader, lambda: documents.event_detail(reader, _ref(ref)))


@router.get("/events/{ref}/proof", summary="Inclusion proof file ('chain proof REF'), checked offline")
async def get_proof(
    request: Request, ref: str, _: Verifier, block: Annotated[int | None, Query(ge=0)] = None, download: bool = False
) -> Any:
    reader = service_of(request).reader
    proof = await quick_read(reader, lambda: reader.inclusion_proof(_ref(ref), block).to_dict())
    if not download:
        return proof
    import json

    name = f"proof-{proof['leaf_index']}.json"
    body = json.dumps(proof, indent=2, sort_keys=True) + "\n"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(body, media_type="application/json", headers=headers)


@router.get("/consistency", summary="Consistency proof between two blocks ('chain consistency OLD NEW')")
def get_consistency(
    request: Request, _: Verifier, old: Annotated[int, Query(ge=0)], new: Annotated[int | None, Query(ge=0)] = None
) -> dict[str, Any]:
    return service_of(request).reader.consistency_proof(old, new).to_dict()


@router.get("/blocks", summary="Signed block headers ('chain blocks --json')")
async def get_blocks(request: Request, _: Verifier, start: Start = 0, limit: Limit = 50) -> dict[str, Any]:
    reader = service_of(request).reader
    return {"blocks": await quick_read(reader, lambda: documents.block_list(reader, start, limit)), "start": start}


@router.get("/blocks/{height}", summary="One signed block header ('chain show --block H --json')")
async def get_block(request: Request, height: int, _: Verifier) -> dict[str, Any]:
    reader = service_of(request).reader
    return await quick_read(reader, lambda: reader.block(height).to_dict())


@router.get("/nonces/{address}", summary="The nonce an address signs its next event with")
def get_nonce(request: Request, address: str, _: Verifier) -> dict[str, Any]:
    checked = to_address(address)
    return {"address": checked, "next_nonce": service_of(request).reader.next_nonce(checked)}


@router.get("/tasks", summary="Federated tasks ('fl tasks --json')")
def get_tasks(request: Request, _: Reader) -> list[dict[str, Any]]:
    return documents.task_list(service_of(request).reader.state())


@router.get("/tasks/{task_id}/rounds", summary="A task's rounds: metrics, accepted, rejected with reasons")
def get_rounds(request: Request, task_id: str, _: Reader) -> dict[str, Any]:
    return documents.rounds(service_of(request).reader.state(), task_id)


@router.get("/tasks/{task_id}/rewards", summary="Contributions, rewards, slashes ('rewards show TASK --json')")
def get_rewards(request: Request, task_id: str, _: Reader) -> dict[str, Any]:
    return documents.rewards(service_of(request).reader.state(), task_id)


@router.get("/tasks/{task_id}/audit", summary="Replay every round ('audit task TASK --json')")
def get_audit(request: Request, task_id: str, _: Reader) -> dict[str, Any]:
    documents.rounds(service_of(request).reader.state(), task_id)  # NotFound for an unknown task, first
    return reports.audit_document(service_of(request).home, task_id)


@router.get("/models", summary="Registered models ('model list --json')")
def get_models(request: Request, _: Reader) -> list[dict[str, Any]]:
    return documents.model_list(service_of(request).reader.state())


@router.get("/models/{model_id}", summary="One model ('model show MODEL --json')")
def get_model(request: Request, model_id: str, _: Reader) -> dict[str, Any]:
    return documents.model_detail(service_of(request).reader, model_id)


@router.get("/models/{model_id}/lineage", summary="A model's lineage ('model lineage MODEL --json')")
def get_lineage(request: Request, model_id: str, _: Reader) -> dict[str, Any]:
    from ..provenance import lineage

    graph: dict[str, Any] = lineage(service_of(request).reader.state(), model_id)
    return graph


@router.get("/datasets", summary="Registered datasets ('data list --json')")
def get_datasets(request: Request, _: Reader) -> list[dict[str, Any]]:
    return documents.dataset_list(service_of(request).reader.state())


@router.get("/datasets/{dataset_id}", summary="One dataset with its manifest ('data show DATASET --json')")
def get_dataset(request: Request, dataset_id: str, _: Reader) -> dict[str, Any]:
    service = service_of(request)
    return documents.dataset_detail(service.home, service.reader, dataset_id)


@router.get("/analytics", summary="Analytics models and the newest fraud-score reports ('fraud score --json')")
def get_analytics(request: Request, _: Reader) -> dict[str, Any]:
    service = service_of(request)
    return documents.analytics(service.home, service.reader.state())


@router.get("/whoami", summary="The calling token's record (without its hash)")
def get_whoami(record: Reader) -> dict[str, Any]:
    return record.public()


@router.post("/events", status_code=201, summary="Append one pre-signed event; 201 with its receipt")
async def post_event(request: Request) -> dict[str, Any]:
    """Answered by ``writepath.EventPosts`` ahead of the router (the same call); declared here for the schema."""
    client = request.client.host if request.client is not None else None
    return await writepath.post_event(service_of(request), request.headers, client, request.stream())


@router.post("/events/batch", status_code=201, summary="Append pre-signed events in order, all or nothing")
async def post_batch(request: Request, record: Writer) -> list[dict[str, Any]]:
    data = await _json_body(request, MAX_BATCH_BODY)
    if not isinstance(data, list) or not data:
        raise MalformedEvent("a batch body is a non-empty JSON array of signed events")
    if len(data) > MAX_BATCH_EVENTS:
        raise BodyTooLarge(f"a batch holds at most {MAX_BATCH_EVENTS} events, got {len(data)}")
    events: list[Event] = []
    for index, item in enumerate(data):
        try:
            events.append(event_from_dict(item))
        except MalformedEvent as exc:
            raise exc.in_batch(index) from None
        require_writer(record, events[-1].actor)
    receipts = await run_in_threadpool(service_of(request).ledger.append_batch, events)
    return [_receipt(r) for r in receipts]


@router.post("/seal", summary="Seal pending events into a block now (admin token; needs the validator key)")
def post_seal(request: Request, record: Writer) -> dict[str, Any] | None:
    require_admin(record, "sealing a block")
    ledger = service_of(request).ledger
    if ledger.validator is None:
        from ..errors import ConfigError

        raise ConfigError("the service holds no validator key (start it with LEDGERML_PASSWORD set)")
    header = ledger.seal()
    return None if header is None else header.to_dict()
