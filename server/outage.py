"""The one "log once per outage" rule: a link or file that keeps failing says so once, not every retry.

`Outage.failed(text)` logs the first failure of an outage at WARNING (or the level given) and every
repeat at DEBUG, unless the text changed (a new problem is news: logged at the level again);
`Outage.recovered()` logs one INFO line if there was an outage. `error` and `since` feed the part's
`/api/status` (`last_error`), so the dashboard keeps showing what the log said once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field


@dataclass
class Outage:
    """The state of one thing that can fail and come back (a connection, a file, a folder)."""

    log: logging.Logger = field(repr=False)
    error: str | None = None  # the last failure's text, None while healthy
    failures: int = 0  # failures in this outage
    total: int = 0  # failures ever

    @property
    def active(self) -> bool:
        """Whether the last attempt failed."""
        return self.error is not None

    def failed(self, text: str, *, level: int = logging.WARNING, detail: str = "") -> bool:
        """Record a failure; log it at `level` if it starts an outage or is a new problem, else at
        DEBUG. `detail` is added to the first line only (e.g. "retrying in the background").
        Returns whether it was logged at `level`."""
        news = self.error is None or text != self.error
        self.error = text
        self.failures += 1
        self.total += 1
        if news:
            self.log.log(level, "%s%s", text, f"; {detail}" if detail else "")
        else:
            self.log.debug("%s (again, %d in a row)", text, self.failures)
        return news

    def recovered(self, text: str = "") -> bool:
        """Record a success; log `text` at INFO if it ends an outage. Returns whether one ended."""
        ended = self.error is not None
        if ended and text:
            self.log.info("%s", text)
        self.error = None
        self.failures = 0
        return ended


__all__ = ["Outage"]
