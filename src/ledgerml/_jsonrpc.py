"""A minimal JSON-RPC 2.0 client over HTTP for EVM nodes (no web3 needed for reading blocks or sending raw
transactions)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from ._json import loads_bounded
from .errors import ConfigError


class JsonRpc:
    """A minimal JSON-RPC 2.0 client over HTTP."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"the RPC URL must be http(s)://..., got {url!r}")
        self.url, self.timeout, self._id = url, timeout, 0

    def call(self, method: str, params: list[Any] | None = None) -> Any:
        """Call ``method``; ``ConfigError`` on transport or RPC errors."""
        self._id += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self._id, "method": method, "params": params or []}).encode()
        request = urllib.request.Request(self.url, body, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                reply = loads_bounded(response.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ConfigError(f"cannot reach the node at {self.url}: {exc}") from None
        if "error" in reply:
            raise ConfigError(f"{method} failed: {reply['error']}")
        return reply.get("result")

    def quantity(self, method: str, params: list[Any] | None = None) -> int:
        """Call ``method`` whose result is a hex quantity (``eth_chainId``, ``eth_blockNumber``) and return it as
        an integer; ``ConfigError`` when the node answers something else."""
        answer = self.call(method, params)
        try:
            return int(answer, 16)
        except (TypeError, ValueError):
            raise ConfigError(f"{method} answered {str(answer)[:40]!r}, not a hex quantity") from None
