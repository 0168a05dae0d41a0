"""Monitoring sources: alert rules, dashboard and the series contract (see README.md)."""

__all__: list[str] = []
