"""Alerts: detectors and custom rules turn game events into queued `alert` events (see docs/alerts.md)."""
