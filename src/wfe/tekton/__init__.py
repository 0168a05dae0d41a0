"""tekton."""

__all__: list[str] = []
