"""HTTP calls a ledger home makes to a witness: its identity, log registration and ``add-checkpoint``."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from .._json import loads_bounded
from ..errors import ConfigError
from .note import TYPE_COSIGNATURE_V1, NoteError, VerifierKey
from .server import INFO_PATH, REGISTER_PATH

TIMEOUT = 10.0


class WitnessUnreachable(ConfigError, ConnectionError):
    """A witness cannot be reached or answered something that is not the protocol."""

    exit_code = 7


def check_url(url: str) -> str:
    """A witness URL ``http(s)://HOST[:PORT][/PREFIX]`` without a trailing slash, else ``ConfigError``."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(f"a witness URL looks like http://HOST:PORT, got {url!r}")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ConfigError(f"a witness URL has a bad port: {url!r}") from None
    return url.rstrip("/")


def post(url: str, body: bytes, content_type: str = "text/plain") -> tuple[int, bytes]:
    """POST ``body``; the status and the reply body (HTTP errors are answers, not exceptions)."""
    request = urllib.request.Request(url, body, {"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return int(response.status), bytes(response.read(1 << 16))
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read(1 << 16))
    except (urllib.error.URLError, OSError) as exc:
        raise WitnessUnreachable(f"cannot reach the witness at {url}: {getattr(exc, 'reason', exc)}") from None


def fetch_identity(url: str) -> VerifierKey:
    """The witness's cosignature verifier key, from ``GET URL/ledgerml/witness``."""
    base = check_url(url)
    try:
        with urllib.request.urlopen(base + INFO_PATH, timeout=TIMEOUT) as response:
            data: Any = loads_bounded(response.read(1 << 16), what="the witness's reply", error=ConfigError)
    except urllib.error.HTTPError as exc:
        raise WitnessUnreachable(f"{base} is not a ledgerml witness (HTTP {exc.code} on {INFO_PATH})") from None
    except (urllib.error.URLError, OSError) as exc:
        raise WitnessUnreachable(f"cannot reach the witness at {base}: {getattr(exc, 'reason', exc)}") from None
    try:
        key = VerifierKey.parse(str(data["vkey"]))
    except (KeyError, TypeError, NoteError) as exc:
        raise WitnessUnreachable(f"{base} answered no valid witness key: {exc}") from None
    if key.key_type != TYPE_COSIGNATURE_V1 or key.name != data.get("name"):
        raise WitnessUnreachable(f"{base} answered a key that is not a cosignature/v1 key of its name")
    return key


def register_log(url: str, origin: str, vkey: str) -> None:
    """Tell the witness this log's verifier key (recorded on first use; another key later is refused)."""
    status, body = post(
        check_url(url) + REGISTER_PATH, json.dumps({"origin": origin, "vkey": vkey}).encode(), "application/json"
    )
    if status != 200:
        reason = body.decode("utf-8", "replace").strip()[:200]
        raise ConfigError(f"the witness at {url} refused this ledger's checkpoint key (HTTP {status}: {reason})")


__all__ = ["WitnessUnreachable", "check_url", "fetch_identity", "post", "register_log"]
