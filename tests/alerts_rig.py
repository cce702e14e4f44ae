"""A hub-level rig for alert tests: a real Bus (hub + session state + alert service), no ports,
a ManualClock, and a record of every `alert` event published."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dxbus.alerts.install import alerts_part
from dxbus.bus import Bus
from dxbus.clock import ManualClock, settle
from dxbus.config import load_config


class Rig:
    """`await rig.start()`, then `rig.emit(...)`, `await rig.advance(s)`, inspect `rig.shown`."""

    def __init__(self, tmp_path: Path, alerts: dict[str, Any] | None = None) -> None:
        self.clock = ManualClock()
        config = load_config(None, {"State": {"File": str(tmp_path / "state.json")},
                                    "Alerts": alerts or {}})
        self.bus = Bus(config, clock=self.clock, base_dir=tmp_path)
        part, self.service = alerts_part(self.bus)  # as build_bus plugs it: listeners, routes, status
        self.bus.plug(part)
        # (monotonic time shown, Data) of every alert event, in order.
        self.shown: list[tuple[float, dict[str, Any]]] = []
        self.bus.hub.add_listener(self._record)
        self.bus.hub.add_test_listener(self._record)  # test alerts too (they only reach previews)

    def _record(self, event: Any) -> None:
        if event.type == "alert":
            self.shown.append((self.clock.monotonic(), event.data))

    async def start(self) -> Rig:
        await self.bus.facts.start()  # settles a kill when its pairing window ends
        await self.service.start()
        return self

    async def stop(self) -> None:
        await self.service.stop()
        await self.bus.facts.stop()

    async def emit(self, event_type: str, **data: Any) -> None:
        """Publish an event and let the queue react."""
        self.bus.hub.emit(event_type, data)
        await settle()

    async def advance(self, seconds: float) -> None:
        await self.clock.advance(seconds)

    @property
    def messages(self) -> list[str]:
        return [data["message"] for _, data in self.shown]

    @property
    def rules(self) -> list[str]:
        return [data["rule"] for _, data in self.shown]


# Detector sounds etc. stay, but these switch off every detector for rule-only tests.
ALL_DETECTORS_OFF = {name: {"Enabled": False} for name in (
    "BossDefeated", "PerfectRoom", "SpeedRoom", "Death", "LowHealth", "NewArea", "AbilityObtained",
    "NoDamageStreak")}
