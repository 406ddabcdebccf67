"""``ledgerml serve``: the ledger as a service (API under ``/api``, dashboard at ``/``) until SIGTERM or SIGINT."""

from __future__ import annotations

import json
import socket
from typing import Annotated, Any

import typer

from ..errors import ConfigError
from ._common import HomeOption, JsonOption, console, home_of


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket, bound before the server starts (so a taken port is one clear error)."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def serve(
    home: HomeOption = None,
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port; 0 picks a free one.")] = 8000,
    host: Annotated[str, typer.Option(help="Address to bind; other machines reach only a non-loopback one.")] = (
        "127.0.0.1"
    ),
    write_rate: Annotated[float, typer.Option(min=0.001, help="Write requests per second per token.")] = 50.0,
    write_burst: Annotated[int, typer.Option(min=1, help="Write requests one token may send at once.")] = 100,
    access_log: Annotated[bool, typer.Option("--access-log", help="Log every request to stderr.")] = False,
    private: Annotated[
        bool,
        typer.Option(
            "--private",
            help="Every request needs a token (head, blocks, proofs, verify and signed writes are public otherwise).",
        ),
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Serve the ledger over HTTP: the API under /api, the dashboard at /.

    The OpenAPI schema is at /openapi.json. What checking the log needs (head, block headers, proofs, the verify
    report) is public, and a signed event may be posted without a token (its signature authenticates it); every
    other read needs an API token (see 'ledgerml remote token create'), and --private makes every request need
    one. The service holds no participant keys. SIGTERM or SIGINT stops it after the requests in flight.
    """
    from .._extras import require_extra

    require_extra("service", purpose="'ledgerml serve'")
    import uvicorn

    from ..service.app import create_app
    from ..service.context import ServiceSettings, token_store

    target = home_of(home)
    app = create_app(target, settings=ServiceSettings(write_rate=write_rate, write_burst=write_burst, private=private))
    sock = _listen(host, port)
    url = f"http://{host if ':' not in host else f'[{host}]'}:{sock.getsockname()[1]}"
    tokens = len([r for r in token_store(target).records() if r.revoked is None])
    if json_out:
        typer.echo(json.dumps({"url": url, "home": str(target.path), "tokens": tokens}), nl=True)
    else:
        console.print(
            f"serving {target.path} at {url} (dashboard {url}/, API {url}/api, schema {url}/openapi.json)",
            soft_wrap=True,
            highlight=False,
        )
        if not tokens:
            console.print("  no API token exists yet: ledgerml remote token create NAME --auditor (or --identity)")
    server: Any = _server(uvicorn.Config(app, log_level="warning", access_log=access_log, lifespan="on"))
    server.run(sockets=[sock])
    if not json_out:
        console.print("stopped")


def _server(config: Any) -> Any:
    """uvicorn's server, stopping on SIGTERM/SIGINT with exit status 0 (uvicorn re-raises the signal otherwise)."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            if self.should_exit:
                self.force_exit = True
            self.should_exit = True

    return Server(config)
