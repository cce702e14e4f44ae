"""What each connected overlay reports about itself: its page, its version, its publish-to-paint latency.

A page on the state channel says which overlay it is, how its settings were corrected and which asset
version it was built from
(`{"type": "hello", "page": "/overlays/hp?...", "warnings": [...], "overlay": "hp", "version": "..."}`)
and, at most a few times a second, which state it has just drawn (`{"type": "painted", "server_now": T}`,
`T` being the bus clock reading of the message that carried that state). The bus takes
`now - T` as that overlay's latency: from the moment the bus sent the change to the moment it heard
that the page drew it. It is an upper bound of publish-to-paint (it includes the report's own way
back, a fraction of a millisecond on one machine) and needs no clock shared with the page.

The report says how long ago the page last drew (`painted_ago`, seconds on the bus clock since its last
`painted`) and whether it is stale: its version differs from the version of its files now
(`overlays/versions.py`), so it still runs an older template, script or settings than the bus serves.
"""

from __future__ import annotations

import re
import statistics
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit

SAMPLES = 256  # the latest draws per overlay the figures are made from
PAGE_MAX = 300  # characters of a page address kept (the page sends what it likes)
WARNINGS_MAX = 10  # settings warnings kept per page (each clipped to PAGE_MAX)
NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # an overlay name as the page reports it
VERSION = re.compile(r"[0-9a-f]{1,32}")


def clean_page(page: object) -> str | None:
    """The page address a client reported, without its token; None if it is not a path."""
    if not isinstance(page, str) or not page.startswith("/"):
        return None
    parts = urlsplit(page[:PAGE_MAX])
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "token"]
    return parts.path + ("?" + urlencode(query) if query else "")


@dataclass
class OverlayHealth:
    """One overlay connection's self-report."""

    remote: str | None
    connected_at: float
    page: str | None = None
    draws: int = 0
    warnings: list[str] = field(default_factory=list)
    overlay: str | None = None
    version: str | None = None
    last_paint: float | None = None
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=SAMPLES))

    def hello(self, page: object, warnings: object, overlay: object = None, version: object = None) -> None:
        """The page said which overlay it is, what its settings warnings are and its asset version."""
        self.page = clean_page(page)
        items = warnings if isinstance(warnings, list) else []
        self.warnings = [w[:PAGE_MAX] for w in items[:WARNINGS_MAX] if isinstance(w, str)]
        self.overlay = overlay if isinstance(overlay, str) and NAME.fullmatch(overlay) else None
        self.version = version if isinstance(version, str) and VERSION.fullmatch(version) else None

    def painted(self, sent: object, now: float) -> None:
        """Record one draw of the state the bus sent at `sent` (its clock); nonsense is ignored."""
        if not isinstance(sent, (int, float)) or isinstance(sent, bool) or not 0 <= now - sent < 3600:
            return
        self.draws += 1
        self.last_paint = now
        self.latencies.append(now - sent)

    def report(self, now: float, current_version: str | None = None) -> dict[str, object]:
        """The `/api/status` entry: page, peer, age, version, last draw, and latency p50/p95 in ms.

        `current_version` is the version of the overlay's files now; `stale` is None when either
        version is unknown (an older page, a user page without one, an overlay since removed).
        """
        ordered = sorted(self.latencies)
        figures: dict[str, float | None] = {"p50": None, "p95": None}
        if ordered:
            figures["p50"] = round(statistics.median(ordered) * 1000, 1)
            figures["p95"] = round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000, 1)
        return {"page": self.page, "remote": self.remote,
                "connected_seconds": round(now - self.connected_at, 1), "draws": self.draws,
                "warnings": list(self.warnings),
                "overlay": self.overlay, "version": self.version, "current_version": current_version,
                "stale": (None if None in (self.overlay, self.version, current_version)
                          else self.version != current_version),
                "painted_ago": None if self.last_paint is None else round(max(0.0, now - self.last_paint), 1),
                "latency_ms": {**figures, "samples": len(ordered)}}


__all__ = ["OverlayHealth", "clean_page"]
