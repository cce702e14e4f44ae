"""Wording of operating-system errors for log lines and status fields."""

from __future__ import annotations


def describe_os_error(exc: OSError) -> str:
    """`Permission denied: /path` style text for a log line."""
    text = exc.strerror or str(exc)
    return f"{text}: {exc.filename}" if exc.filename else text


__all__ = ["describe_os_error"]
