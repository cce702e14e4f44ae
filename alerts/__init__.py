"""Alerts: detectors and custom rules turn game events into queued `alert` events (see docs/alerts.md)."""

# dxbus.config imports our section model (alerts/config.py), which subclasses dxbus.config.Section:
# loading dxbus.config first makes that work whichever module a program imports first.
from dxbus import config as _config  # noqa: F401
