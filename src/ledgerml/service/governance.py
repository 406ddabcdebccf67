"""Governance in the service: ``GET /api/governance`` (the policy and every proposal with its votes) and its page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from .. import documents
from ..events import now_ms
from ..governance.views import governance_document
from .routes import Reader, service_of

router = APIRouter()


def _document(request: Request, open_only: bool) -> dict[str, Any]:
    service = service_of(request)
    return governance_document(service.reader.state(), documents.names(service.home), now_ms(), open_only=open_only)


@router.get("/api/governance", summary="The governance policy and every proposal with who approved or rejected it")
def get_governance(request: Request, _: Reader, open: bool = False) -> dict[str, Any]:
    return _document(request, open)


@router.get("/governance", response_class=HTMLResponse, include_in_schema=False)
def governance_page(request: Request, open: bool = False) -> HTMLResponse:
    from .pages import _page

    return _page(request, "governance.html", _document(request, open), "Governance")
