"""The FastAPI application: the API under ``/api``, the dashboard at ``/``, errors as RFC 9457 problem documents."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from ..errors import LedgerMLError, NotFound, TamperDetected
from ..home import Home
from ..ledger.base import LedgerBackend
from .context import Service, ServiceSettings, token_store
from .problems import PROBLEM_TYPE, BadRequest, problem, problem_headers
from .writepath import EventPosts


def _problem_response(exc: LedgerMLError, request: Request) -> JSONResponse:
    doc = problem(exc, request.url.path)
    return JSONResponse(doc, status_code=doc["status"], media_type=PROBLEM_TYPE, headers=problem_headers(exc, doc))


def _install_handlers(app: FastAPI) -> None:
    async def ledgerml_error(request: Request, exc: Exception) -> Any:
        assert isinstance(exc, LedgerMLError)
        from .pages import html_error

        return html_error(request, exc) or _problem_response(exc, request)

    async def http_error(request: Request, exc: Exception) -> Any:
        assert isinstance(exc, HTTPException)
        error: LedgerMLError = (
            NotFound(f"no such path {request.url.path}") if exc.status_code == 404 else BadRequest(str(exc.detail))
        )
        if exc.status_code not in (404, 400):
            error.status = exc.status_code  # type: ignore[attr-defined]
        return await ledgerml_error(request, error)

    async def validation_error(request: Request, exc: Exception) -> Any:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _problem_response(BadRequest(f"{where}: {first.get('msg', 'invalid')}"), request)

    async def database_error(request: Request, exc: Exception) -> Any:
        return _problem_response(TamperDetected(f"the ledger file cannot be read: {exc}"), request)

    app.add_exception_handler(LedgerMLError, ledgerml_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(sqlite3.DatabaseError, database_error)


def create_app(home: Home, ledger: LedgerBackend | None = None, settings: ServiceSettings | None = None) -> FastAPI:
    """The service over ``home`` (its ledger opened with the validator key when it loads, so blocks get sealed),
    or over an already open ``ledger`` of that home. The caller closes the ledger it passes."""
    from . import alerts, governance, pages, routes

    if ledger is None:
        writer = home.open_ledger()
        reader = writer if writer.capabilities.distributed else home.open_ledger(as_validator=False)
        reader.state()  # catch up from the last checkpoint now, not in the first request
        service = Service(home, writer, token_store(home), settings or ServiceSettings(), reader, owned=True)
    else:
        service = Service(home, ledger, token_store(home), settings or ServiceSettings())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        service.close()

    app = FastAPI(
        title="ledgerml",
        lifespan=lifespan,
        summary="A ledgerml ledger as a service: events, blocks, proofs, federated tasks, models, datasets.",
        version="1",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.service = service
    _install_handlers(app)
    app.include_router(routes.router, prefix="/api")
    app.include_router(pages.router)
    app.include_router(governance.router)
    app.include_router(alerts.router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.add_middleware(EventPosts, service=service)  # POST /api/events without the router: the hot write path
    return app


__all__ = ["create_app"]
