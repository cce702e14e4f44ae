"""Sandboxed Jinja for user-written text: alert messages and OBS text files.

Templates come from the config file, so they run in Jinja's sandbox (no attribute tricks, no
imports) with autoescape off: the output is plain text, and overlays insert it with `textContent`.
`None` renders as "-" so "Best {{ boss.best }}" reads "Best -" before the first kill.
"""

from __future__ import annotations

import logging
import math
from functools import cache
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment

log = logging.getLogger(__name__)

NONE_TEXT = "-"


def duration(seconds: Any, decimals: int = 1) -> str:
    """Format seconds as `m:ss.s` (or `h:mm:ss.s`), truncated like a timer; non-numbers pass through."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        return NONE_TEXT if seconds is None else str(seconds)
    sign = "-" if seconds < 0 else ""
    decimals = max(0, min(3, int(decimals)))
    scale = 10**decimals
    # Truncate (a timer never shows a second that has not passed); the epsilon absorbs 0.1+0.2 noise.
    ticks = math.floor(abs(float(seconds)) * scale + 1e-6)
    whole, frac = divmod(ticks, scale)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    sec_text = f"{secs:02d}" + (f".{frac:0{decimals}d}" if decimals else "")
    if hours:
        return f"{sign}{hours}:{minutes:02d}:{sec_text}"
    return f"{sign}{minutes}:{sec_text}"


def _finalize(value: Any) -> Any:
    # Counters arrive as floats (3.0 damage, 5.0 masks); show whole numbers without ".0".
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    return NONE_TEXT if value is None else value


@cache
def environment() -> SandboxedEnvironment:
    """The one sandboxed environment (shared, so compiled templates are cached by Jinja)."""
    env = SandboxedEnvironment(autoescape=False, finalize=_finalize, keep_trailing_newline=False)
    env.filters["duration"] = duration
    return env


class TemplateProblem(ValueError):
    """A template that does not compile; the message says what Jinja objected to."""


def check_template(source: str) -> None:
    """Compile `source`, raising TemplateProblem with Jinja's reason (syntax, unknown filter...)."""
    try:
        environment().from_string(source)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f" (line {line})" if line else ""
        raise TemplateProblem(f"bad template{where}: {exc.message or exc}") from None


@cache
def _compiled(source: str) -> Any:
    return environment().from_string(source)


def render(source: str, context: dict[str, Any], fallback: str = "") -> str:
    """Render a (pre-checked) template; a runtime error logs once per template and gives `fallback`."""
    try:
        return _compiled(source).render(context)
    except Exception as exc:  # a user's template must never take the bus down
        _warn_once(source, exc)
        return fallback


_warned: set[str] = set()


def _warn_once(source: str, exc: Exception) -> None:
    if source not in _warned:
        _warned.add(source)
        log.warning("template %r failed: %s", source[:80], exc)
