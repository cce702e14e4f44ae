"""HTTP routes of the speedrun part: `/api/segments` and `/api/practice` (GET, POST)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..bus import Bus
from ..http_api import read_json
from ..http_errors import ApiError, json_response
from ..world import load_world
from .timer_service import TimerService


def install_routes(service: TimerService) -> Any:
    """A route installer (`bus.route_installers`) bound to one timer service."""

    def install(app: web.Application, bus: Bus) -> None:
        async def get_segments(request: web.Request) -> web.Response:
            """The current run's splits and rooms against the bests."""
            return json_response(service.book.view(service.engine, bus.clock.monotonic()))

        async def get_practice(request: web.Request) -> web.Response:
            """The practice target and its attempts."""
            return json_response(service.practice.view(bus.clock.monotonic()))

        async def post_practice(request: web.Request) -> web.Response:
            """Practise `{"room": scene}` or `{"boss": name}`; `{"stop": true}`; `{"clear": true}`."""
            body = await read_json(request)
            warnings = set_practice(service, body)
            return json_response({"success": True, "warnings": warnings,
                                  **service.practice.view(bus.clock.monotonic())})

        app.router.add_get("/api/segments", get_segments)
        app.router.add_get("/api/practice", get_practice)
        app.router.add_post("/api/practice", post_practice)

    return install


def set_practice(service: TimerService, body: Any) -> list[str]:
    """Apply a practice request; raises ApiError 400 naming the bad field. Returns warnings."""
    if not isinstance(body, dict):
        raise ApiError(400, "INVALID_PARAMETER", "the body must be a JSON object such as "
                       '{"room": "Tut_03"} or {"boss": "Moss Mother"}')
    unknown = sorted(set(body) - {"room", "boss", "stop", "clear"})
    if unknown:
        raise ApiError(400, "INVALID_PARAMETER",
                       f"{unknown[0]}: unknown field (use room, boss, stop or clear)", parameter=unknown[0])
    world = load_world()
    practice = service.practice
    if body.get("stop") is True:
        practice.set_target(None, None)
        return []
    if body.get("clear") is True and "room" not in body and "boss" not in body:
        practice.clear()
        return []
    room, boss = body.get("room"), body.get("boss")
    if (room is None) == (boss is None):
        raise ApiError(400, "INVALID_PARAMETER", "give exactly one of room or boss")
    field, value = ("room", room) if room is not None else ("boss", boss)
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, "INVALID_PARAMETER", f"{field}: must be a non-empty string", parameter=field)
    value = value.strip()
    warnings: list[str] = []
    if field == "boss":
        record = world.boss_named(value)
        if record is None:
            raise ApiError(400, "INVALID_PARAMETER", f"boss: {value[:60]!r} is not a Silksong boss",
                           parameter="boss")
        value = record.name
    elif world.scene(value) is None:
        warnings.append(f"room {value!r} is not in the world data; practising it anyway")
    practice.set_target(field, value)  # type: ignore[arg-type]
    return warnings
