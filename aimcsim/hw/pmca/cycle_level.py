"""The cycle-level cluster model (`CycleLevelPmca`) and the registry of cluster models.

Matmuls run on the kernel the cluster would run: RedMulE (`redmule`) when the cluster has a
matrix engine, the register-blocked micro-tiles of streaming cores (`microtile`), or PULP-NN's
register blocks on load-use cores (`loaduse`); element-wise functions and DMA transfers on
`stream.stream_kernel`. Every kernel arbitrates the same TCDM banks (`tcdm`); the TCDM word
accesses a kernel reports are the ones its run was granted (`traffic` gives them by formula).
"""

from __future__ import annotations

import dataclasses
import hashlib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from math import ceil
from typing import Any

import numpy as np

import aimcsim.hw.pmca.loaduse as loaduse
import aimcsim.hw.pmca.redmule as redmule
from aimcsim.errors import CapacityWarning
from aimcsim.hw.pmca.memo import persisted
from aimcsim.hw.pmca.microtile import (
    closed_forms,
    layouts,
    microtile_matmul,
    padding_bytes,
)
from aimcsim.hw.pmca.model import (
    KernelStats,
    ThroughputPmca,
    core_cycles,
    engine_cycles,
    implausible,
    operands,
    peak_macs_per_cycle,
    with_dma,
)
from aimcsim.hw.pmca.params import Pmca
from aimcsim.hw.pmca.stream import Cores, Operands, stream_kernel
from aimcsim.hw.pmca.tcdm import ACCESSES, NO_DMA, Dma, _after, accesses
from aimcsim.params.units import DTYPE_BYTES


@dataclass(frozen=True)
class CycleLevelPmca:
    """Cycle-stepped cluster (see the module docstring); results memoised by shape."""

    pmca: Pmca
    dtype: str

    @property
    def lanes(self) -> int:
        return self.pmca.macs(self.dtype)

    def _finish(
        self, kernel: tuple[int, int, int, int, np.ndarray], ideal: int, macs: int,
        dma_bytes: int = 0, element_ops: int = 0,
    ) -> KernelStats:
        compute_end, _core_waits, conflicts, dma_end, grants = kernel  # see stream's docstring
        p = self.pmca
        overhead = p.kernel_setup_cycles + p.barrier_cycles
        if compute_end < ideal:
            raise AssertionError(f"cycle model beat its closed form: {compute_end} < {ideal}")
        # the DMA core programs the transfer while the beats of earlier ones run: its set-up
        # is added to the beats rather than delaying them
        dma_total = p.dma_setup_cycles + dma_end if dma_bytes else 0
        wall, exposed = with_dma(compute_end, dma_total)
        return KernelStats(wall + overhead, ideal, exposed, compute_end - ideal, overhead, macs,
                           conflicts, element_ops=element_ops, dma_bytes=dma_bytes,
                           **accesses(grants))

    def _dma_words(self, nbytes: int) -> tuple[int, int]:
        p = self.pmca
        return ceil(nbytes / p.bank_width_bytes), p.dma_bytes_per_cycle // p.bank_width_bytes

    @cached_property
    def memo_key(self) -> str:
        """What the kernel timings depend on besides the kernel (`aimcsim.hw.pmca.memo`)."""
        text = f"{type(self).__name__}|{self.pmca!r}|{self.dtype}"
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def implausible(self, kernel: str, arguments: Mapping[str, Any], stats: KernelStats) -> str:
        """Why `stats`, read from the kernel store for `kernel` (`matmul`, `elementwise` or
        `dma`, its arguments by name), cannot be what that kernel computes, or '' when it
        can (`aimcsim.hw.pmca.model.implausible`: the kernel's counters and a floor on its
        cycles, without running it)."""
        work = {"dma_bytes": arguments["nbytes"]} if kernel == "dma" else arguments
        return implausible(self.pmca, self.dtype, kernel, stats, **work)

    @lru_cache(maxsize=4096)  # noqa: B019 - frozen, hashable instances; shapes repeat a lot
    @persisted
    def matmul(
        self, m: int, k: int, n: int, dma_bytes: int = 0, accumulate: bool = False
    ) -> KernelStats:
        p = self.pmca
        if p.matrix_engine is not None:
            return self._engine_matmul(m, k, n, dma_bytes, accumulate)
        if p.streaming:
            return self._microtile_matmul(m, k, n, dma_bytes, accumulate)[0]
        return self._loaduse_matmul(m, k, n, dma_bytes, accumulate)

    def _loaduse_matmul(
        self, m: int, k: int, n: int, dma_bytes: int, accumulate: bool
    ) -> KernelStats:
        """Load-use cores (`aimcsim.hw.pmca.loaduse`, PULP-NN's register-blocked kernel): the
        fastest candidate layout (fewer padding bytes among equals), each stopped once it
        cannot beat the best found, none tried after one reaches the closed form."""
        p = self.pmca
        eb, bw, latency = DTYPE_BYTES[self.dtype], p.bank_width_bytes, p.fpu_latency(self.dtype)
        words, per_beat = self._dma_words(dma_bytes)
        ideal = loaduse.closed_form_cycles(m, k, n, p.cores, self.lanes, p.loop_overhead_cycles,
                                           latency, accumulate)
        overhead = p.kernel_setup_cycles + p.barrier_cycles
        best = None
        candidates = sorted(loaduse.layouts(m, k, n, self.lanes, eb, bw, p.tcdm_banks),
                            key=lambda c: loaduse.padding_bytes(m, n, bw, c[0], c[1]))
        for layout in candidates:
            limit = best.cycles - overhead if best is not None else 0
            kernel = loaduse.loaduse_matmul(p.cores, p.tcdm_banks, bw, self.lanes, eb,
                                            p.loop_overhead_cycles, latency, m, k, n,
                                            accumulate, words, per_beat, layout, limit)
            if limit and kernel[0] > limit:
                continue
            stats = dataclasses.replace(
                self._finish(kernel, ideal, m * k * n, dma_bytes),
                padding_bytes=loaduse.padding_bytes(m, n, bw, layout[0], layout[1]))
            if best is None or (stats.cycles, stats.padding_bytes) < (best.cycles,
                                                                      best.padding_bytes):
                best = stats
            if kernel[0] == ideal:
                break
        return best

    @lru_cache(maxsize=4096)  # noqa: B019
    def _microtile_matmul(
        self, m: int, k: int, n: int, dma_bytes: int, accumulate: bool
    ) -> tuple[KernelStats, str]:
        """Streaming cores (`aimcsim.hw.pmca.microtile`): the fastest of the dataflows
        `matmul_dataflow` allows and of their candidate operand layouts (fewer padding bytes
        among equals), and its name. Exact without running every candidate: dataflows in order
        of their closed form (a lower bound), each candidate stopped once it cannot beat the
        best found, and a dataflow's candidates no longer tried once one reaches its closed
        form."""
        p = self.pmca
        eb, latency, bw = DTYPE_BYTES[self.dtype], p.fpu_latency(self.dtype), p.bank_width_bytes
        overhead = p.kernel_setup_cycles + p.barrier_cycles
        words, per_beat = self._dma_words(dma_bytes)
        ideals = closed_forms(p, self.dtype, m, k, n, accumulate)
        best = None
        for dataflow, ideal in sorted(ideals.items(), key=lambda item: item[1]):
            if best is not None and ideal + overhead > best[0].cycles:
                break  # its conflict-free figure already loses: no need to run it
            # least padding first: the first candidate at its ideal wins the ties
            candidates = sorted((padding_bytes(dataflow, m, k, n, self.lanes, eb, bw, *pads),
                                 pads)
                                for pads in layouts(dataflow, m, k, n, self.lanes, eb, bw,
                                                    p.tcdm_banks))
            for pad, pads in candidates:
                limit = best[0].cycles - overhead if best is not None else 0
                kernel = microtile_matmul(p.cores, p.tcdm_banks, bw, self.lanes, eb, latency,
                                          p.stream_fifo_depth, m, k, n, dataflow, accumulate,
                                          words, per_beat, pads, limit)
                if limit and kernel[0] > limit:
                    continue  # given up: slower than the best found
                stats = dataclasses.replace(self._finish(kernel, ideal, m * k * n, dma_bytes),
                                            padding_bytes=pad)
                if best is None or (stats.cycles, pad) < (best[0].cycles, best[0].padding_bytes):
                    best = (stats, dataflow)
                if kernel[0] == ideal:
                    break  # no layout of this dataflow can do better
        return best

    def matmul_dataflow(self, m: int, k: int, n: int, accumulate: bool = False) -> str:
        """The dataflow streaming cores use for this matmul ('' where they do not run it)."""
        p = self.pmca
        if p.matrix_engine is not None or not p.streaming:
            return ""
        return self._microtile_matmul(m, k, n, 0, accumulate)[1]

    def _engine_matmul(
        self, m: int, k: int, n: int, dma_bytes: int, accumulate: bool
    ) -> KernelStats:
        p = self.pmca
        e = p.matrix_engine
        eb = DTYPE_BYTES[self.dtype]
        words, per_beat = self._dma_words(dma_bytes)
        ideal = engine_cycles(m, k, n, e, eb, p.bank_width_bytes, accumulate)
        if e.orientation == "transposed":  # C^T = B^T A^T
            m, n = n, m
        kernel = redmule.engine_matmul(m, k, n, e.rows, e.height, e.pipe_regs, eb,
                                       p.bank_width_bytes, p.tcdm_banks, accumulate, words,
                                       per_beat)
        return self._finish(kernel, ideal, m * k * n, dma_bytes)

    @lru_cache(maxsize=4096)  # noqa: B019
    @persisted
    def elementwise(self, function: str, elements: int) -> KernelStats:
        p = self.pmca
        vectors = ceil(elements / self.lanes)
        per_core = ceil(ceil(elements / p.cores) / self.lanes)
        # give every core whole vectors of its own share, as the throughput model does
        work = np.stack([np.minimum(np.arange(p.cores) * per_core, vectors),
                         np.minimum(np.arange(1, p.cores + 1) * per_core, vectors)], axis=1)
        two = operands(function) == 2
        b_base = _after(0, vectors, p.tcdm_banks)
        c_base = _after(b_base, vectors if two else 0, p.tcdm_banks)
        cpv = p.elementwise_cycles(function)
        kernel = stream_kernel(p.cores, p.tcdm_banks, work.astype(np.int64),
                               Operands(1, two, 0, 1, True, b_base, 1, c_base, max(vectors, 1)),
                               Cores(cpv, p.streaming, p.loop_overhead_cycles), NO_DMA)
        per = int((work[:, 1] - work[:, 0]).max())
        ideal = core_cycles(per, 1, operands(function), cpv, p.streaming, p.loop_overhead_cycles)
        return self._finish(kernel, ideal, 0, element_ops=elements)

    @lru_cache(maxsize=4096)  # noqa: B019
    @persisted
    def dma(self, nbytes: int) -> KernelStats:
        p = self.pmca
        words = ceil(nbytes / p.bank_width_bytes)
        per_beat = p.dma_bytes_per_cycle // p.bank_width_bytes
        idle = np.zeros((p.cores, 2), np.int64)
        _, _, conflicts, moving, grants = stream_kernel(
            p.cores, p.tcdm_banks, idle, Operands(1, False, 0, 1, False, 0, 1, 0, 1),
            Cores(1, True, 0), Dma(words, 0, per_beat))
        busy = p.dma_setup_cycles + moving
        return KernelStats(busy, 0, busy, 0, 0, 0, conflicts, dma_bytes=nbytes,
                           **accesses(grants))


#: The cluster models by `pmca.timing` value (the spec's TIMINGS lists the same names).
CLUSTER_MODELS: dict[str, type] = {"cycle-level": CycleLevelPmca, "throughput": ThroughputPmca}


def cluster_model(pmca: Pmca, dtype: str):
    """The cluster model `pmca.timing` asks for."""
    return CLUSTER_MODELS[pmca.timing](pmca, dtype)


KERNEL_OPS = ("matmul", "add", "norm", "add_norm", "relu", "softmax", "dma")


def kernel_buffers(op: str, m: int, k: int, n: int, element_bytes: int) -> dict[str, int]:
    """The TCDM bytes of each buffer a kernel works on (`run_kernel`'s ops; the micro-kernels'
    padding, known once they run, aside)."""
    if op == "matmul":
        return {"a": m * k * element_bytes, "b": k * n * element_bytes,
                "c": m * n * element_bytes}
    if op == "dma":
        return {"transfer": m * n * element_bytes}
    size = m * n * element_bytes
    return {"a": size, **({"b": size} if operands(op) == 2 else {})}


def tcdm_overflow(pmca: Pmca, op: str, buffers: Mapping[str, int]) -> str | None:
    """What is wrong when a kernel's `buffers` do not fit the cluster's TCDM, or None."""
    needed = sum(buffers.values())
    if needed <= pmca.tcdm_bytes:
        return None
    parts = ", ".join(f"{name} {size:,} B" for name, size in buffers.items())
    return (f"the {op} kernel's buffers ({parts}) need {needed:,} bytes of TCDM, above "
            f"pmca.tcdm_bytes = {pmca.tcdm_bytes:,}: the figures are of a cluster with a "
            "larger TCDM (a block of a layer this size would be refused)")


def run_kernel(pmca: Pmca, op: str, m: int = 1, k: int = 1, n: int = 1, *,
               dtype: str = "fp16", accumulate: bool = False) -> dict[str, float | int]:
    """Run one kernel on the cycle-level cluster and return its statistics.

    op: matmul (m x k) @ (k x n) (with `accumulate`, C += A B); an element-wise function
    over m x n values; or dma of m x n elements. Returns cycles, MAC utilisation (MACs /
    (cycles x peak MACs a cycle)), bank-conflict stall cycles, DMA cycles, the TCDM word
    accesses the kernel was granted by requester (`tcdm.ACCESSES`), their sums, the bank
    traffic they make (accesses x `bank_width_bytes`) and the TCDM bytes of each buffer.
    A kernel whose buffers (with their padding) do not fit `pmca.tcdm_bytes` still runs, with
    a `CapacityWarning` saying so.
    """
    if op not in KERNEL_OPS:
        raise ValueError(f"op {op!r} is not one of {', '.join(KERNEL_OPS)}")
    model = CycleLevelPmca(pmca, dtype)
    eb = DTYPE_BYTES[dtype]
    buffers = kernel_buffers(op, m, k, n, eb)
    dataflow = ""
    if op == "matmul":
        stats = model.matmul(m, k, n, accumulate=accumulate)
        dataflow = model.matmul_dataflow(m, k, n, accumulate)
    elif op == "dma":
        stats = model.dma(m * n * eb)
    else:
        stats = model.elementwise(op, m * n)
    held = {**buffers, **({"padding": stats.padding_bytes} if stats.padding_bytes else {})}
    overflow = tcdm_overflow(pmca, op, held)
    if overflow is not None:
        warnings.warn(CapacityWarning(overflow), stacklevel=2)
    peak = peak_macs_per_cycle(pmca, dtype)
    return {
        "op": op, "m": m, "k": k, "n": n, "dtype": dtype, "accumulate": accumulate,
        "cycles": stats.cycles,
        "compute_cycles": stats.compute_cycles,
        "stall_cycles": stats.stall_cycles,
        "bank_conflicts": stats.conflicts,
        "dma_cycles": stats.dma_cycles,
        "overhead_cycles": stats.overhead_cycles,
        "macs": stats.macs,
        "element_ops": stats.element_ops,
        **{name: getattr(stats, name) for name in ACCESSES},
        "tcdm_reads": stats.tcdm_reads,
        "tcdm_writes": stats.tcdm_writes,
        "tcdm_read_bytes": stats.tcdm_reads * pmca.bank_width_bytes,
        "tcdm_write_bytes": stats.tcdm_writes * pmca.bank_width_bytes,
        "utilisation": stats.macs / (stats.cycles * peak) if op == "matmul" else 0.0,
        "dataflow": dataflow,
        "tcdm_bytes": held,
        "tcdm_total_bytes": sum(held.values()),
    }
