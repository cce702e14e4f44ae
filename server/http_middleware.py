"""The HTTP port's request pipeline: one middleware around the one gate (`dxbus.gate`).

One layer (`HttpGuard.gatekeeper`), in this order, so that every reply - errors and 429 included -
carries CORS and rate headers:
1. the gate: Host, Origin (a write needs write rights), per-IP budget and rate, preflight, token,
   body size and the body itself (read within `BodyTimeoutSeconds`), then the handler;
2. every exception becomes a JSON error (an overlay URL's error becomes a page OBS can show);
   CORS headers (for browser requests, which carry `Origin`) and `X-Rate-Limit-*` headers (with rate
   limiting on) are stamped on the reply.
It is one middleware, not two, and checks without allocating where it can, because it runs on every
request and the game posts every event as one: its cost is a share of the ingest's.
Only the stream route (`/ws`) is handed on as it is: its handler asks the gate itself (`admit_stream`),
since the stream counts against the stream budget and may authenticate with a first message. An
`Upgrade: websocket` header on any other route changes nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from . import error_page
from .bus import Bus
from .gate import READ_METHODS, Gate
from .http_errors import JSON_TYPE, ApiError, error_response, from_api_error, from_http_exception
from .security import RateDecision

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

RATE_KEY = web.RequestKey("dxbus_rate", RateDecision)
STREAM_PATH = "/ws"
CORS_HEADERS = {
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Authorization",
    "Access-Control-Expose-Headers": "X-Rate-Limit-Limit, X-Rate-Limit-Remaining, X-Rate-Limit-Reset, "
    "Retry-After",
    "Access-Control-Max-Age": "600",
}


def client_ip(request: web.Request) -> str:
    """The peer address (no proxy headers are trusted: the bus is meant for the local machine)."""
    return request.remote or "unknown"


def is_write(request: web.Request) -> bool:
    """Whether the request (or, for a preflight, the request it announces) changes something."""
    if request.method == "OPTIONS":
        announced = request.headers.get("Access-Control-Request-Method", "GET").upper()
        return announced not in READ_METHODS
    return request.method not in READ_METHODS


@dataclass
class HttpGuard:
    """The middlewares of the 8080 app; every decision is the gate's."""

    bus: Bus
    max_body_bytes: int

    @property
    def gate(self) -> Gate:
        return self.bus.gate

    # -- the one middleware ---------------------------------------------------------------------
    @web.middleware
    async def gatekeeper(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """The gate's checks, then the handler; every failure becomes a JSON error with our headers."""
        try:
            response = await self._admit(request, handler)
        except ApiError as err:
            response = from_api_error(err)
        except web.HTTPException as exc:
            if exc.status < 400:  # redirects: keep them, just add our headers
                self.decorate(request, exc)
                raise
            response = from_http_exception(exc, request)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s %s failed", request.method, request.path)
            response = error_response(500, "INTERNAL_ERROR", "the server failed on this request; see its log")
        if response.status >= 400 and response.content_type == JSON_TYPE \
                and isinstance(response, web.Response) and error_page.is_overlay_page(request):
            response = _overlay_page(request, response)
        if self.gate.rates is not None or "Origin" in request.headers:
            self.decorate(request, response)
        return response

    def decorate(self, request: web.Request, response: web.StreamResponse) -> None:
        """Add CORS and rate-limit headers (not possible once a response has started streaming).

        CORS headers go to browser requests only (they carry `Origin`); programs never read them.
        """
        if response.prepared:
            return
        headers = response.headers
        origin = request.headers.get("Origin")
        if origin is not None:
            allow = self.gate.cors_origin(origin)
            if allow is not None:
                headers["Access-Control-Allow-Origin"] = allow
                if allow != "*":
                    headers.add("Vary", "Origin")
            headers.update(CORS_HEADERS)
            if allow is not None and request.headers.get("Access-Control-Request-Private-Network") == "true":
                # Chromium's Private Network Access preflight, answered only for origins the gate lets in.
                headers["Access-Control-Allow-Private-Network"] = "true"
        decision = request.get(RATE_KEY)
        if decision is not None:
            headers.update(decision.headers())

    async def _admit(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Host, origin, limits, preflight, token, body; then the handler."""
        gate = self.gate
        headers = request.headers
        gate.check_host(headers.get("Host"))
        method = request.method
        if method == "GET" and request.path == STREAM_PATH:
            return await handler(request)  # the stream asks the gate itself (admit_stream)
        gate.check_origin(headers, write=is_write(request))
        bus = self.bus
        if bus.stopping:
            raise ApiError(503, "SHUTTING_DOWN", "the bus is stopping", headers={"Retry-After": "5"})
        ip = request.remote or "unknown"
        gate.acquire("http", ip)
        connections = bus.connections
        connections["http"] += 1
        try:
            if method == "OPTIONS":
                # CORS preflight: answered before the token check (browsers never send tokens on it).
                return web.Response(status=204)
            if gate.rates is not None:
                decision = gate.check_rate("http", ip)
                if decision is not None:
                    request[RATE_KEY] = decision
            if gate.token:
                gate.check_token(headers, request.query, method, request.path)
            length = request.content_length
            if length is not None and length > self.max_body_bytes:
                response = error_response(
                    413, "PAYLOAD_TOO_LARGE",
                    f"the body is {length} bytes; the limit is {self.max_body_bytes} ([HTTP] MaxBodyMb)",
                    limit_bytes=self.max_body_bytes,
                )
                response.force_close()  # the unread body is discarded, never buffered
                return response
            if method not in READ_METHODS and request.body_exists:
                if request.content.is_eof():
                    await request.read()  # all there already (a small POST): no timer needed
                else:
                    await self._read_body(request)
            return await handler(request)
        finally:
            connections["http"] -= 1
            gate.release("http", ip)

    async def _read_body(self, request: web.Request) -> None:
        """Read the whole body now, within `BodyTimeoutSeconds` (handlers get it from aiohttp's cache).

        A client that stops sending is answered 408; one that hangs up is logged as one line: it is
        the client's failure, not the server's.
        """
        timeout = self.bus.config.security.body_timeout_seconds
        try:
            async with asyncio.timeout(timeout):
                await request.read()
        except TimeoutError:
            log.info("%s %s from %s: body not received within %g s ([Security] BodyTimeoutSeconds)",
                     request.method, request.path, client_ip(request), timeout)
            raise ApiError(408, "BODY_TIMEOUT", f"the body did not arrive within {timeout:g} s "
                           "([Security] BodyTimeoutSeconds)", headers={"Connection": "close"}) from None
        except web.HTTPRequestEntityTooLarge:
            raise ApiError(413, "PAYLOAD_TOO_LARGE", f"the body is over the limit of "
                           f"{self.max_body_bytes} bytes ([HTTP] MaxBodyMb)",
                           limit_bytes=self.max_body_bytes) from None
        except (ConnectionError, HttpProcessingError, OSError) as exc:
            log.info("%s %s from %s: the client went away mid-body (%s)", request.method, request.path,
                     client_ip(request), type(exc).__name__)
            raise ApiError(400, "BODY_INCOMPLETE", "the connection closed before the whole body "
                           "arrived") from None

    def middlewares(self) -> list[Callable[..., Awaitable[web.StreamResponse]]]:
        """The middlewares in application order (one)."""
        return [self.gatekeeper]


TITLES = {401: "Token needed", 403: "Not allowed", 404: "No such overlay", 429: "Too many requests",
          503: "The bus is stopping"}


def _overlay_page(request: web.Request, response: web.Response) -> web.Response:
    """An overlay URL's JSON error as a page OBS can show (an OBS source paints what it gets)."""
    try:
        body = response.body if isinstance(response.body, bytes) else b"{}"
        error = json.loads(body or b"{}").get("error", {})
    except (ValueError, AttributeError):
        error = {}
    message = str(error.get("message") or response.reason or "error")
    headers = {k: v for k, v in response.headers.items() if k.lower() in ("retry-after", "allow")}
    title = TITLES.get(response.status, "Overlay error" if response.status < 500 else "Overlay failed")
    details = [f"{error.get('code', response.status)} · {request.path}"]
    if response.status in (401, 403):
        details.append("copy the URL again from the gallery (/overlays): it carries the current token")
    return error_page.page_response(request, response.status, title, message, details, headers)
