"""dev."""

__all__: list[str] = []
