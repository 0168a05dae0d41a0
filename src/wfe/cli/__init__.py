"""The `wfe` command: run, dev, demo, crd, lock-name."""

__all__: list[str] = []
