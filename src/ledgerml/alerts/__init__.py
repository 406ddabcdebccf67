"""Explained, signed alerts: one mechanism every detector uses (federation flags, chain monitors, fraud scores)."""

from __future__ import annotations

from .api import Alert, AlertReceipt, get_alert, list_alerts, load_explanation, raise_alert

__all__ = ["Alert", "AlertReceipt", "get_alert", "list_alerts", "load_explanation", "raise_alert"]
