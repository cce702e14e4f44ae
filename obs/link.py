"""The obs-websocket session on one worker thread: the blocking obsws-python side of OBS control.

Threading (obsws-python is blocking and not thread-safe):
- `ObsLink` owns ONE worker thread (a single-thread executor). Every obsws-python call, including
  connecting and disconnecting, runs there, never on the event loop.
- obsws-python's EventClient reads events on its own thread; our callbacks only hand them to the loop
  with `loop.call_soon_threadsafe`, inside try/except (an exception would kill that thread).
- A tiny watcher thread joins the EventClient thread and reports "connection lost" to the loop, so a
  killed OBS is noticed at once, without polling.

The asyncio side (the bus service that uses a link) is `obs/service.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import obsws_python as obsws
from obsws_python.error import OBSSDKError

from . import actions

log = logging.getLogger(__name__)
T = TypeVar("T")

# General | Scenes | Ui: scene changes, studio mode, ExitStarted (obs-websocket event subscription bits).
EVENT_SUBSCRIPTIONS = (1 << 0) | (1 << 2) | (1 << 10)


def quiet_obsws_logging() -> None:
    """obsws-python logs the password at INFO and tracebacks for errors we handle: keep it quiet."""
    lib = logging.getLogger("obsws_python")
    if lib.level == logging.NOTSET:
        lib.setLevel(logging.CRITICAL)
    for name in ("obsws_python.baseclient.ObsClient", "obsws_python.reqs.ReqClient",
                 "obsws_python.events.EventClient"):
        child = logging.getLogger(name)
        if not any(isinstance(f, _NoPasswordFilter) for f in child.filters):
            child.addFilter(_NoPasswordFilter())


class _NoPasswordFilter(logging.Filter):
    """Drop obsws-python records that carry connection parameters (the password), whatever the level."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return "password" not in message.lower()


class ObsAuthError(Exception):
    """OBS rejected the login (wrong or missing password): retrying would not help."""


class ObsUnreachable(Exception):
    """OBS could not be reached (not running, wrong port, timed out)."""


class ObsLink:
    """One obs-websocket session (request + event clients) driven from a single worker thread."""

    def __init__(self, host: str, port: int, password: str, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._password = password
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dxbus-obs")
        self._req: obsws.ReqClient | None = None
        self._events: obsws.EventClient | None = None
        self.on_event: Callable[[str, dict[str, Any]], None] = lambda name, data: None
        self.on_lost: Callable[[], None] = lambda: None
        self.thread_ident: int | None = None

    def __repr__(self) -> str:  # never show the password
        return f"ObsLink(ws://{self.host}:{self.port})"

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the OBS worker thread."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    # -- worker-thread side ----------------------------------------------------------------
    def connect(self, loop: asyncio.AbstractEventLoop) -> dict[str, Any]:
        """Open both clients (worker thread); returns GetVersion. Raises ObsAuthError / ObsUnreachable."""
        self.thread_ident = threading.get_ident()
        self.close()
        params = {"host": self.host, "port": self.port, "password": self._password, "timeout": self.timeout}
        try:
            self._req = obsws.ReqClient(**params)
            self._events = obsws.EventClient(subs=EVENT_SUBSCRIPTIONS, **params)
        except OBSSDKError as exc:
            self.close()
            text = str(exc)
            if "identify" in text or "password" in text:
                raise ObsAuthError("OBS rejected the password") from None
            raise ObsUnreachable(text) from None
        except Exception as exc:  # ConnectionRefusedError, timeouts, websocket errors: all "unreachable"
            self.close()
            raise ObsUnreachable(describe(exc)) from None
        self._events.callback.register(self._callbacks(loop))
        watcher = threading.Thread(target=self._watch, args=(loop, self._events), daemon=True,
                                   name="dxbus-obs-watch")
        watcher.start()
        return self.request("GetVersion") or {}

    def request(self, request_type: str, data: dict[str, Any] | None = None) -> Any:
        """One request (worker thread). OBSSDKRequestError for an OBS error status; other errors mean
        the connection is gone."""
        if self._req is None:
            raise ObsUnreachable("not connected")
        return self._req.send(request_type, data, raw=True)

    def run(self, action: actions.Action) -> str:
        """Perform an action (worker thread)."""
        if self._req is None:
            raise ObsUnreachable("not connected")
        return actions.run(self._req, action)

    def close(self) -> None:
        """Close both clients (worker thread); safe to call twice."""
        req, events = self._req, self._events
        self._req = self._events = None
        for client in (req, events):
            if client is not None:
                with contextlib.suppress(Exception):  # already closed by OBS
                    client.disconnect()

    def _callbacks(self, loop: asyncio.AbstractEventLoop) -> list[Callable[[Any], None]]:
        # obsws-python dispatches by function __name__ (on_<snake_case_event>), so name them exactly.
        def forward(name: str, data: Any) -> None:
            try:
                payload = {k: getattr(data, k) for k in data.attrs()} if data is not None else {}
                loop.call_soon_threadsafe(self.on_event, name, payload)
            except Exception:  # the loop is closed, or odd data: never kill the event thread
                pass

        def on_current_program_scene_changed(data: Any) -> None:
            forward("CurrentProgramSceneChanged", data)

        def on_current_preview_scene_changed(data: Any) -> None:
            forward("CurrentPreviewSceneChanged", data)

        def on_studio_mode_state_changed(data: Any) -> None:
            forward("StudioModeStateChanged", data)

        def on_scene_list_changed(data: Any) -> None:
            forward("SceneListChanged", data)

        def on_exit_started(data: Any) -> None:
            forward("ExitStarted", data)

        return [on_current_program_scene_changed, on_current_preview_scene_changed,
                on_studio_mode_state_changed, on_scene_list_changed, on_exit_started]

    def _watch(self, loop: asyncio.AbstractEventLoop, events: obsws.EventClient) -> None:
        # The EventClient thread ends when the socket closes (OBS quit or crashed, or we closed it).
        events.worker.join()
        if self._events is events:  # not a close we asked for
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self.on_lost)

    # -- loop side -------------------------------------------------------------------------
    async def aclose(self) -> None:
        """Close the session and stop the worker thread."""
        try:
            # A connect attempt to a silent host can hold the worker for the request timeout: do not
            # make the bus's shutdown wait for it (the thread finishes on its own).
            await asyncio.wait_for(self.call(self.close), timeout=1.0)
        except TimeoutError:
            log.debug("OBS worker busy at shutdown; not waiting for it")
        finally:
            self._executor.shutdown(wait=False, cancel_futures=True)




def describe(exc: BaseException) -> str:
    """Short wording of a connection error for a log line or status field."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError | OBSSDKError) and "time" in f"{type(exc).__name__} {exc}".lower():
        return "timed out"
    text = str(exc) or type(exc).__name__
    if "Handshake status" in text:  # something answered HTTP, but not as a WebSocket server
        return f"not an obs-websocket server ({text.split(' -+-+- ')[0]})"
    return f"{type(exc).__name__}: {text}"[:200]

