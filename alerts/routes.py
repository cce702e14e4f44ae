"""HTTP routes of the alert engine on the 8080 app.

- `GET /api/alerts`: the alert on screen, the queue (show order) and recent history.
- `POST /api/alerts/test` `{"rule": "death"}` (optional `"data": {...}` fields): fire a test alert now,
  through its own queue, as a test event (only previews that asked show it; `GET /api/alerts` lists it
  under `test`).
- `POST /api/alerts/pause` `{"paused": true|false}`: hold the queue or let it run again.
- `POST /api/alerts/clear`: forget every waiting alert.
- `POST /api/alerts/skip`: end the alert on screen now; the next one follows after the gap.
- `POST /api/alerts/replay` `{"count": 1}`: queue the last shown alert(s) again.
- `GET /static/user-sounds/{name}`: a file from the user's sounds folder (plain names only).
- `GET /static/user-images/{name}`: a picture from the user's images folder (plain names, image types).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from dxbus.http_api import read_body, read_json
from dxbus.http_errors import ApiError, json_response

from .service import AlertService

if TYPE_CHECKING:
    from dxbus.bus import Bus

SERVICE_KEY = web.AppKey("dxbus_alerts", AlertService)


def install_routes(service: AlertService) -> Any:
    """A route installer `(app, bus) -> None` for the alerts part."""

    def install(app: web.Application, bus: Bus) -> None:
        """Add the routes (and the service, for the handlers) to the 8080 app."""
        app[SERVICE_KEY] = service
        app.router.add_get("/api/alerts", get_alerts)
        app.router.add_post("/api/alerts/test", post_test)
        app.router.add_post("/api/alerts/pause", post_pause)
        app.router.add_post("/api/alerts/clear", post_clear)
        app.router.add_post("/api/alerts/skip", post_skip)
        app.router.add_post("/api/alerts/replay", post_replay)
        # Under /static/ because overlays only play sounds from there; registered before the
        # overlays' catch-all `/static/{path}` (build_bus installs alerts first), so it wins.
        app.router.add_get("/static/user-sounds/{name}", get_sound)
        app.router.add_get("/static/user-images/{name}", get_image)

    return install


async def get_alerts(request: web.Request) -> web.Response:
    """`GET /api/alerts`."""
    return json_response(request.app[SERVICE_KEY].status())


async def post_test(request: web.Request) -> web.Response:
    """`POST /api/alerts/test`: `{"rule": name, "data": {...}?}` -> 200 with the queued alert."""
    service = request.app[SERVICE_KEY]
    body = await read_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("rule"), str):
        raise ApiError(400, "INVALID_PARAMETER", 'send {"rule": "<rule name>"}', parameter="rule")
    data = body.get("data")
    if data is not None and not isinstance(data, dict):
        raise ApiError(400, "INVALID_PARAMETER", "data must be a JSON object", parameter="data")
    try:
        outcome, alert = service.fire_test(body["rule"], data)
    except KeyError:
        names = ", ".join(service.specs)
        raise ApiError(404, "UNKNOWN_RULE", f"no alert rule named {body['rule'][:64]!r} (rules: {names})",
                       parameter="rule") from None
    return json_response({"success": outcome in ("queued", "merged"), "outcome": outcome,
                          "alert": alert.payload()})


async def post_pause(request: web.Request) -> web.Response:
    """`POST /api/alerts/pause` `{"paused": bool}`: the queue's state after the change."""
    body = await read_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("paused"), bool):
        raise ApiError(400, "INVALID_PARAMETER", 'send {"paused": true} or {"paused": false}',
                       parameter="paused")
    service = request.app[SERVICE_KEY]
    queue = service.queue
    queue.set_paused(body["paused"])
    service.test_queue.set_paused(body["paused"])  # the operator's hold covers the previews too
    return json_response({"success": True, "paused": queue.paused, "queued": len(queue.pending)})


async def post_clear(request: web.Request) -> web.Response:
    """`POST /api/alerts/clear`: drop the waiting alerts (the one on screen finishes)."""
    service = request.app[SERVICE_KEY]
    cleared = service.queue.clear() + service.test_queue.clear()
    return json_response({"success": True, "cleared": cleared})


async def post_skip(request: web.Request) -> web.Response:
    """`POST /api/alerts/skip`: end the alert on screen (stream and previews); says which it was."""
    service = request.app[SERVICE_KEY]
    skipped = [a.payload() for a in (service.queue.skip(), service.test_queue.skip()) if a is not None]
    return json_response({"success": True, "skipped": skipped, "queued": len(service.queue.pending)})


async def post_replay(request: web.Request) -> web.Response:
    """`POST /api/alerts/replay` `{"count": n}` (default 1): the stream's last n shown alerts, again."""
    service = request.app[SERVICE_KEY]
    raw = await read_body(request)
    body = await read_json(request) if raw.strip() else {}  # an empty body means one
    limit = service.queue.shown.maxlen or 1
    count = body.get("count", 1) if isinstance(body, dict) else None
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= limit:
        raise ApiError(400, "INVALID_PARAMETER", f'send {{"count": n}} with n from 1 to {limit}',
                       parameter="count")
    again = service.queue.replay(count)
    return json_response({"success": bool(again), "replayed": [a.payload() for a in again],
                          "queued": len(service.queue.pending)})


async def get_image(request: web.Request) -> web.StreamResponse:
    """A picture from the user's images folder; anything else (traversal, missing, not an image) is a 404."""
    service = request.app[SERVICE_KEY]
    path = service.images.user_file(request.match_info["name"])
    if path is None:
        raise ApiError(404, "NOT_FOUND", "no such image in the images folder")
    return web.FileResponse(path, headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})


async def get_sound(request: web.Request) -> web.StreamResponse:
    """A sound from the user's folder; anything else (traversal, missing, not audio) is a 404."""
    service = request.app[SERVICE_KEY]
    path = service.sounds.user_file(request.match_info["name"])
    if path is None:
        raise ApiError(404, "NOT_FOUND", "no such sound in the sounds folder")
    return web.FileResponse(path, headers={"Cache-Control": "no-cache"})
