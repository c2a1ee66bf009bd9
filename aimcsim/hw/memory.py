"""Memory beyond the clusters: the `memory` section of an architecture file (optional).

It holds the off-chip memory that keeps the adapters of tasks not loaded (`aimcsim.reload`):
its bandwidth, shared by every cluster that reads from it; and each cluster's L2, where K and V
(the KV cache in a decode step) wait: a run whose held operands do not fit is refused
(`aimcsim.sim.feasibility.check_l2`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from aimcsim.params.fields import declare, keys


@dataclass(frozen=True, kw_only=True)
class Memory:
    """The `memory` section."""

    offchip_gb_per_s: Annotated[float, declare("off-chip memory bandwidth, shared by the "
                                               "clusters (1 GB/s is one byte per ns; 0: none "
                                               "modelled)", ge=0, le=1e6, unit="GB/s")] = 0.0
    l2_bytes: Annotated[int, declare("each cluster's L2, where the operands attention holds in "
                                     "full wait (K and V; in a decode step the KV cache) before "
                                     "the DMA brings them in (0: unbounded)", ge=0, le=1 << 40,
                                     unit="bytes")] = 0
    l2_banks: Annotated[int, declare("banks of each cluster's L2 (priced by their size and width "
                                     "from the technology file's SRAM grid; an unbounded L2 is "
                                     "priced at the size the run's held operands need)", ge=1,
                                     le=4096)] = 8
    l2_bank_width_bytes: Annotated[int, declare("bytes of one L2 bank word", ge=1, le=1024,
                                                unit="bytes")] = 64


MEMORY_KEYS = keys(Memory)


__all__ = ["MEMORY_KEYS", "Memory"]
