"""The functional core: every decision as a pure function of plain data and `now` (lock name,
validation, decide, backoff, failure analysis, release timing). No I/O, no clock, no client.
"""

__all__: list[str] = []
