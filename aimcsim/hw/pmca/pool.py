"""A cluster's shared state in the event engine: its cores (one kernel at a time, in arrival
order) and its TCDM pool."""

from __future__ import annotations

from collections import deque

import simpy

from aimcsim.hw.servers import FifoServer


class Cluster:
    """Shared state of one cluster: the cores (one kernel at a time) and the TCDM budget.

    TCDM space is handed out first come, first served: a request waits while an earlier one
    waits, so a large block is not starved by small ones. These are the semantics of a SimPy
    `Container`, kept by hand: with a Container every grant and every release becomes events
    in the queue, and a full MobileBERT run took about 60% longer (0.66 s against 0.39 s).
    """

    def __init__(self, env: simpy.Environment, tcdm_bytes: int, resident_bytes: int) -> None:
        self.env = env
        self.cores = FifoServer()
        self.free_bytes = tcdm_bytes - resident_bytes
        self.waiting: deque[tuple[int, simpy.Event]] = deque()
        self.used_bytes = resident_bytes
        self.peak_bytes = resident_bytes

    def allocate(self, nbytes: int) -> simpy.Event | None:
        """Take `nbytes` now (returns None) or return the event that fires once they are taken."""
        if not self.waiting and nbytes <= self.free_bytes:
            self._take(nbytes)
            return None
        event = self.env.event()
        self.waiting.append((nbytes, event))
        return event

    def release(self, nbytes: int) -> None:
        self.free_bytes += nbytes
        self.used_bytes -= nbytes
        while self.waiting and self.waiting[0][0] <= self.free_bytes:
            size, event = self.waiting.popleft()
            self._take(size)
            event.succeed()

    def _take(self, nbytes: int) -> None:
        self.free_bytes -= nbytes
        self.used_bytes += nbytes
        self.peak_bytes = max(self.peak_bytes, self.used_bytes)
