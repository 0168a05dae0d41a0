"""controller."""

__all__: list[str] = []
