"""The alert service: game facts -> detectors, hub events -> custom rules; rendered alerts -> the queue.

Registered in `build_bus`; detectors read `bus.facts` (one kill is one kill here as everywhere),
custom rules match raw events' `Data`; the queue publishes `alert` events back on the bus
(see `queue.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dxbus.config import ConfigError
from dxbus.events import TEST, Event
from dxbus.facts import Fact
from dxbus.text_templates import render

from .conditions import all_match
from .config import AlertSpec, AlertsSection, Rule, Variation
from .detectors import SAMPLES, DetectorSet, Trigger, WorldView
from .images import ImageLibrary, ImageMissing
from .queue import Alert, AlertQueue
from .sounds import SoundLibrary, SoundMissing

if TYPE_CHECKING:
    from dxbus.bus import Bus

log = logging.getLogger(__name__)

# Published when the operator ends the alert on screen early (`POST /api/alerts/skip`): `{"id", ...}`.
END_EVENT = "alert_end"

# An alert is a banner: event text rendered into it (a long custom string) is cut here.
MAX_MESSAGE_CHARS = 500
MAX_TITLE_CHARS = 120
# The built-in icons (alerts/config.py ICONS), served from the package's static folder.
ICON_PREFIX = "/static/alerts/icons/"


def _state_of(bus: Bus) -> dict[str, Any]:
    """The session state snapshot ({} if it fails: an alert never waits for a broken state)."""
    try:
        return dict(bus.state.snapshot())
    except Exception:
        log.exception("session state snapshot failed")
        return {}


class AlertService:
    """Turns game events into queued alerts; `fire_test(name)` fires one by hand."""

    name = "alerts"

    def __init__(self, bus: Bus, config: AlertsSection | None = None,
                 world: WorldView | None = None) -> None:
        self.bus = bus
        self.config = config or bus.config.alerts
        self.sounds = SoundLibrary(bus.path(self.config.sounds_directory))
        self.images = ImageLibrary(bus.path(self.config.images_directory))
        self.specs: dict[str, AlertSpec] = self.config.specs()
        self._sound_urls = self._check_sounds()
        self._image_urls = self._check_images()
        self.detectors = DetectorSet(self.config.detectors, bus.facts.deriver, world)
        self.rules_by_event: dict[str, list[Rule]] = {}
        for rule in self.config.rules:
            self.rules_by_event.setdefault(rule.event, []).append(rule)
        self.queue = AlertQueue(bus.clock, self._publish, self.config.gap_seconds,
                                self.config.max_queue, self.config.history_size,
                                publish_end=self._publish_end)
        # Test alerts (`fire_test`) are paced apart and published as test events: they reach the
        # previews that asked, never the stream's alerts, the text files, or a real alert's slot.
        self.test_queue = AlertQueue(bus.clock, self._publish_test, self.config.gap_seconds,
                                     self.config.max_queue, self.config.history_size,
                                     publish_end=self._publish_test_end)

    def _check_sounds(self) -> dict[str, str]:
        """Resolve every configured sound now, so a missing file stops start-up, naming the key."""
        return self._check_files("Sound", lambda spec: spec.sound, self.sounds.url, SoundMissing)

    def _check_images(self) -> dict[str, str]:
        """Resolve every configured picture now, so a missing file stops start-up, naming the key."""
        return self._check_files("Image", lambda spec: spec.image, self.images.url, ImageMissing)

    def _check_files(self, key: str, named: Callable[[Any], str], url: Callable[[str], str],
                     missing: type[ValueError]) -> dict[str, str]:
        """Every file name the enabled rules and their variations give under `key`, to its URL."""
        urls: dict[str, str] = {}
        for name, spec in self.specs.items():
            if not spec.enabled:
                continue
            choices = [(key, named(spec))] + [
                (f"Variations.{i}.{key}", named(v)) for i, v in enumerate(spec.variations) if named(v)]
            for where_key, file_name in choices:
                try:
                    urls[file_name] = url(file_name)
                except missing as exc:
                    where = self._where(name, spec)
                    raise ConfigError(f"{where} {where_key} = {file_name!r}: {exc}") from None
        return urls

    def _where(self, name: str, spec: AlertSpec) -> str:
        if isinstance(spec, Rule):
            return f"[Alerts] rule {name!r}"
        return f"[Alerts] Detectors.{type(spec).__name__}"

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        """Seed detectors from the (loaded) session state, start the queues."""
        self.detectors.seed(_state_of(self.bus))
        self.queue.start()
        self.test_queue.start()

    async def stop(self) -> None:
        """Stop pacing."""
        await self.queue.stop()
        await self.test_queue.stop()

    # -- events --------------------------------------------------------------------------------
    def on_fact(self, fact: Fact) -> None:
        """Fact listener: run the detectors, queue what they trigger."""
        for trigger in self.detectors.on_fact(fact):
            self.fire(trigger)

    def on_event(self, event: Event) -> None:
        """Hub listener: run the custom rules, queue what they trigger."""
        if event.type == "alert":
            return
        for rule in self.rules_by_event.get(event.type, ()):
            if rule.enabled and all_match(rule.conditions, event.data):
                self.fire(Trigger(rule.name, event.data, event))

    def fire(self, trigger: Trigger, test: bool = False) -> tuple[str, Alert]:
        """Render the trigger's alert and offer it to the queue; returns (what happened, alert)."""
        spec = self.specs[trigger.rule]
        is_rule = isinstance(spec, Rule)
        variation = self._variation(spec, trigger.fields)
        pick = _Picker(spec, variation)
        state = _state_of(self.bus)
        event = trigger.event
        context: dict[str, Any] = {
            **state, "state": state, "rule": trigger.rule, "test": test,
            "data": event.data if event is not None else (trigger.fields if is_rule else {}),
            "event": ({"type": event.type, "seq": event.seq, "timestamp": event.timestamp}
                      if event is not None else None),
        }
        if not is_rule:
            context.update(trigger.fields)
        message_src, merge_src = pick("message"), pick("merge_message")
        message = _clip(render(message_src, {**context, "count": 1}, fallback=trigger.rule))
        title_src = pick("title")
        if title_src is None:
            title = _words(trigger.rule)
        else:
            title = _clip(render(title_src, {**context, "count": 1}, fallback=""), MAX_TITLE_CHARS)

        def remerge(count: int) -> str:
            source = merge_src or message_src
            text = _clip(render(source, {**context, "count": count}, fallback=trigger.rule))
            return text if merge_src else f"{text} (\u00d7{count})"

        sound, icon = pick("sound"), pick("icon")
        alert = Alert(
            rule=trigger.rule, title=title, message=message, sound=self._sound_urls.get(sound, ""),
            icon=f"{ICON_PREFIX}{icon}.svg" if icon else "", image=self._image_urls.get(pick("image"), ""),
            volume=pick("volume") * self.config.master_volume, duration=pick("duration"),
            style=pick("style"), priority=pick("priority"), stale=spec.stale,
            stale_after=spec.stale_after, cooldown=spec.cooldown, test=test, remerge=remerge)
        return (self.test_queue if test else self.queue).offer(alert), alert

    @staticmethod
    def _variation(spec: AlertSpec, fields: dict[str, Any]) -> Variation | None:
        for variation in spec.variations:
            if all_match(variation.conditions, fields):
                return variation
        return None

    def _publish(self, data: dict[str, Any]) -> None:
        self.bus.hub.emit("alert", data)

    def _publish_test(self, data: dict[str, Any]) -> None:
        self.bus.hub.emit("alert", data, origin=TEST)

    def _publish_end(self, data: dict[str, Any]) -> None:
        self.bus.hub.emit(END_EVENT, data)

    def _publish_test_end(self, data: dict[str, Any]) -> None:
        self.bus.hub.emit(END_EVENT, data, origin=TEST)

    # -- operator ------------------------------------------------------------------------------
    def fire_test(self, name: str, data: dict[str, Any] | None = None) -> tuple[str, Alert]:
        """Fire an alert by rule name with sample (or given) fields; cooldowns do not apply.

        Raises KeyError for an unknown rule name.
        """
        key = _find(name, self.specs)
        spec = self.specs[key]
        if isinstance(spec, Rule):
            latest = self.bus.hub.latest(spec.event)
            fields = data if data is not None else (dict(latest.data) if latest else {})
        else:
            fields = {**SAMPLES.get(key, {}), **(data or {})}
        return self.fire(Trigger(key, fields, None), test=True)

    def rule_list(self) -> list[dict[str, Any]]:
        """Every detector and rule with what it listens to."""
        out = []
        for name, spec in self.specs.items():
            kind = "rule" if isinstance(spec, Rule) else "detector"
            entry: dict[str, Any] = {"name": name, "kind": kind, "enabled": spec.enabled,
                                     "priority": spec.priority, "sound": self._sound_urls.get(spec.sound, "")}
            if isinstance(spec, Rule):
                entry["event"] = spec.event
            out.append(entry)
        return out

    def status(self) -> dict[str, Any]:
        """`GET /api/alerts`: queue, current alert, history and rules."""
        return {"enabled": self.config.enabled, **self.queue.snapshot(), "rules": self.rule_list(),
                "test": self.test_queue.snapshot()}

    def summary(self) -> dict[str, Any]:
        """A short line for `/api/status`."""
        return {"enabled": self.config.enabled, "queued": len(self.queue.pending),
                "paused": self.queue.paused,
                "showing": self.queue.current.rule if self.queue.current else None,
                # What Replay would show again (the stream's last shown alert), or None.
                "last_shown": self.queue.shown[-1].rule if self.queue.shown else None,
                "rules": list(self.specs)}


def _clip(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _words(name: str) -> str:
    """A rule's name as a title: `big_hit` -> "Big hit"."""
    text = name.replace("_", " ").replace("-", " ").strip()
    return text[:1].upper() + text[1:]


def _find(name: str, specs: dict[str, AlertSpec]) -> str:
    """Accept `death`, `Death` or `BossDefeated` for the detector `boss_defeated`."""
    if name in specs:
        return name
    folded = name.replace("-", "_").casefold()
    for key in specs:
        if key.casefold() == folded or key.replace("_", "").casefold() == folded.replace("_", ""):
            return key
    raise KeyError(name)


class _Picker:
    """A field from the matching variation if it sets one, else from the spec."""

    def __init__(self, spec: AlertSpec, variation: Variation | None) -> None:
        self.spec, self.variation = spec, variation

    def __call__(self, key: str) -> Any:
        if self.variation is not None:
            value = getattr(self.variation, key, None)
            if value is not None:
                return value
        return getattr(self.spec, key)
