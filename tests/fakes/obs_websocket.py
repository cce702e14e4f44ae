"""A protocol-level stand-in of obs-websocket v5 for the browser sources Debian's OBS build lacks.

Written from obs-websocket's protocol.md: the server opens with Hello (op 0: obsWebSocketVersion,
rpcVersion 1, no `authentication` when auth is off), the client answers Identify (op 1: rpcVersion),
the server confirms with Identified (op 2: negotiatedRpcVersion); a Request (op 6: requestType,
requestId, requestData) gets a RequestResponse (op 7: requestType, requestId, requestStatus {result,
code (100 = Success, 600 = ResourceNotFound), comment}, responseData). Requests implemented:
GetVersion, GetInputList, GetInputSettings, SetInputSettings (overlay = merge), GetSceneList,
GetSceneItemList, GetSceneItemTransform, SetSceneItemTransform, PressInputPropertiesButton.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web


@dataclass
class FakeObs:
    """Inputs (name -> kind, settings), scenes (name -> source names) and a log of requests."""

    inputs: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    scenes: dict[str, list[str]] = field(default_factory=dict)
    pressed: list[tuple[str, str]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    transforms: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    runner: web.AppRunner | None = None
    port: int = 0

    async def start(self) -> int:
        """Listen on an ephemeral 127.0.0.1 port; returns it."""
        app = web.Application()
        app.router.add_get("/", self._socket)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self.port

    async def stop(self) -> None:
        """Close the server."""
        if self.runner is not None:
            await self.runner.cleanup()

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=("obswebsocket.json",))
        await ws.prepare(request)
        await ws.send_json({"op": 0, "d": {"obsWebSocketVersion": "5.1.0", "rpcVersion": 1}})
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            frame = msg.json()
            if frame.get("op") == 1:
                await ws.send_json({"op": 2, "d": {"negotiatedRpcVersion": 1}})
            elif frame.get("op") == 6:
                d = frame["d"]
                self.requests.append(d["requestType"])
                ok, data = self._answer(d["requestType"], d.get("requestData") or {})
                status = {"result": ok, "code": 100 if ok else 600}
                if not ok:
                    status["comment"] = str(data)
                out: dict[str, Any] = {"requestType": d["requestType"], "requestId": d["requestId"],
                                       "requestStatus": status}
                if ok and data:
                    out["responseData"] = data
                await ws.send_json({"op": 7, "d": out})
        return ws

    def _answer(self, kind: str, data: dict[str, Any]) -> tuple[bool, Any]:
        if kind == "GetVersion":
            return True, {"obsVersion": "30.0.0", "obsWebSocketVersion": "5.1.0", "rpcVersion": 1}
        if kind == "GetInputList":
            return True, {"inputs": [{"inputName": n, "inputKind": k, "unversionedInputKind": k}
                                     for n, (k, _) in self.inputs.items()]}
        if kind in ("GetInputSettings", "SetInputSettings", "PressInputPropertiesButton"):
            name = data.get("inputName")
            if name not in self.inputs:
                return False, f"no input {name!r}"
            input_kind, settings = self.inputs[name]
            if kind == "GetInputSettings":
                return True, {"inputSettings": dict(settings), "inputKind": input_kind}
            if kind == "SetInputSettings":
                new = dict(data["inputSettings"])
                self.inputs[name] = (input_kind, {**settings, **new} if data.get("overlay", True) else new)
                return True, None
            self.pressed.append((name, data["propertyName"]))
            return True, None
        if kind == "GetSceneList":
            return True, {"currentProgramSceneName": next(iter(self.scenes), ""),
                          "scenes": [{"sceneName": s, "sceneIndex": i} for i, s in enumerate(self.scenes)]}
        if kind == "GetSceneItemList":
            scene = data.get("sceneName")
            if scene not in self.scenes:
                return False, f"no scene {scene!r}"
            return True, {"sceneItems": [{"sceneItemId": i + 1, "sourceName": s,
                                          "inputKind": self.inputs.get(s, ("", {}))[0]}
                                         for i, s in enumerate(self.scenes[scene])]}
        if kind in ("GetSceneItemTransform", "SetSceneItemTransform"):
            key = (data.get("sceneName", ""), int(data.get("sceneItemId", 0)))
            if kind == "SetSceneItemTransform":
                self.transforms[key] = {**self.transforms.get(key, {}), **data["sceneItemTransform"]}
                return True, None
            return True, {"sceneItemTransform": self.transforms.get(key, {"scaleX": 1.0, "scaleY": 1.0})}
        return False, f"request {kind} is not in this stand-in"
