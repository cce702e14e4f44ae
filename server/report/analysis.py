"""A session's whole report as plain JSON data (what `--json` prints and the page draws)."""

from __future__ import annotations

from typing import Any

from . import bosses, summary
from .series import series
from .session import SessionLog


def analyze(log: SessionLog, with_routes: bool = True) -> dict[str, Any]:
    """Every section's numbers; `with_routes=False` leaves out the clustering (no scikit-learn)."""
    out: dict[str, Any] = {
        "session": summary.session_info(log),
        "summary": summary.summary(log),
        "rooms": summary.rooms(log),
        "areas": summary.areas(log),
        "deaths": summary.deaths(log),
        "bosses": bosses.bosses(log),
        "path": summary.path(log),
    }
    if with_routes:
        from .routes import routes  # numpy and scikit-learn: the [analysis] extra

        out["routes"] = routes(log)
    else:
        out["routes"] = None
    out["segments"] = log.segment_view()
    out["series"] = series(log)
    return out


EXPLAIN = {**summary.EXPLAIN, **bosses.EXPLAIN}
