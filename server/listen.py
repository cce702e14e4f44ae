"""Binding an aiohttp app to a configured port, behind the gate's socket budget and timeouts.

Every socket of the HTTP and WebSocket ports is a `GatedHandler`:
- a port that already holds `MaxConnectionsPerPort` sockets answers a new one with a JSON 503 and
  closes it at once, so a flood of idle sockets never takes the descriptors the other ports need;
- a socket has `HeaderTimeoutSeconds` from opening (or from its last reply) to send a complete request
  line and headers, and is closed otherwise (slowloris, idle keep-alive);
- a request aiohttp cannot parse (URL or header too long, bad request line) gets the JSON error shape
  and one log line, not a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from aiohttp import web
from aiohttp.http_exceptions import BadHttpMethod, HttpProcessingError, LineTooLong
from aiohttp.web_protocol import RequestHandler

from .gate import Gate, PortBudget
from .http_errors import error_response

log = logging.getLogger(__name__)


def refusal_bytes(port: str, limit: int) -> bytes:
    """The whole reply to a socket over the port's budget (written before any request is read)."""
    body = orjson.dumps({"error": {"code": "PORT_BUSY", "message": f"the {port} port has {limit} sockets "
                                   "open ([Security] MaxConnectionsPerPort); retry shortly"}})
    head = (f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n")
    return head.encode() + body


def parse_error(exc: BaseException | None, status: int) -> tuple[int, str, str]:
    """The status, error code and message for a request aiohttp's parser refused."""
    if isinstance(exc, LineTooLong):
        line, limit = (*exc.args, "", "?")[:2]
        # The C parser hands over the URL as a bytearray; a header line comes as bytes.
        if isinstance(line, bytearray) or bytes(line[:1]) == b"/":
            return 414, "URI_TOO_LONG", f"the request line (URL) is longer than {limit} bytes"
        return 431, "HEADERS_TOO_LARGE", f"a request header is longer than {limit} bytes"
    if isinstance(exc, BadHttpMethod):
        return 400, "BAD_REQUEST_LINE", (exc.message or str(exc))[:200]
    if isinstance(exc, HttpProcessingError):
        return status, "BAD_REQUEST", (exc.message or str(exc))[:200]
    return status, "INTERNAL_ERROR", "the server failed on this request; see its log"


class GatedHandler(RequestHandler):
    """aiohttp's connection handler, counted against its port's budget and with JSON parser errors."""

    def __init__(self, manager: Any, budget: PortBudget, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self.budget = budget
        self.admitted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Admit the socket, or answer 503 and close it without starting a request loop."""
        if not self.budget.admit():
            assert isinstance(transport, asyncio.Transport)
            transport.write(refusal_bytes(self.budget.name, self.budget.limit))
            transport.close()
            return
        self.admitted = True
        super().connection_made(transport)

    def connection_lost(self, exc: BaseException | None) -> None:
        """Release the socket's place (refused sockets never had one)."""
        if not self.admitted:
            return
        self.admitted = False
        self.budget.release()
        super().connection_lost(exc)

    def handle_error(self, request: Any, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        """A request that could not be parsed (or a handler outside the API's envelope failed)."""
        if request.writer.output_size > 0:
            raise ConnectionError("the reply had started; cannot send an error instead")
        status, code, text = parse_error(exc, status)
        if isinstance(exc, HttpProcessingError):
            log.info("%s port: refused a request from %s: %s %s", self.budget.name, request.remote,
                     status, text)
        else:
            log.error("%s port: request from %s failed", self.budget.name, request.remote, exc_info=exc)
        response = error_response(status, code, text)
        response.force_close()
        return response


class GatedSite(web.TCPSite):
    """A TCP site whose sockets are `GatedHandler`s."""

    def __init__(self, runner: web.AppRunner, host: str, port: int, budget: PortBudget,
                 handler_options: dict[str, Any]) -> None:
        super().__init__(runner, host, port, reuse_address=True)
        self.budget = budget
        self.handler_options = handler_options

    async def start(self) -> None:
        """Listen, making one `GatedHandler` per socket (aiohttp's Server stays their manager)."""
        await web.BaseSite.start(self)
        loop = asyncio.get_running_loop()
        manager = self._runner.server
        assert manager is not None

        def factory() -> GatedHandler:
            return GatedHandler(manager, self.budget, loop=loop, **self.handler_options)

        self._server = await loop.create_server(factory, self._host, self._port, reuse_address=True)
        self._bound_port = self._server.sockets[0].getsockname()[1]


async def serve_app(app: web.Application, host: str, port: int, setting: str,
                    shutdown_timeout: float = 2.0, gate: Gate | None = None,
                    name: str = "http") -> tuple[web.AppRunner, int]:
    """Start `app` on host:port; return the runner and the port really bound (port 0 picks one).

    With a `gate`, the port gets its socket budget and header timeout. A port in use raises OSError
    naming `setting` (e.g. "[HTTP] Port or --http-port").
    """
    options: dict[str, Any] = {"access_log": None}
    if gate is not None:
        options["keepalive_timeout"] = gate.config.security.header_timeout_seconds
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=shutdown_timeout, **options)
    await runner.setup()
    site: web.TCPSite
    if gate is None:
        site = web.TCPSite(runner, host, port, reuse_address=True)
    else:
        site = GatedSite(runner, host, port, gate.port_budget(name), options)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise OSError(exc.errno, f"{host}:{port} is not available ({exc.strerror}); "
                      f"change {setting}") from None
    return runner, site.port
