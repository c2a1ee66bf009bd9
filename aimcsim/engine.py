"""Engine pieces shared by the processes: integer-picosecond time and event recording.

Time in the SimPy environment is an integer number of picoseconds, so every clock domain (tile
phases in ns, cluster and link cycles at their frequencies) is exact and runs are
bit-reproducible. Convert to ns only where results leave the library (`ps_to_ns`).
"""

from __future__ import annotations

import simpy

PS_PER_NS = 1000


def ps_to_ns(ps: int) -> float:
    return ps / PS_PER_NS


class OpStats:
    """What one operation did during a run, in picoseconds and bytes."""

    __slots__ = (
        "aimc_busy_ps", "aimc_end_ps", "dma_busy_ps", "first_ps", "last_ps", "noc_busy_ps",
        "pmca_busy_ps", "resident_bytes", "stall_ps", "tcdm_live_bytes", "tcdm_peak_bytes",
        "tokens",
    )

    def __init__(self, resident_bytes: int = 0) -> None:
        self.first_ps: int | None = None
        self.last_ps = 0
        self.aimc_busy_ps = 0
        self.aimc_end_ps = 0
        self.pmca_busy_ps = 0
        self.dma_busy_ps = 0
        self.noc_busy_ps = 0
        self.stall_ps = 0
        self.tokens = 0
        self.resident_bytes = resident_bytes
        self.tcdm_live_bytes = 0
        self.tcdm_peak_bytes = resident_bytes

    def active(self, start_ps: int, end_ps: int) -> None:
        """Widen the op's compute span to cover [start_ps, end_ps)."""
        if self.first_ps is None or start_ps < self.first_ps:
            self.first_ps = start_ps
        if end_ps > self.last_ps:
            self.last_ps = end_ps

    def tile_busy(self, start_ps: int, end_ps: int) -> None:
        """Add a tile burst, counting time already covered by the previous burst once."""
        self.aimc_busy_ps += end_ps - max(start_ps, self.aimc_end_ps)
        self.aimc_end_ps = end_ps


class Cluster:
    """Shared state of one cluster: the cores (one kernel at a time) and the TCDM budget."""

    def __init__(self, env: simpy.Environment, tcdm_bytes: int, resident_bytes: int) -> None:
        self.cores = simpy.Resource(env, capacity=1)
        self.free = simpy.Container(env, capacity=tcdm_bytes - resident_bytes,
                                    init=tcdm_bytes - resident_bytes)
        self.capacity_bytes = tcdm_bytes
        self.used_bytes = resident_bytes
        self.peak_bytes = resident_bytes
