"""OBS Studio control: scene rules and source actions over obs-websocket v5 (see docs/obs.md)."""
