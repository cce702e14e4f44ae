"""The REST API of the HTTP port (PROTOCOL.md section 3): `/api/*` routes and the app that holds them.

`/api/metrics` and `/api/recent` never re-serialize events: they join the events' `raw` bytes.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from aiohttp import HttpVersion11, web

from .bus import Bus
from .configure import apply_configure
from .dashboard import install_dashboard
from .events import EVENT_TYPE_PATTERN, Event, EventError, normalize_timestamp
from .http_errors import ApiError, json_response
from .http_middleware import HttpGuard
from .ingest import BodyError, ingest

log = logging.getLogger(__name__)

BUS_KEY = web.AppKey("dxbus_bus", Bus)
TIMER_COMMANDS = ("start", "split", "reset")


def events_body(events: list[Event]) -> bytes:
    """A JSON array of events made of their stored wire bytes."""
    return b"[" + b",".join(e.raw for e in events) + b"]"


def int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    """A whole-number query parameter within [low, high], or a 400 naming it."""
    text = request.query.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ApiError(400, "INVALID_PARAMETER", f"{name} must be a whole number from {low} to {high}, "
                       f"got {text[:40]!r}", parameter=name) from None
    if not low <= value <= high:
        raise ApiError(400, "INVALID_PARAMETER", f"{name} must be from {low} to {high}, got {value}",
                       parameter=name)
    return value


def types_param(request: web.Request) -> frozenset[str] | None:
    """The union of `type=` and `types=a,b` (None: every type)."""
    wanted: set[str] = set()
    for name in ("type", "types"):
        for text in request.query.getall(name, []):
            for item in text.split(","):
                item = item.strip()
                if not item:
                    continue
                if not EVENT_TYPE_PATTERN.fullmatch(item):
                    raise ApiError(400, "INVALID_PARAMETER", f"{name}: {item[:80]!r} is not an event type "
                                   "(lowercase letters, digits, _)", parameter=name)
                wanted.add(item)
    return frozenset(wanted) or None


async def read_body(request: web.Request) -> bytes:
    """The whole body; a 413 naming the limit if it grows past MaxBodyMb (chunked uploads)."""
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        limit = request.app[BUS_KEY].config.http.max_body_mb * 1024 * 1024
        raise ApiError(413, "PAYLOAD_TOO_LARGE", f"the body is over the limit of {int(limit)} bytes "
                       "([HTTP] MaxBodyMb)", limit_bytes=int(limit)) from None


async def read_json(request: web.Request) -> Any:
    """The request body as JSON, or a 400 saying where it broke."""
    body = await read_body(request)
    if not body.strip():
        raise ApiError(400, "INVALID_JSON", "the body is empty; send a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "INVALID_JSON", f"the body is not valid JSON: {exc}") from None


# -- handlers -------------------------------------------------------------------------------------
async def get_status(request: web.Request) -> web.Response:
    """`GET /api/status`: health, version, uptime, live connection counts, settings, subscribers."""
    return json_response(status_payload(request.app[BUS_KEY]))


def status_payload(bus: Bus) -> dict[str, Any]:
    """What `/api/status` reports (the dashboard renders the same dict)."""
    security = bus.config.security
    hub = bus.hub
    status: dict[str, Any] = {
        "status": "healthy",
        "version": bus.version,
        "uptime_seconds": round(bus.uptime(), 3),
        "active_connections": dict(bus.connections),
        "metrics_collected": hub.metrics_collected,
        "configuration": {
            **bus.policy.as_dict(),
            "ring_buffer_size": bus.config.data_collection.ring_buffer_size,
            "auth_required": bool(security.auth_token),
            "rate_limiting": security.enable_rate_limiting,
            "rate_limit_per_minute": security.rate_limit_per_minute,
            "max_connections_per_ip": security.max_connections_per_ip,
            "allowed_origins": security.allowed_origins,
        },
        "ports": dict(bus.ports),
        "seq": hub.seq,
        "oldest_seq": hub.oldest_seq,
        "subscribers": [
            {"name": s.name, "types": sorted(s.types) if s.types is not None else None,
             "backlog": s.backlog, "delivered": s.delivered, "coalesced": s.coalesced,
             "last_seq": s.last_seq}
            for s in sorted(hub.subscriptions, key=lambda s: s.name)
        ],
    }
    for name, provider in list(bus.status_providers.items()):
        if name in status:
            log.warning("status provider %r clashes with a core /api/status key; skipped", name)
            continue
        try:
            status[name] = provider()
        except Exception as exc:  # one broken part must not take /api/status down
            log.exception("status provider %r failed", name)
            status[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return status


async def get_metrics(request: web.Request) -> web.Response:
    """`GET /api/metrics?type=&types=&limit=&coalesce=`: a snapshot of the bus, oldest first.

    The last `limit` events plus the newest event of every type; high-rate state (player_update,
    timing_update) appears once, as its newest sample, unless `coalesce=0`. Clients in the usage guide
    take the first `player_update` they find (`metrics.find(...)`) or the last one of a loop: with one
    sample per state type both see the current value.
    """
    limit = int_param(request, "limit", 100, 1, 1000)
    coalesce = flag_param(request, "coalesce", True)
    events = request.app[BUS_KEY].hub.metrics(limit, types_param(request), newest_state_only=coalesce)
    return json_response(events_body(events))


def flag_param(request: web.Request, name: str, default: bool) -> bool:
    """A true/false query parameter (1/0, true/false, yes/no)."""
    text = request.query.get(name, "").strip().lower()
    if not text:
        return default
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ApiError(400, "INVALID_PARAMETER", f"{name} must be true or false, got {text[:20]!r}",
                   parameter=name)


async def get_recent(request: web.Request) -> web.Response:
    """`GET /api/recent?count=&type=&since=`: the last `count` events from the ring buffer."""
    count = int_param(request, "count", 10, 1, 100)
    since = request.query.get("since") or None
    if since is not None:
        try:
            since = normalize_timestamp(since, "since")
        except EventError as exc:
            raise ApiError(400, "INVALID_PARAMETER", f"since: {exc.message}", parameter="since") from None
    events = request.app[BUS_KEY].hub.recent(count, types_param(request), since)
    return json_response(events_body(events))


async def post_configure(request: web.Request) -> web.Response:
    """`POST /api/configure`: change the collection settings now."""
    bus = request.app[BUS_KEY]
    reply = apply_configure(await read_json(request), bus.policy, bus.config.data_collection)
    if reply["applied"]:
        log.info("configuration changed over HTTP: %s", reply["applied"])
    return json_response(reply)


async def post_events(request: web.Request) -> web.Response:
    """`POST /api/events`: ingest an object, an array or NDJSON; 200 unless nothing valid was sent."""
    body = await read_body(request)
    try:
        result = await ingest(request.app[BUS_KEY].hub, body)
    except BodyError as exc:
        raise ApiError(400, "INVALID_JSON", str(exc)) from None
    reply = result.as_dict()
    if result.rejected and not (result.accepted or result.filtered):
        first = result.errors[0]
        place = f"line {first['line']}" if "line" in first else f"index {first['index']}"
        reply["error"] = {"code": "INVALID_EVENTS",
                          "message": f"no event accepted; {place}: {first['error']}"}
        return json_response(reply, 400)
    return json_response(reply)


async def get_state(request: web.Request) -> web.Response:
    """`GET /api/state`: the derived session state."""
    return json_response(request.app[BUS_KEY].state.snapshot())


def timer_route(command: str) -> Any:
    """`POST /api/livesplit/<command>`: put a manual timer command on the bus."""

    async def handler(request: web.Request) -> web.Response:
        event = request.app[BUS_KEY].hub.emit(
            "timer_command", {"command": command, "value": None, "source": "manual"})
        if event is None:
            raise ApiError(503, "FILTERED", "timer commands are switched off by the collection settings")
        return json_response({"success": True, "status": "success", "command": command, "seq": event.seq})

    handler.__name__ = f"timer_{command}"
    return handler


async def expect_small_body(request: web.Request) -> None:
    """`Expect: 100-continue` (curl on big uploads): only invite the body if it is within MaxBodyMb.

    Otherwise no `100 Continue` is sent, and the middleware answers 413 before the client uploads.
    """
    limit = request.app[BUS_KEY].config.http.max_body_mb * 1024 * 1024
    length = request.content_length
    if length is not None and length > limit:
        return
    if request.version == HttpVersion11 and request.headers.get("Expect", "").lower() == "100-continue":
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0  # the 100 is not part of the reply's size


def install_api_routes(app: web.Application) -> None:
    """Add the `/api/*` routes."""
    app.router.add_get("/api/status", get_status)
    app.router.add_get("/api/metrics", get_metrics)
    app.router.add_get("/api/recent", get_recent)
    app.router.add_get("/api/state", get_state)
    app.router.add_post("/api/configure", post_configure, expect_handler=expect_small_body)
    app.router.add_post("/api/events", post_events, expect_handler=expect_small_body)
    for command in TIMER_COMMANDS:
        app.router.add_post(f"/api/livesplit/{command}", timer_route(command))


def build_app(bus: Bus) -> web.Application:
    """The HTTP port's app: middlewares, the API, the dashboard, then every `bus.route_installers`."""
    max_body = int(bus.config.http.max_body_mb * 1024 * 1024)
    guard = HttpGuard(bus, max_body)
    app = web.Application(middlewares=guard.middlewares(), client_max_size=max_body)
    app[BUS_KEY] = bus
    install_api_routes(app)
    install_dashboard(app, bus)
    for installer in bus.route_installers:
        installer(app, bus)
    return app
