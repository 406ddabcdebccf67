"""The witness's HTTP server (standard library): C2SP tlog-witness ``POST /add-checkpoint``, plus
``GET /ledgerml/witness`` (name and verifier key) and ``POST /ledgerml/register-log`` (a log's key, on first use)."""

from __future__ import annotations

import json
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .._json import loads_bounded
from ..errors import ConfigError, LedgerMLError
from .state import Reply, WitnessIdentity, WitnessState, load_or_create_identity

MAX_BODY = 64 * 1024
INFO_PATH = "/ledgerml/witness"
REGISTER_PATH = "/ledgerml/register-log"


class WitnessServer(ThreadingHTTPServer):
    """A threading HTTP server holding one witness's identity and state."""

    daemon_threads = True
    identity: WitnessIdentity
    state: WitnessState


class _Handler(BaseHTTPRequestHandler):
    server: WitnessServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: no access log on stderr."""

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def _body(self) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._send(Reply(411, b"Content-Length required\n"))
            return None
        if not 0 <= length <= MAX_BODY:
            self._send(Reply(413, b"request body too large\n"))
            self.close_connection = True
            return None
        return self.rfile.read(length)

    def do_GET(self) -> None:
        """The witness's name and cosignature verifier key as JSON."""
        if self.path != INFO_PATH:
            self._send(Reply(404, b"not found\n"))
            return
        identity = self.server.identity
        document = {"name": identity.name, "vkey": str(identity.vkey), "protocol": "c2sp.org/tlog-witness"}
        self._send(Reply(200, json.dumps(document).encode(), "application/json"))

    def do_POST(self) -> None:
        """``add-checkpoint`` and ``register-log``."""
        body = self._body()
        if body is None:
            return
        if self.path == "/add-checkpoint":
            self._send(self.server.state.add_checkpoint(body, self.server.identity))
        elif self.path == REGISTER_PATH:
            try:
                data = loads_bounded(body, what="the request", max_bytes=MAX_BODY, max_depth=4, error=ConfigError)
                origin, vkey = str(data["origin"]), str(data["vkey"])
            except (LedgerMLError, KeyError, TypeError):
                self._send(Reply(400, b'the body is JSON {"origin": ..., "vkey": ...}\n'))
                return
            self._send(self.server.state.register(origin, vkey))
        else:
            self._send(Reply(404, b"not found\n"))


def make_server(folder: Path, port: int, name: str | None = None, host: str = "127.0.0.1") -> WitnessServer:
    """A bound witness server over ``folder`` (key created on first start); call ``serve_forever``."""
    identity = load_or_create_identity(folder, name)
    state = WitnessState.load(folder)
    try:
        server = WitnessServer((host, port), _Handler)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    server.identity, server.state = identity, state
    return server


def serve_until_signal(server: WitnessServer) -> None:
    """Serve until SIGTERM or SIGINT, then finish the requests in flight and return."""

    def stop(signum: int, frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


__all__ = ["INFO_PATH", "REGISTER_PATH", "WitnessServer", "make_server", "serve_until_signal"]
