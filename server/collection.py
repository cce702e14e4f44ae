"""What the bus collects and broadcasts: the `[DataCollection]` switches, changeable at run time."""

from __future__ import annotations

from dataclasses import dataclass

# Which export switch gates which event type (types not listed are always collected).
PLAYER_TYPES = frozenset({"player_update"})
COMBAT_TYPES = frozenset({"combat_damage", "combat_stats", "enemy_killed"})
SCENE_TYPES = frozenset({"scene_transition"})
TIMING_TYPES = frozenset({"timing_update"})
ADVANCED_TYPES = frozenset({"unity_engine_metrics", "detailed_player_state", "bepinex_plugin_info"})


@dataclass
class CollectionPolicy:
    """The live collection settings; `allows` is asked once per published event."""

    update_frequency_hz: int = 10
    export_player_data: bool = True
    export_combat_data: bool = True
    export_scene_data: bool = True
    export_timing_data: bool = True
    advanced_metrics_enabled: bool = False
    _last_player_update: float = float("-inf")

    def allows(self, event_type: str, now: float, thin: bool = True) -> bool:
        """Gate by the export switches, and thin `player_update` to `update_frequency_hz`.

        `thin=False` is for recordings, which hold what a bus already thinned at its own rate.
        """
        if event_type in PLAYER_TYPES:
            if not self.export_player_data:
                return False
            if not thin:
                return True
            # A little slack so a source ticking at exactly the rate is never thinned.
            if now - self._last_player_update < 0.9 / self.update_frequency_hz:
                return False
            self._last_player_update = now
            return True
        if event_type in COMBAT_TYPES:
            return self.export_combat_data
        if event_type in SCENE_TYPES:
            return self.export_scene_data
        if event_type in TIMING_TYPES:
            return self.export_timing_data
        if event_type in ADVANCED_TYPES:
            return self.advanced_metrics_enabled
        return True

    def as_dict(self) -> dict[str, int | bool]:
        """The settings as `/api/status` reports them."""
        return {
            "update_frequency_hz": self.update_frequency_hz,
            "export_player_data": self.export_player_data,
            "export_combat_data": self.export_combat_data,
            "export_scene_data": self.export_scene_data,
            "export_timing_data": self.export_timing_data,
            "advanced_metrics_enabled": self.advanced_metrics_enabled,
        }
