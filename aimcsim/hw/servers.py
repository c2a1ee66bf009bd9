"""The chip's FIFO servers (a link, a cluster's cores, a layer's macros): one request at a
time in arrival order, in integer picoseconds (the cores and TCDM pool of a cluster are
`aimcsim.hw.pmca.pool`)."""

from __future__ import annotations


class FifoServer:
    """A server that takes one request at a time in arrival order (a link, a cluster's cores).

    Requests come with their duration, so the grant time is known at once: no queue of events
    is needed, and the timings equal those of a FIFO `simpy.Resource`.
    """

    __slots__ = ("free_ps",)

    def __init__(self) -> None:
        self.free_ps = 0

    def book(self, now_ps: int, duration_ps: int) -> int:
        """Reserve the server for `duration_ps` from the earliest free time; return the start."""
        start = max(now_ps, self.free_ps)
        self.free_ps = start + duration_ps
        return start


__all__ = ["FifoServer"]
