"""OBS Studio control: scene rules and source actions over obs-websocket v5 (see docs/obs.md)."""

# dxbus.config imports our section model (obs/settings.py), which subclasses dxbus.config.Section:
# loading dxbus.config first makes that work whichever module a program imports first.
from dxbus import config as _config  # noqa: F401
