"""PMCA (RISC-V multi-core cluster): kernel cost models behind one interface.

A `PmcaModel` answers how many cluster cycles a kernel takes and where they go
(`KernelStats`). The network simulation only talks to this interface, so the throughput model
here and a cycle-level model can stand in for each other. Every kernel phase ends with a
cluster barrier; each core spends `kernel_setup_cycles` on loop and address set-up first.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import ceil
from typing import Protocol

from aimcsim.spec.arch import Pmca


@dataclass(frozen=True)
class KernelStats:
    """Cost of one kernel (or a sequence of kernels) on one cluster, in cluster cycles.

    cycles: wall-clock cycles from start to the end of the last barrier.
    compute_cycles: cycles the busiest core issues MACs or element-wise work.
    dma_cycles: cycles the cores wait for the DMA (its set-up and its beats).
    stall_cycles: cycles lost to contention (TCDM bank conflicts); 0 in the throughput model.
    overhead_cycles: set-up and barrier cycles.
    macs: multiply-accumulates (or element operations) performed.

    Invariant: cycles = compute + dma + stall + overhead.
    """

    cycles: int = 0
    compute_cycles: int = 0
    dma_cycles: int = 0
    stall_cycles: int = 0
    overhead_cycles: int = 0
    macs: int = 0

    def then(self, other: KernelStats) -> KernelStats:
        """The two kernels one after the other."""
        return KernelStats(
            self.cycles + other.cycles,
            self.compute_cycles + other.compute_cycles,
            self.dma_cycles + other.dma_cycles,
            self.stall_cycles + other.stall_cycles,
            self.overhead_cycles + other.overhead_cycles,
            self.macs + other.macs,
        )

    def times(self, count: int) -> KernelStats:
        """`count` repetitions back to back."""
        return KernelStats(*(count * v for v in (
            self.cycles, self.compute_cycles, self.dma_cycles, self.stall_cycles,
            self.overhead_cycles, self.macs,
        )))


class PmcaModel(Protocol):
    """What the network simulation asks of a cluster model."""

    pmca: Pmca
    dtype: str

    def matmul(self, m: int, k: int, n: int) -> KernelStats:
        """(m x k) @ (k x n) with operands in TCDM, outputs split over the cores."""
        ...

    def elementwise(self, function: str, elements: int) -> KernelStats:
        """`function` over `elements` values in TCDM, split over the cores."""
        ...

    def dma(self, nbytes: int) -> KernelStats:
        """Move `nbytes` between cluster L2 and TCDM with the cores waiting."""
        ...


@dataclass(frozen=True)
class ThroughputPmca:
    """Cluster timing from per-core throughput: no bank conflicts, perfect load/compute overlap.

    matmul: each core computes ceil(m*n / cores) outputs, each a dot product of k terms issued
    `macs_per_cycle` lanes at a time: setup + ceil(m*n/cores) * ceil(k/lanes) + barrier.
    elementwise: setup + ceil(ceil(elements/cores) / lanes) * cycles_per_vector + barrier.
    dma: dma_setup_cycles + ceil(bytes / dma_bytes_per_cycle).
    """

    pmca: Pmca
    dtype: str

    @property
    def lanes(self) -> int:
        return self.pmca.macs(self.dtype)

    @lru_cache(maxsize=4096)  # noqa: B019 - frozen, hashable instances; shapes repeat a lot
    def matmul(self, m: int, k: int, n: int) -> KernelStats:
        p = self.pmca
        per_core = ceil(m * n / p.cores)
        compute = per_core * ceil(k / self.lanes)
        overhead = p.kernel_setup_cycles + p.barrier_cycles
        return KernelStats(compute + overhead, compute, 0, 0, overhead, m * k * n)

    @lru_cache(maxsize=4096)  # noqa: B019
    def elementwise(self, function: str, elements: int) -> KernelStats:
        p = self.pmca
        vectors = ceil(ceil(elements / p.cores) / self.lanes)
        compute = vectors * p.elementwise_cycles(function)
        overhead = p.kernel_setup_cycles + p.barrier_cycles
        return KernelStats(compute + overhead, compute, 0, 0, overhead, elements)

    @lru_cache(maxsize=4096)  # noqa: B019
    def dma(self, nbytes: int) -> KernelStats:
        p = self.pmca
        busy = p.dma_setup_cycles + ceil(nbytes / p.dma_bytes_per_cycle)
        return KernelStats(busy, 0, busy, 0, 0, 0)
