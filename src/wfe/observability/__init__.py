"""Metrics (SPEC §8 contract), Kubernetes Events, audit records and logging; `Recorder` turns
one outcome into all four.
"""

__all__: list[str] = []
