"""The doctor on the dashboard: `GET /api/obs/doctor` looks, `POST /api/obs/doctor/fix` fixes.

Both talk to OBS through obs-websocket ([OBS] Host, Port, Password) in a worker thread, so a slow
or absent OBS never stalls the bus; an unreachable OBS is a 503 that says where it looked.
`POST /api/obs/doctor/fix` takes `{"sources": [names]}` (optional: every fixable source) and answers
the report after the fixes, each finding marked `fixed`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiohttp import web

from dxbus.http_api import read_body, read_json
from dxbus.http_errors import ApiError, json_response
from dxbus.parts import Part

from .doctor import ObsUnreachable, check, facts_for

if TYPE_CHECKING:
    from dxbus.bus import Bus


def doctor_part(bus: Bus) -> Part:
    """The doctor's two routes on the 8080 app."""

    async def run(fix: bool, only: list[str] | None) -> web.Response:
        facts = facts_for(bus.config, bus.base_dir, bus.ports.get("http"))
        try:
            report = await asyncio.to_thread(check, bus.config, facts, fix, only)
        except ObsUnreachable as exc:
            raise ApiError(503, "OBS_UNREACHABLE", str(exc)) from None
        return json_response(report.to_json())

    async def look(request: web.Request) -> web.Response:
        return await run(False, None)

    async def fix(request: web.Request) -> web.Response:
        body = await read_json(request) if (await read_body(request)).strip() else {}
        sources = body.get("sources") if isinstance(body, dict) else None
        names_ok = isinstance(sources, list) and all(isinstance(s, str) for s in sources)
        if sources is not None and not names_ok:
            raise ApiError(400, "INVALID_PARAMETER",
                           'send {"sources": ["<OBS source name>", ...]} or nothing', parameter="sources")
        return await run(True, sources)

    def install(app: web.Application, _bus: Bus) -> None:
        app.router.add_get("/api/obs/doctor", look)
        app.router.add_post("/api/obs/doctor/fix", fix)

    return Part("obs_doctor", routes=[install])


__all__ = ["doctor_part"]
