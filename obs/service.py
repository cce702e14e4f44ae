"""The OBS service: bus events in, scene switches and source actions out, over obs-websocket v5.

`ObsService` (the bus service) feeds bus events to the `Director` (scene_rules.py), runs the switches it
returns over an `ObsLink` (link.py: obsws-python on one worker thread), supervises the connection
(reconnect with backoff, one clear message per outage, no retry after a rejected password) and
publishes its status as `bus.status_providers["obs"]`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from obsws_python.error import OBSSDKRequestError

from dxbus.backoff import Backoff
from dxbus.clock import SystemClock, utc_iso
from dxbus.facts import Fact
from dxbus.outage import Outage
from dxbus.parts import Part

from . import actions
from .link import ObsAuthError, ObsLink, ObsUnreachable, quiet_obsws_logging
from .link import describe as _describe
from .scene_rules import PAUSE_EVENTS, Director, Fired, Record, RuleSet, Started, Switch, compile_rules
from .settings import ObsSection

if TYPE_CHECKING:
    from dxbus.bus import Bus

log = logging.getLogger(__name__)

# Events that can change which rules apply, or carry the overlay hot-reload signal.
OVERLAY_RELOAD = "overlay_reload"
# Reconnects wait on real time: for a real socket, not for game time (the bus clock may be a test's).
REAL_TIME = SystemClock()


class ObsService:
    """The bus service driving OBS from the rules. Registered by build_bus when `[OBS] Enabled`."""

    name = "obs"

    def __init__(self, bus: Bus, section: ObsSection, link: ObsLink | None = None) -> None:
        self.bus = bus
        self.section = section
        self.clock = bus.clock
        # Rooms and fights come from the bus's one fact deriver; its facts start the named triggers.
        self.rules = RuleSet(compile_rules(section), section.menu_rooms, bus.facts.deriver)
        self._started: dict[int, Started] = {}  # Seq -> triggers its facts started
        self.director = Director(self.rules, section)
        self.dry_run = section.dry_run
        self.link = link or ObsLink(section.host, section.port, section.password,
                                    section.request_timeout_seconds)
        self._rule_events = {r.on for r in self.rules.rules if r.instant}
        self._kick = asyncio.Event()
        self._lost = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []  # the long-running ones
        self._helpers: set[asyncio.Future[None]] = set()  # short checks after OBS events
        self._refresh_queued = False
        self._actions: asyncio.Queue[actions.Action] = asyncio.Queue(maxsize=256)
        self.connected = False
        self.error: str | None = None
        self.version: dict[str, Any] = {}
        self.program_scene: str | None = None
        self.preview_scene: str | None = None
        self.studio_mode = False
        self.scenes: list[str] = []
        self.missing_scenes: list[str] = []
        self._warned_missing: set[str] = set()
        self.action_log: list[dict[str, Any]] = []

    # -- service ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Listen to the bus and start the driver; connect to OBS in the background (never blocks)."""
        quiet_obsws_logging()
        self.link.on_event = self._on_obs_event
        self.link.on_lost = self._lost.set
        self._tasks.append(asyncio.create_task(self._drive(), name="obs-driver"))
        self._tasks.append(asyncio.create_task(self._run_actions(), name="obs-actions"))
        if self.dry_run:
            self.director.on_connected(None, self.clock.monotonic())
            log.info("OBS dry-run: %d rule(s) run on game events; OBS is not contacted",
                     len(self.rules.rules))
        else:
            self._tasks.append(asyncio.create_task(self._supervise(), name="obs-connection"))

    async def stop(self) -> None:
        """Stop the tasks and close the OBS session."""
        for task in self._tasks:
            task.cancel()
        for helper in list(self._helpers):
            helper.cancel()
        await asyncio.gather(*self._tasks, *self._helpers, return_exceptions=True)
        self._tasks.clear()
        await self.link.aclose()

    # -- bus events ------------------------------------------------------------------------
    def on_fact(self, fact: Fact) -> None:
        """Fact listener: advance the rules' named triggers."""
        # Facts come before the hub hands their event to this service: keep what they started.
        started = self.rules.advance_fact(fact)
        if started:
            self._started.setdefault(fact.seq, {}).update(started)

    def on_bus_event(self, event: Any) -> None:
        """Hub listener: hand the event to the director (never raises into the hub)."""
        try:
            self._handle_bus_event(event)
        except Exception:  # a bug here must not disturb the hub or the other listeners
            log.exception("OBS: handling event #%s (%s) failed", event.seq, event.type)

    def _handle_bus_event(self, event: Any) -> None:
        etype = event.type
        if etype == OVERLAY_RELOAD:
            # A save often touches several files: one refresh waiting in the queue covers them all.
            if self.section.refresh_browser_sources and not self._refresh_queued:
                self._refresh_queued = True
                self._queue(actions.RefreshBrowserSources(self._browser_url()))
            return
        started = self._started.pop(event.seq, None)
        self._started.clear()  # nothing older is waiting for its event any more
        if started is None and etype not in PAUSE_EVENTS and etype not in self._rule_events:
            return
        fired = self.director.on_event(etype, event.data, self.clock.monotonic(), event.seq, started)
        for item in fired:
            self._run_fired(item)
        self._kick.set()

    def _run_fired(self, fired: Fired) -> None:
        for action in actions.actions_for(fired, self.program_scene):
            self._queue(action)

    def _queue(self, action: actions.Action) -> None:
        try:
            self._actions.put_nowait(action)
        except asyncio.QueueFull:
            log.warning("OBS: too many actions waiting; dropped: %s", action.describe())

    def _browser_url(self) -> str:
        if self.section.browser_source_url:
            return self.section.browser_source_url
        port = self.bus.ports.get("http", self.bus.config.http.port)
        return f":{port}/overlays"

    # -- driver: decisions -> switches -----------------------------------------------------
    async def _drive(self) -> None:
        while True:
            now = self.clock.monotonic()
            self.director.reevaluate(now)
            switch = self.director.step(now)
            if switch is not None:
                await self._switch(switch)
                continue
            self._kick.clear()
            wake = self.director.next_wakeup(now)
            waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(self._kick.wait())]
            if wake is not None:
                waiters.append(asyncio.ensure_future(self.clock.sleep(wake - now)))
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waiters:
                    w.cancel()

    async def _switch(self, switch: Switch) -> None:
        stamp = utc_iso(self.clock.time())
        if self.dry_run:
            self.director.done(switch, self.clock.monotonic(), dry_run=True)
            log.info("OBS dry-run: would switch to %r: %s at %s", switch.scene, switch.reason, stamp)
            return
        preview = self._controls_preview()
        try:
            await self.link.call(self.link.run, actions.SetScene(switch.scene, preview))
        except OBSSDKRequestError as exc:
            why = "OBS has no such scene" if exc.code == 600 else f"OBS error {exc.code}"
            self.director.done(switch, self.clock.monotonic(), error=why)
            # A scene already reported missing at connect time is not warned about again per switch.
            known = exc.code == 600 and switch.scene in self._warned_missing
            log.log(logging.DEBUG if known else logging.WARNING, "OBS: could not switch to %r (%s): %s",
                    switch.scene, why, switch.reason)
            return
        except Exception as exc:
            self.director.done(switch, self.clock.monotonic(), error=f"connection lost ({_describe(exc)})")
            self._lost.set()
            return
        self.director.done(switch, self.clock.monotonic())
        if preview:
            self.preview_scene = switch.scene
        else:
            self.program_scene = switch.scene
        log.info("OBS: switched %s to %r: %s at %s", "preview" if preview else "program", switch.scene,
                 switch.reason, stamp)

    async def _run_actions(self) -> None:
        while True:
            action = await self._actions.get()
            if isinstance(action, actions.RefreshBrowserSources):
                self._refresh_queued = False
            if self.dry_run:
                log.info("OBS dry-run: would %s", action.describe())
                continue
            if not self.connected:
                log.debug("OBS not connected; skipped: %s", action.describe())
                continue
            try:
                done = await self.link.call(self.link.run, action)
                log.info("OBS: %s", done)
                self._remember_action(done)
            except OBSSDKRequestError as exc:
                log.warning("OBS: could not %s (OBS error %s)", action.describe(), exc.code)
                self._remember_action(f"failed: {action.describe()} (OBS error {exc.code})")
            except ValueError as exc:
                log.warning("OBS: could not %s: %s", action.describe(), exc)
            except Exception as exc:
                log.debug("OBS action failed, connection lost: %s", _describe(exc))
                self._lost.set()

    def _remember_action(self, text: str) -> None:
        self.action_log = [*self.action_log[-9:], {"at": utc_iso(self.clock.time()), "action": text}]

    # -- connection ------------------------------------------------------------------------
    async def _supervise(self) -> None:
        loop = asyncio.get_running_loop()
        # One OBS on this machine: no crowd to spread, so exact waits (docs/reconnect.md).
        backoff = Backoff(self.section.reconnect_min_seconds, self.section.reconnect_max_seconds, jitter=0)
        outage = Outage(log)
        while True:
            try:
                self.version = await self.link.call(self.link.connect, loop)
            except ObsAuthError:
                self.error = (f"OBS at {self.link.url} rejected the password: set [OBS] Password or "
                              "--obs-password to the one in OBS > Tools > WebSocket Server Settings. "
                              "Not retrying; the bus keeps running without OBS.")
                log.error("%s", self.error)
                return
            except ObsUnreachable as exc:
                self.error = f"OBS not reachable at {self.link.url} ({exc})"
                outage.failed(self.error, detail=f"retrying in the background (backoff up to "
                              f"{backoff.maximum:g} s), the bus keeps serving")
                # Real time on purpose: this waits for a real socket, not for game time.
                await backoff.wait(REAL_TIME)
                continue
            backoff.reset()
            outage.recovered()
            self._lost.clear()
            try:
                await self._on_connected()
            except OBSSDKRequestError as exc:
                log.warning("OBS: start-up sync failed (OBS error %s)", exc.code)
            except Exception as exc:
                log.debug("OBS: lost during sync: %s", _describe(exc))
                self._lost.set()
            await self._lost.wait()
            self.connected = False
            self.director.on_disconnected()
            self.error = f"lost the connection to OBS at {self.link.url}; reconnecting"
            log.warning("OBS: %s", self.error)
            await self.link.call(self.link.close)

    async def _on_connected(self) -> None:
        studio = await self.link.call(self.link.request, "GetStudioModeEnabled") or {}
        self.studio_mode = bool(studio.get("studioModeEnabled"))
        await self._sync_scenes()
        self.connected = True
        self.error = None
        log.info("OBS: connected to OBS %s (obs-websocket %s) at %s; program scene %r%s",
                 self.version.get("obsVersion", "?"), self.version.get("obsWebSocketVersion", "?"),
                 self.link.url, self.program_scene, ", studio mode on" if self.studio_mode else "")
        self.director.on_connected(self._controlled_scene(), self.clock.monotonic())
        self._kick.set()

    async def _sync_scenes(self) -> None:
        listing = await self.link.call(self.link.request, "GetSceneList") or {}
        self.scenes = [s.get("sceneName", "") for s in listing.get("scenes", [])]
        self.program_scene = listing.get("currentProgramSceneName")
        self.preview_scene = listing.get("currentPreviewSceneName")
        self._check_missing()

    def _controls_preview(self) -> bool:
        return self.studio_mode and self.section.studio_mode == "preview"

    def _controlled_scene(self) -> str | None:
        return self.preview_scene if self._controls_preview() else self.program_scene

    def _check_missing(self) -> None:
        have = set(self.scenes)
        missing: dict[str, list[int]] = {}
        for rule in self.rules.rules:
            if rule.scene and rule.scene not in have:
                missing.setdefault(rule.scene, []).append(rule.index)
        self.missing_scenes = sorted(missing)
        new = [name for name in self.missing_scenes if name not in self._warned_missing]
        if new:
            self._warned_missing.update(new)
            detail = ", ".join(f"{name!r} (rule {', '.join(map(str, missing[name]))})" for name in new)
            log.warning("OBS has no scene %s: those rules cannot switch until the scene is created in OBS",
                        detail)

    def _on_obs_event(self, name: str, data: dict[str, Any]) -> None:
        now = self.clock.monotonic()
        log.debug("OBS event %s %s", name, {k: v for k, v in data.items() if k != "scenes"})
        if name == "ExitStarted":
            self._lost.set()
            return
        if name == "SceneListChanged":
            self.scenes = [s.get("sceneName", "") for s in data.get("scenes", []) if isinstance(s, dict)]
            was_missing = set(self.missing_scenes)
            self._check_missing()
            if was_missing - set(self.missing_scenes):  # a scene a rule needs was just created
                self.director.reapply(now, "its scene was created in OBS")
                self._kick.set()
            return
        if name == "StudioModeStateChanged":
            self.studio_mode = bool(data.get("studio_mode_enabled"))
            self._spawn(self._resync())
            return
        scene = data.get("scene_name")
        if not isinstance(scene, str):
            return
        preview = self._controls_preview()
        controlled = "CurrentPreviewSceneChanged" if preview else "CurrentProgramSceneChanged"
        if name == "CurrentProgramSceneChanged":
            self.program_scene = scene
        else:
            self.preview_scene = scene
        if name != controlled:
            return
        if self.director.expects(scene, now):
            self.director.on_obs_scene(scene, now)
            return
        # Not ours. OBS 29 sometimes reports the scene a Cut transition leaves rather than the one it
        # enters, so ask OBS what is live before calling it a manual change.
        self._spawn(self._check_manual(scene, preview))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._helpers.add(task)
        task.add_done_callback(self._helpers.discard)

    async def _check_manual(self, scene: str, preview: bool) -> None:
        request = "GetCurrentPreviewScene" if preview else "GetCurrentProgramScene"
        try:
            reply = await self.link.call(self.link.request, request) or {}
        except Exception as exc:
            log.debug("OBS: could not check a scene change: %s", _describe(exc))
            return
        actual = reply.get("currentPreviewSceneName" if preview else "currentProgramSceneName")
        if preview:
            self.preview_scene = actual
        else:
            self.program_scene = actual
        if actual != scene:
            log.debug("OBS: ignored a stale scene event for %r (OBS shows %r)", scene, actual)
            return
        if self.director.on_obs_scene(scene, self.clock.monotonic()):
            record = self.director.history[-1]
            log.info("OBS: %r chosen by hand in OBS: %s", scene, record.outcome)
        self._kick.set()

    async def _resync(self) -> None:
        try:
            await self._sync_scenes()
        except Exception as exc:
            log.debug("OBS resync failed: %s", _describe(exc))
            return
        self.director.live = self._controlled_scene()
        self._kick.set()

    # -- status ----------------------------------------------------------------------------
    def _wall(self, mono: float) -> str:
        return utc_iso(self.clock.time() - (self.clock.monotonic() - mono))

    def _record(self, r: Record) -> dict[str, Any]:
        return {"at": self._wall(r.at), "scene": r.scene, "reason": r.reason, "outcome": r.outcome}

    def status(self) -> dict[str, Any]:
        """The `obs` entry of /api/status (and the dashboard). Never contains the password."""
        now = self.clock.monotonic()
        d = self.director
        paused = d.paused_until > now
        return {
            "enabled": True,
            "dry_run": self.dry_run,
            "url": self.link.url,
            "password_set": bool(self.section.password),
            "connected": self.connected,
            "obs_version": self.version.get("obsVersion"),
            "websocket_version": self.version.get("obsWebSocketVersion"),
            "program_scene": self.program_scene,
            "preview_scene": self.preview_scene,
            "studio_mode": self.studio_mode,
            "controls": "preview" if self._controls_preview() else "program",
            "paused_until": self._wall(d.paused_until) if paused else None,
            "pending": None if d.pending is None else {
                "scene": d.pending.scene, "reason": d.pending.reason, "due": self._wall(d.pending.due)},
            "return_to": d.return_target,
            "rules": len(self.rules.rules),
            "rule_errors": self.section.rule_errors,
            "missing_scenes": self.missing_scenes,
            "last_switches": [self._record(r) for r in reversed(d.history)],
            "last_actions": list(reversed(self.action_log)),
            "error": self.error,
        }


def obs_part(bus: Bus) -> Part:
    """The OBS service when `[OBS] Enabled` (or DryRun); otherwise only its status, saying it is off."""
    section: ObsSection = bus.config.obs
    for error in section.rule_errors:
        log.error("%s", error)
    if not (section.enabled or section.dry_run):
        return Part("obs", status={"obs": lambda: {"enabled": False}})
    service = ObsService(bus, section)
    return Part("obs", services=[service], listeners=[service.on_bus_event],
                fact_listeners=[service.on_fact], status={"obs": service.status})
