"""The imperative shell: the reconciler (cache → core → writes), its writes, the manager that
wires informers, the work queue, workers and leader election, and the HTTP endpoints.
"""

__all__: list[str] = []
