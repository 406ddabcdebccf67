"""The read-only dashboard: server-rendered Jinja2 pages over the same documents the API serves."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from .. import documents
from ..errors import LedgerMLError
from . import graph, reports
from .auth import TokenRecord
from .problems import problem
from .routes import COOKIE, service_of

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
PAGE = 50
"""Events or blocks per dashboard page."""


def _login(request: Request) -> TokenRecord:
    return service_of(request).tokens.authenticate(request.cookies.get(COOKIE))


def html_error(request: Request, exc: LedgerMLError) -> Response | None:
    """The dashboard's answer to an error on a page (None for ``/api``, which answers with a problem document):
    a missing or bad token goes to the login page, anything else is an error page naming the error class."""
    if request.url.path.startswith("/api"):
        return None
    doc = problem(exc, request.url.path)
    if doc["status"] == 401 and request.url.path != "/login":
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    return templates.TemplateResponse(
        request, "error.html", {"doc": doc, "title": doc["title"], "who": None}, status_code=doc["status"]
    )


def _page(request: Request, template: str, doc: Any, title: str, **extra: Any) -> HTMLResponse:
    """Render ``template`` with ``doc`` (embedded as JSON, the same document the API serves) and labels."""
    who = _login(request)
    context = {"doc": doc, "title": title, "who": who, "names": documents.names(service_of(request).home), **extra}
    return templates.TemplateResponse(request, template, context)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return templates.TemplateResponse(
        request, "login.html", {"title": "Sign in", "who": None, "next": next, "doc": None}
    )


@router.post("/login")
async def login(request: Request) -> Response:
    form = parse_qs((await request.body())[:4096].decode("utf-8", "replace"))
    token = form.get("token", [""])[0].strip()
    target = form.get("next", ["/"])[0]
    service_of(request).tokens.authenticate(token)
    if not target.startswith("/") or target.startswith("//"):
        target = "/"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", max_age=12 * 3600)
    return response


@router.get("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/", response_class=HTMLResponse)
def status(request: Request) -> HTMLResponse:
    ledger = service_of(request).reader
    state = ledger.state()
    counts = {
        "tasks": len(state.rows("tasks")),
        "models": len(state.rows("models")),
        "datasets": len(state.rows("datasets")),
    }
    return _page(request, "status.html", documents.head(ledger), "Ledger status", counts=counts)


@router.get("/verify", response_class=HTMLResponse)
def verify(request: Request) -> HTMLResponse:
    service = service_of(request)
    with service.audited() as ledger:
        doc = reports.verify_document(service.home, ledger)
    return _page(request, "verify.html", doc, "Verification")


@router.get("/events", response_class=HTMLResponse)
def events(request: Request, start: int = 0, kind: str | None = None, actor: str | None = None) -> HTMLResponse:
    ledger = service_of(request).reader
    found = documents.event_list(ledger, max(start, 0), PAGE, kind or None, actor or None)
    paging = {"start": max(start, 0), "page": PAGE, "size": ledger.size, "kind": kind or "", "actor": actor or ""}
    return _page(request, "events.html", found, "Events", paging=paging)


@router.get("/events/{seq}", response_class=HTMLResponse)
def event(request: Request, seq: int) -> HTMLResponse:
    doc = documents.event_detail(service_of(request).reader, seq)
    return _page(request, "event.html", doc, f"Event {seq}")


@router.get("/blocks", response_class=HTMLResponse)
def blocks(request: Request, start: int = 0) -> HTMLResponse:
    ledger = service_of(request).reader
    latest = ledger.block().height
    if start < 0:
        start = max(latest + 1 - PAGE, 0)
    found = documents.block_list(ledger, start, PAGE)
    return _page(request, "blocks.html", found, "Blocks", paging={"start": start, "page": PAGE, "latest": latest})


@router.get("/tasks", response_class=HTMLResponse)
def tasks(request: Request) -> HTMLResponse:
    return _page(request, "tasks.html", documents.task_list(service_of(request).reader.state()), "Federations")


@router.get("/tasks/{task_id}", response_class=HTMLResponse)
def task(request: Request, task_id: str) -> HTMLResponse:
    state = service_of(request).reader.state()
    doc = {"rounds": documents.rounds(state, task_id), "rewards": documents.rewards(state, task_id)}
    return _page(request, "task.html", doc, f"Federation {task_id}")


@router.get("/tasks/{task_id}/rounds/{number}", response_class=HTMLResponse)
def round_page(request: Request, task_id: str, number: int) -> HTMLResponse:
    doc = documents.round_detail(service_of(request).reader.state(), task_id, number)
    return _page(request, "round.html", doc, f"{task_id}, round {number}")


@router.get("/tasks/{task_id}/audit", response_class=HTMLResponse)
def audit(request: Request, task_id: str) -> HTMLResponse:
    documents.rounds(service_of(request).reader.state(), task_id)
    doc = reports.audit_document(service_of(request).home, task_id)
    return _page(request, "audit.html", doc, f"Audit of {task_id}")


def _window(rows: list[Any], start: int) -> tuple[list[Any], dict[str, int]]:
    """One page of a long list (``model list``/``data list`` rows) and where it is."""
    start = max(start, 0)
    return rows[start : start + PAGE], {"start": start, "page": PAGE, "size": len(rows)}


@router.get("/models", response_class=HTMLResponse)
def models(request: Request, start: int = 0) -> HTMLResponse:
    rows, paging = _window(documents.model_list(service_of(request).reader.state()), start)
    return _page(request, "models.html", rows, "Models", paging=paging)


@router.get("/models/{model_id}", response_class=HTMLResponse)
def model(request: Request, model_id: str) -> HTMLResponse:
    from ..provenance import lineage

    ledger = service_of(request).reader
    detail = documents.model_detail(ledger, model_id)
    tree = lineage(ledger.state(), model_id)
    record = ledger.state().get("models", model_id)
    produced = {model_id: f"{record.task} round {record.round}"} if record and record.task else {}
    drawing = graph.svg(*graph.layout(tree, produced))
    return _page(request, "model.html", {"model": detail, "lineage": tree}, f"Model {detail['name']}", svg=drawing)


@router.get("/datasets", response_class=HTMLResponse)
def datasets(request: Request, start: int = 0) -> HTMLResponse:
    rows, paging = _window(documents.dataset_list(service_of(request).reader.state()), start)
    return _page(request, "datasets.html", rows, "Datasets", paging=paging)


@router.get("/datasets/{dataset_id}", response_class=HTMLResponse)
def dataset(request: Request, dataset_id: str) -> HTMLResponse:
    service = service_of(request)
    doc = documents.dataset_detail(service.home, service.reader, dataset_id)
    return _page(request, "dataset.html", doc, f"Dataset {doc['name']}")


@router.get("/analytics", response_class=HTMLResponse)
def analytics(request: Request) -> HTMLResponse:
    service = service_of(request)
    doc = documents.analytics(service.home, service.reader.state())
    return _page(request, "analytics.html", doc, "Analytics")
