"""`[Overlays]` config section."""

from __future__ import annotations

from dxbus.config_base import Section


class OverlaysSection(Section):
    """Browser-source overlays: an extra folder of user overlays, and live reload while editing."""

    # A folder of user templates/manifests (assets under its `static/`); `--overlays DIR` overrides it.
    directory: str = ""
    # Reload open overlay pages when a template, CSS or JS file changes (watchfiles).
    hot_reload: bool = True
