"""The race hub: several runners' buses in one live race (docs/race.md)."""
