"""Alerts in the service: ``GET /api/alerts`` (newest first), ``GET /api/alerts/{id}`` (with its explanation),
and the dashboard's list and detail pages (the detail draws the explanation)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ..alerts.documents import alert_detail, alert_list
from .routes import Reader, service_of

router = APIRouter()


def _detail(request: Request, alert_id: str) -> dict[str, Any]:
    service = service_of(request)
    return alert_detail(service.reader.state(), service.home.store(), alert_id)


@router.get("/api/alerts", summary="Every signed alert, newest first: detector, subject, score, threshold, decision")
def get_alerts(request: Request, _: Reader, detector: str | None = None, type: str | None = None) -> dict[str, Any]:
    return {"alerts": alert_list(service_of(request).reader.state(), detector=detector, subject_type=type)}


@router.get("/api/alerts/{alert_id}", summary="One alert with its explanation document from the artifact store")
def get_alert(request: Request, _: Reader, alert_id: str) -> dict[str, Any]:
    return _detail(request, alert_id)


@router.get("/alerts", response_class=HTMLResponse, include_in_schema=False)
def alerts_page(request: Request) -> HTMLResponse:
    from .pages import _page

    doc = {"alerts": alert_list(service_of(request).reader.state())}
    return _page(request, "alerts.html", doc, "Alerts")


@router.get("/alerts/{alert_id}", response_class=HTMLResponse, include_in_schema=False)
def alert_page(request: Request, alert_id: str) -> HTMLResponse:
    from ..alerts.html import bars_of, svg_bars
    from .pages import _page

    doc = _detail(request, alert_id)
    title, bars = bars_of(doc["explanation"] or {})
    return _page(request, "alert.html", doc, "Alert", chart_title=title, chart=svg_bars(bars) if bars else "")
