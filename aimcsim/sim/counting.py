"""The event counters of a run's ops (`Counting`, the part of `aimcsim.sim.network.NetworkSim`
that counts): the tile's events per token times the tokens, the kernels of every block's
program, and what the run tallied moving data."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np

from aimcsim.sim.stats import OpStats


class Counting:
    """Per-op event counters after a run (mixed into `NetworkSim`, which provides the run's
    statistics, programs, placements, blocks, tile events and replay twins)."""

    stats: dict[str, OpStats]
    programs: Any
    slice_programs: Any
    placements: Mapping[str, Any]
    blocks: Mapping[str, list[int]]
    tile_events: Mapping[str, tuple[int, int, int, int]]
    _twins: dict[str, str]
    _counted: dict[str, tuple[int, ...]]

    #: the names of `counters`, in order
    counter_names = ("mvms", "dac_conversions", "adc_conversions", "analog_macs", "macs",
                     "element_ops", "dma_bytes", *OpStats.COUNTERS)

    def counters(self, name: str) -> dict[str, int]:
        """The event counters of op `name` after the run: the tile's events per token times
        its tokens, the kernels of every block's program (each block runs its program once,
        each slice its share; `run` checks every block ran), and what the run tallied moving
        data (link bytes, the TCDM traffic of transfers, SRAM-CIM MACs). A replayed op's are
        those of the op it replayed."""
        return dict(zip(self.counter_names, self.counter_values(name), strict=True))

    def counter_values(self, name: str) -> tuple[int, ...]:
        """`counters`' values, in the order of `counter_names`."""
        name = self._twins.get(name, name)
        if name not in self._counted:
            counted = self._count(name)
            self._counted[name] = tuple(counted[c] for c in self.counter_names)
        return self._counted[name]

    def counter_table(self, names: list[str]) -> np.ndarray:
        """`counter_values` of ops `names` as an array with a row per counter (a replayed
        op's values are its twin's: each distinct tuple is read once)."""
        sources = [self._twins.get(name, name) for name in names]
        index = {source: i for i, source in enumerate(dict.fromkeys(sources))}
        distinct = np.array([self.counter_values(source) for source in index],
                            dtype=np.int64).reshape(len(index), len(self.counter_names))
        return distinct[[index[source] for source in sources]].T.copy()

    def _count(self, name: str) -> dict[str, int]:
        st = self.stats[name]
        mvms, dacs, adcs, analog = self.tile_events.get(name, (0, 0, 0, 0))
        out = {"mvms": st.tokens * mvms, "dac_conversions": st.tokens * dacs,
               "adc_conversions": st.tokens * adcs, "analog_macs": st.tokens * analog,
               "macs": 0, "element_ops": 0, "dma_bytes": 0,
               **{key: getattr(st, key) for key in OpStats.COUNTERS}}
        sliced = self.slice_programs[name] if self.placements[name].slices else None
        sizes = self.blocks[name]
        for size, count in ((sizes[0], len(sizes)),) if sizes[0] == sizes[-1] else \
                Counter(sizes).items():  # (full blocks, then at most one remainder)
            for prog in sliced[size] if sliced else (self.programs[name][size],):
                macs, element_ops, reads, writes, dma = prog.counts
                out["macs"] += count * macs
                out["element_ops"] += count * element_ops
                out["tcdm_read_bytes"] += count * reads
                out["tcdm_write_bytes"] += count * writes
                out["dma_bytes"] += count * dma
        return out


__all__ = ["Counting"]
