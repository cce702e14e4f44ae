"""The HTTP port's request pipeline: JSON errors, CORS, connection and rate limits, token, body size.

Order (outermost first), so that every reply - errors and 429 included - carries CORS and rate headers:
1. `envelope`: turns every exception into a JSON error and stamps CORS and `X-Rate-Limit-*` headers.
2. `gate`: origin check, connection count and per-IP limit, rate limit, preflight, token, body size.
WebSocket upgrades (`/ws`) pass the gate's counting and token check: the WebSocket handler counts
them as WebSocket connections and authenticates them itself (it also accepts a first `auth` message).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from .app import Bus
from .http_errors import ApiError, error_response, from_api_error, from_http_exception
from .security import RateDecision, RateLimiter, origin_allowed, presented_token, token_matches

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

RATE_KEY = web.RequestKey("dxbus_rate", RateDecision)
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="dxbus"'}
CORS_HEADERS = {
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Authorization",
    "Access-Control-Expose-Headers": "X-Rate-Limit-Limit, X-Rate-Limit-Remaining, X-Rate-Limit-Reset, "
    "Retry-After",
    "Access-Control-Max-Age": "600",
}


PUBLIC_PREFIX = "/static/"


def is_websocket_upgrade(request: web.Request) -> bool:
    """A WebSocket handshake (its handler owns counting and auth)."""
    return request.headers.get("Upgrade", "").lower() == "websocket"


def client_ip(request: web.Request) -> str:
    """The peer address (no proxy headers are trusted: the bus is meant for the local machine)."""
    return request.remote or "unknown"


@dataclass
class HttpGuard:
    """The `[Security]` and `[HTTP]` settings the pipeline enforces."""

    bus: Bus
    rate_limiter: RateLimiter | None
    max_body_bytes: int

    @property
    def origins(self) -> frozenset[str]:
        return self.bus.config.security.origins

    @property
    def token(self) -> str:
        return self.bus.config.security.auth_token

    # -- 1. envelope ---------------------------------------------------------------------------
    @web.middleware
    async def envelope(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Every reply gets CORS (and rate) headers; every failure becomes a JSON error."""
        try:
            response = await handler(request)
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
        self.decorate(request, response)
        return response

    def decorate(self, request: web.Request, response: web.StreamResponse) -> None:
        """Add CORS and rate-limit headers (not possible once a response has started streaming)."""
        if response.prepared:
            return
        headers = response.headers
        origin = request.headers.get("Origin")
        if "*" in self.origins:
            headers["Access-Control-Allow-Origin"] = "*"
        elif origin is not None and origin_allowed(self.origins, origin):
            headers["Access-Control-Allow-Origin"] = origin
            headers.add("Vary", "Origin")
        headers.update(CORS_HEADERS)
        if request.headers.get("Access-Control-Request-Private-Network") == "true":
            # Chromium's Private Network Access preflight: pages may reach the bus on this machine.
            headers["Access-Control-Allow-Private-Network"] = "true"
        decision = request.get(RATE_KEY)
        if decision is not None:
            headers.update(decision.headers())

    # -- 2. gate ---------------------------------------------------------------------------------
    @web.middleware
    async def gate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Origin, limits, preflight, token and body size, in that order; then the handler."""
        origin = request.headers.get("Origin")
        if not origin_allowed(self.origins, origin):
            # Browsers would hide the reply anyway; refusing also stops cross-site POSTs (CSRF).
            shown = str(origin)[:100]  # not None here: a request without Origin is always allowed
            raise ApiError(403, "ORIGIN_NOT_ALLOWED", f"origin {shown!r} is not in AllowedOrigins")
        if self.bus.stopping:
            raise ApiError(503, "SHUTTING_DOWN", "the bus is stopping", headers={"Retry-After": "5"})
        if is_websocket_upgrade(request):
            self._check_rate(request)
            return await handler(request)
        ip = client_ip(request)
        limiter = self.bus.connection_limiter
        if not limiter.acquire(ip):
            raise ApiError(429, "CONNECTION_LIMIT", f"too many open connections from {ip} "
                           f"(MaxConnectionsPerIP = {limiter.max_per_ip})",
                           headers={"Retry-After": "1"}, retry_after=1)
        self.bus.connections["http"] += 1
        try:
            return await self._guarded(request, handler)
        finally:
            self.bus.connections["http"] -= 1
            limiter.release(ip)

    async def _guarded(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "OPTIONS":
            # CORS preflight: answered before the token check (browsers never send tokens on it).
            return web.Response(status=204)
        self._check_rate(request)
        self._check_token(request)
        length = request.content_length
        if length is not None and length > self.max_body_bytes:
            response = error_response(
                413, "PAYLOAD_TOO_LARGE",
                f"the body is {length} bytes; the limit is {self.max_body_bytes} ([HTTP] MaxBodyMb)",
                limit_bytes=self.max_body_bytes,
            )
            response.force_close()  # the unread body is discarded, never buffered
            return response
        return await handler(request)

    def _check_rate(self, request: web.Request) -> None:
        if self.rate_limiter is None:
            return
        decision = self.rate_limiter.check(client_ip(request))
        request[RATE_KEY] = decision
        if not decision.allowed:
            raise ApiError(429, "RATE_LIMIT_EXCEEDED",
                           f"more than {decision.limit} requests per minute; retry in "
                           f"{decision.retry_after} s", retry_after=decision.retry_after)

    def _check_token(self, request: web.Request) -> None:
        if not self.token:
            return
        if request.method in ("GET", "HEAD") and request.path.startswith(PUBLIC_PREFIX):
            # Shipped assets (bus.js, CSS, fonts, sounds) hold no game data, and files a stylesheet
            # loads by itself (fonts, images) could never carry the page's ?token=.
            return
        presented = presented_token(request.headers, request.query)
        if presented is None:
            raise ApiError(401, "AUTH_REQUIRED",
                           "this bus needs a token: send 'Authorization: Bearer TOKEN' or add ?token=TOKEN",
                           headers=CHALLENGE)
        if not token_matches(self.token, presented):
            raise ApiError(401, "AUTH_FAILED", "the token is not valid", headers=CHALLENGE)

    def middlewares(self) -> list[Callable[..., Awaitable[web.StreamResponse]]]:
        """The middlewares in application order."""
        return [self.envelope, self.gate]
