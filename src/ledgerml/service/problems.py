"""RFC 9457 problem details for ledgerml errors: the HTTP status of each error class, and back again."""

from __future__ import annotations

from typing import Any

from .. import errors
from ..errors import LedgerMLError
from ..ledger.remote import BadRequest, BodyTooLarge, RateLimited, UnsupportedMediaType

PROBLEM_TYPE = "application/problem+json"


_STATUS: dict[str, int] = {
    "Unauthenticated": 401,
    "Forbidden": 403,
    "RateLimited": 429,
    "NotFound": 404,
    "ConfigError": 400,
    "MalformedEvent": 400,
    "JsonTooLarge": 413,
    "UnknownEventKind": 422,
    "InvalidSignature": 422,
    "SignerMismatch": 422,
    "WrongLedger": 422,
    "UnknownReference": 422,
    "InsufficientFunds": 422,
    "Unauthorized": 403,
    "ReplayedNonce": 409,
    "NonceGap": 409,
    "DuplicateRegistration": 409,
    "InvalidTransition": 409,
    "InvalidProof": 409,
    "AlreadyExists": 409,
}
"""HTTP status per error class name; a class not named takes its nearest named base's status."""


def status_of(exc: LedgerMLError) -> int:
    """The HTTP status of ``exc``: its own, its class's entry, its nearest base's entry, else 400 for a rejected
    event and 500 for the server's own trouble (storage, a damaged ledger)."""
    own = getattr(exc, "status", None)
    if isinstance(own, int):
        return own
    for cls in type(exc).__mro__:
        if cls.__name__ in _STATUS:
            return _STATUS[cls.__name__]
    return 400 if isinstance(exc, errors.RejectedEvent) else 500


def problem(exc: LedgerMLError, instance: str) -> dict[str, Any]:
    """The problem document of ``exc``: ``type``, ``title`` (the error class), ``status``, ``detail`` (its one line),
    ``instance`` (the request path), plus ``error``, ``exit_code`` and, for a batch, ``index``."""
    name = type(exc).__name__
    detail = str(exc).splitlines()[0] if str(exc) else name
    doc: dict[str, Any] = {
        "type": f"urn:ledgerml:error:{name}",
        "title": name,
        "status": status_of(exc),
        "detail": detail,
        "instance": instance,
        "error": name,
        "exit_code": exc.exit_code,
    }
    index = getattr(exc, "index", None)
    if index is not None:
        doc["index"] = index
    if isinstance(exc, RateLimited):
        doc["retry_after"] = round(exc.retry_after, 3)
    return doc


def problem_headers(exc: LedgerMLError, doc: dict[str, Any]) -> dict[str, str]:
    """The headers a problem response carries besides its type: ``WWW-Authenticate`` on 401, ``Retry-After``
    on 429."""
    headers: dict[str, str] = {}
    if doc["status"] == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="ledgerml"'
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    return headers


__all__ = [
    "PROBLEM_TYPE",
    "BadRequest",
    "BodyTooLarge",
    "RateLimited",
    "UnsupportedMediaType",
    "problem",
    "problem_headers",
    "status_of",
]
