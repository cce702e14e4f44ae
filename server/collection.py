"""What the bus collects and broadcasts: the `[DataCollection]` switches, changeable at run time, and
the `UpdateFrequencyHz` thinning of high-rate state (a throttle that keeps the latest value)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .events import Draft

# A source ticking at exactly the rate is never thinned: a sample this early in its interval still counts.
SLACK = 0.1

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
    _thinners: dict[str, Thinner] = field(default_factory=dict, repr=False)

    @property
    def interval(self) -> float:
        """Seconds between two thinned samples."""
        return 1.0 / self.update_frequency_hz

    def thinner(self, event_type: str) -> Thinner | None:
        """The throttle for a thinned type (`player_update`), or None for a type that is not thinned."""
        if event_type not in PLAYER_TYPES:
            return None
        thinner = self._thinners.get(event_type)
        if thinner is None:
            thinner = self._thinners[event_type] = Thinner()
        return thinner

    def allows(self, event_type: str) -> bool:
        """Gate by the export switches (thinning is `thinner`'s)."""
        if event_type in PLAYER_TYPES:
            return self.export_player_data
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


def sample_time(draft: Draft, arrival: float) -> float:
    """When a sample was taken: its own Timestamp if it has one, else its arrival (epoch seconds)."""
    if draft.timestamp is None:
        return arrival
    # Validated drafts hold the normalized form (`...T12:00:01.123Z`).
    return datetime.fromisoformat(draft.timestamp.replace("Z", "+00:00")).timestamp()


@dataclass
class Thinner:
    """Leading and trailing edge throttle for one state type, in the samples' own time.

    The first sample of a quiet spell goes out at once and opens an interval; later samples of that
    interval are held, each replacing the one before, and the newest goes out when the interval ends:
    as soon as a sample from a later interval arrives, or when the hub's timer (`due`, on the bus's
    monotonic clock) fires. So at most one sample per interval, and a burst always ends on its last value.
    """

    window_end: float = float("-inf")  # sample time at which the current interval ends
    held: Draft | None = None
    held_at: float = 0.0
    due: float = 0.0  # monotonic deadline for releasing `held`

    def offer(self, draft: Draft, at: float, interval: float, mono: float) -> list[Draft]:
        """The drafts to publish now, oldest first; a draft not among them is held (see `due`)."""
        out: list[Draft] = []
        if self.held is not None and at >= self.window_end:
            out.append(self.release(interval))
        if at >= self.window_end - SLACK * interval:
            self.window_end = at + interval
            out.append(draft)
            return out
        if self.held is None:
            # Released when the interval ends, measured in the samples' time (a batch with its own
            # Timestamps is spread over the intervals it spans), never later than one interval from now.
            self.due = mono + max(0.0, min(interval, self.window_end - at))
        self.held, self.held_at = draft, at
        return out

    def release(self, interval: float) -> Draft:
        """Take the held sample; the next interval starts where the last one ended."""
        draft = self.held
        assert draft is not None
        self.held = None
        self.window_end = max(self.window_end + interval, self.held_at)
        return draft
