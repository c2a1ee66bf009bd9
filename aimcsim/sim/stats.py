"""What one operation did during a run (`OpStats`), in picoseconds and bytes: the simulator
adds to it, replay shifts and restores it, the results read it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar


class OpStats:
    """What one operation did during a run, in picoseconds and bytes."""

    #: event counters the run tallies as it moves data (names as the `layers` columns); tile
    #: and kernel events are the blocks' programs' counts (`NetworkSim.counters`)
    COUNTERS = ("tcdm_read_bytes", "tcdm_write_bytes", "noc_bytes", "noc_link_bytes",
                "cim_macs")

    __slots__ = (
        "aimc_busy_ps", "aimc_end_ps", "dma_busy_ps", "first_ps", "last_ps", "noc_busy_ps",
        "noc_held_ps", "pmca_busy_ps", "resident_bytes", "stall_ps", "tcdm_live_bytes",
        "tcdm_peak_bytes", "tokens", *COUNTERS,
    )

    # noc_busy_ps: each transfer from its start to its arrival (the op's view: head latency
    # included); noc_held_ps: the time its transfers hold links: serialisation x links crossed
    # (a head or hop latency holds none, so back-to-back transfers overlap it; the links'
    # utilisation); first_ps: None until the op's first compute span

    def __init__(self, resident_bytes: int = 0) -> None:
        # (one unpacking, in `__slots__` order: a run makes one per op of its trace)
        self.restore((0, 0, 0, None, 0, 0, 0, 0, resident_bytes, 0, 0, resident_bytes, 0,
                      0, 0, 0, 0, 0))

    #: where `snapshot` holds each field
    INDEX: ClassVar[dict[str, int]] = {name: i for i, name in enumerate(__slots__)}

    def snapshot(self) -> tuple:
        """Every field, in `__slots__` order (`restore` sets them back)."""
        return (self.aimc_busy_ps, self.aimc_end_ps, self.dma_busy_ps, self.first_ps,
                self.last_ps, self.noc_busy_ps, self.noc_held_ps, self.pmca_busy_ps,
                self.resident_bytes, self.stall_ps, self.tcdm_live_bytes, self.tcdm_peak_bytes,
                self.tokens, self.tcdm_read_bytes, self.tcdm_write_bytes, self.noc_bytes,
                self.noc_link_bytes, self.cim_macs)

    @classmethod
    def of(cls, values: tuple | list) -> OpStats:
        """Statistics set from a `snapshot` (a replayed op's, `aimcsim.sim.replay`)."""
        st = cls.__new__(cls)
        st.restore(values)
        return st

    def restore(self, values: tuple | list) -> None:
        """Set every field from a `snapshot` (a replayed op's statistics, `aimcsim.sim.replay`)."""
        (self.aimc_busy_ps, self.aimc_end_ps, self.dma_busy_ps, self.first_ps,
         self.last_ps, self.noc_busy_ps, self.noc_held_ps, self.pmca_busy_ps,
         self.resident_bytes, self.stall_ps, self.tcdm_live_bytes, self.tcdm_peak_bytes,
         self.tokens, self.tcdm_read_bytes, self.tcdm_write_bytes, self.noc_bytes,
         self.noc_link_bytes, self.cim_macs) = values

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


class RunStats(dict):
    """Each op's statistics by name, made on first use (with its resident adapter's bytes). A
    replayed op's are kept as a snapshot (`replayed`, set whole by
    `aimcsim.sim.replay.apply`; the tables read it as it is), made statistics when asked
    for. In order of first use: read them in trace order."""

    def __init__(self, weights: Mapping[str, int]) -> None:
        super().__init__()
        self._weights = weights
        self.replayed: dict[str, tuple | list] = {}  # op -> `OpStats.snapshot` values

    def __missing__(self, name: str) -> OpStats:
        found = self.replayed.get(name)
        st = self[name] = OpStats(self._weights[name]) if found is None else OpStats.of(found)
        return st

    def snapshot(self, name: str) -> tuple | list:
        """Op `name`'s `OpStats.snapshot` (a replayed op's as it was set, unless made since)."""
        st = self.get(name)
        if st is not None:
            return st.snapshot()
        found = self.replayed.get(name)
        return found if found is not None else self[name].snapshot()


__all__ = ["OpStats", "RunStats"]
