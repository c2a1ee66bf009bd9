"""PMCA (RISC-V multi-core cluster): kernel cost models behind one interface.

A `PmcaModel` answers how many cluster cycles a kernel takes and where they go
(`KernelStats`). The network simulation only talks to this interface, so the throughput model
here and a cycle-level model can stand in for each other. Every kernel phase ends with a
cluster barrier; each core spends `kernel_setup_cycles` on loop and address set-up first.
What a kernel's work alone fixes (its counters, a floor on its cycles) says whether a timing read
back from the kernel store can be the kernel's (`implausible`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from math import ceil
from typing import Any, Protocol

import aimcsim.hw.pmca.redmule as redmule
from aimcsim.hw.pmca.loaduse import closed_form_cycles as loaduse_cycles
from aimcsim.hw.pmca.microtile import closed_forms, matmul_dataflows
from aimcsim.hw.pmca.params import MatrixEngine, Pmca
from aimcsim.hw.pmca.traffic import kernel_counters, operands
from aimcsim.params.units import DTYPE_BYTES


@dataclass(frozen=True)
class KernelStats:
    """Cost of one kernel (or a sequence of kernels) on one cluster, in cluster cycles.

    cycles: wall-clock cycles from start to the end of the last barrier.
    compute_cycles: cycles the busiest core issues MACs or element-wise work.
    dma_cycles: cycles the cores wait for the DMA (its set-up and its beats).
    stall_cycles: cycles lost to contention (TCDM bank conflicts); 0 in the throughput model.
    overhead_cycles: set-up and barrier cycles.
    macs: multiply-accumulates of matmuls. element_ops: results of element-wise functions.
    dma_bytes: bytes the DMA moved in.
    TCDM bank word accesses (each of one `bank_width_bytes` word, however much of it the
    kernel uses), by requester (`tcdm.ACCESSES`; by formula in `traffic`, as granted by the
    cycle-level kernels): core_reads / core_writes the cores' load/store units (C loads,
    epilogue stores, load-use loads and stores), stream_reads / stream_writes the streaming
    cores' stream ports, engine_reads / engine_writes the matrix engine's port, dma_writes the
    DMA's words; `tcdm_reads` and `tcdm_writes` their sums.

    Invariant: cycles = compute + dma + stall + overhead.
    """

    cycles: int = 0
    compute_cycles: int = 0
    dma_cycles: int = 0
    stall_cycles: int = 0
    overhead_cycles: int = 0
    macs: int = 0
    conflicts: int = 0  # TCDM requests refused by bank arbitration
    padding_bytes: int = 0  # TCDM the kernel's operand layout adds to its buffers
    element_ops: int = 0
    dma_bytes: int = 0
    core_reads: int = 0
    core_writes: int = 0
    stream_reads: int = 0
    stream_writes: int = 0
    engine_reads: int = 0
    engine_writes: int = 0
    dma_writes: int = 0

    @property
    def tcdm_reads(self) -> int:
        """TCDM word accesses that read, of every requester."""
        return self.core_reads + self.stream_reads + self.engine_reads

    @property
    def tcdm_writes(self) -> int:
        """TCDM word accesses that write, of every requester."""
        return self.core_writes + self.stream_writes + self.engine_writes + self.dma_writes

    @classmethod
    def from_record(cls, record: Any) -> KernelStats:
        """The stats a record by field name holds (a stored JSON object), checked: exactly the
        fields of `KernelStats`, each an int (not a bool or a float) from 0 to `MAX_COUNT`,
        and cycles the sum of its parts. Raises ValueError naming the field and its value."""
        if not isinstance(record, dict):
            raise ValueError(f"not an object of counters: {_short(record)}")
        if record.keys() != _FIELDS:
            missing = sorted(_FIELDS - record.keys())
            unknown = sorted(map(str, record.keys() - _FIELDS))
            raise ValueError(f"fields missing {_short(missing)}, unknown {_short(unknown)}")
        counts = record.values()
        if set(map(type, counts)) != {int} or min(counts) < 0 or max(counts) > MAX_COUNT:
            name, count = next((name, count) for name, count in record.items()
                               if type(count) is not int or not 0 <= count <= MAX_COUNT)
            raise ValueError(f"{name} = {_short(count)} is not an int from 0 to {MAX_COUNT}")
        stats = cls(**record)
        parts = stats.compute_cycles + stats.dma_cycles + stats.stall_cycles + \
            stats.overhead_cycles
        if stats.cycles != parts:
            raise ValueError(f"cycles = {stats.cycles}, not compute + dma + stall + overhead "
                             f"= {parts}")
        return stats

    def then(self, other: KernelStats) -> KernelStats:
        """The two kernels one after the other."""
        return KernelStats(**{f.name: getattr(self, f.name) + getattr(other, f.name)
                              for f in dataclasses.fields(self)})

    def times(self, count: int) -> KernelStats:
        """`count` repetitions back to back (on the same buffers: the padding once)."""
        return KernelStats(**{f.name: getattr(self, f.name) * (1 if f.name == "padding_bytes"
                                                                else count)
                              for f in dataclasses.fields(self)})


#: Largest count a checked record may hold (`KernelStats.from_record`): integers beyond 2**53
#: are not exact in most JSON readers, and no kernel of a cluster the spec allows comes near.
MAX_COUNT = 2**53
_FIELDS = frozenset(f.name for f in dataclasses.fields(KernelStats))
_SHORT = 60  # characters of a bad value a message quotes


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHORT else f"{text[:_SHORT]}... ({len(text)} characters)"


def engine_cycles(
    m: int, k: int, n: int, engine: MatrixEngine, eb: int, bank_bytes: int,
    accumulate: bool = False,
) -> int:
    """RedMulE's schedule without bank conflicts (`aimcsim.hw.pmca.redmule.closed_form_cycles`);
    `transposed` runs C^T = B^T A^T, an n x k x m product."""
    if engine.orientation == "transposed":
        m, n = n, m
    return redmule.closed_form_cycles(m, k, n, engine.rows, engine.height, engine.pipe_regs, eb,
                                      bank_bytes, accumulate)


def with_dma(compute: int, dma_total: int) -> tuple[int, int]:
    """(wall cycles, exposed DMA cycles) of compute with a concurrent DMA transfer."""
    return max(compute, dma_total), max(0, dma_total - compute)


def peak_macs_per_cycle(pmca: Pmca, dtype: str) -> int:
    """MACs the cluster can issue a cycle: the matrix engine's FMA units where it has one (it
    runs the matmuls), else every core's SIMD lanes of `dtype`."""
    engine = pmca.matrix_engine
    return engine.fmas if engine is not None else pmca.cores * pmca.macs(dtype)


def dma_busy_cycles(pmca: Pmca, nbytes: int) -> int:
    """Cycles the DMA needs for `nbytes` at its bandwidth: the descriptor's set-up, then the
    beats (the cycle-level model's beats can only take longer)."""
    return pmca.dma_setup_cycles + ceil(nbytes / pmca.dma_bytes_per_cycle)


def elementwise_compute_cycles(pmca: Pmca, dtype: str, function: str, elements: int) -> int:
    """The busiest core's cycles of `function` over `elements` values without conflicts: its
    share, in whole vectors of the dtype's lanes, at the function's cycles per vector."""
    vectors = ceil(ceil(elements / pmca.cores) / pmca.macs(dtype))
    return core_cycles(vectors, 1, operands(function), pmca.elementwise_cycles(function),
                       pmca.streaming, pmca.loop_overhead_cycles)


def implausible(pmca: Pmca, dtype: str, kind: str, stats: KernelStats, *, m: int = 0,
                k: int = 0, n: int = 0, accumulate: bool = False, function: str = "",
                elements: int = 0, dma_bytes: int = 0) -> str:
    """Why `stats` cannot be the cost of this kernel (as `traffic.kernel_counters` names it)
    on this cluster in any cluster model, or '' when it can.

    The counters that depend on the work alone must be the kernel's (`kernel_counters`: its
    MACs, element results, DMA bytes and TCDM accesses; a streaming matmul's those of one of
    the dataflows the cluster allows), the overhead the cluster's set-up and barrier (none for
    a DMA transfer), the compute cycles those of the conflict-free schedule (element-wise
    functions and DMA transfers) or at least the MACs at the peak MACs a cycle (matmuls), and
    the cycles at least the overhead plus the longer of that compute and the DMA's time at its
    bandwidth (so a kernel with any work takes a cycle at least; one without, on a cluster
    with no set-up or barrier cycles, may take none).
    """
    work = {"m": m, "k": k, "n": n, "accumulate": accumulate, "function": function,
            "elements": elements, "dma_bytes": dma_bytes}
    flows = matmul_dataflows(pmca, pmca.macs(dtype)) if kind == "matmul" and pmca.streaming \
        and pmca.matrix_engine is None else ("",)
    problems = [_mismatch(stats, kernel_counters(pmca, dtype, kind, dataflow=dataflow, **work),
                          dataflow) for dataflow in flows]
    if all(problems):
        return problems[0]
    overhead = 0 if kind == "dma" else pmca.kernel_setup_cycles + pmca.barrier_cycles
    if stats.overhead_cycles != overhead:
        return f"overhead_cycles = {stats.overhead_cycles}, the cluster's is {overhead}"
    if kind == "matmul":
        compute = ceil(m * k * n / peak_macs_per_cycle(pmca, dtype))
        if stats.compute_cycles < compute:
            return (f"compute_cycles = {stats.compute_cycles}, fewer than {m * k * n} "
                    f"MACs at the cluster's peak take ({compute})")
    else:
        compute = elementwise_compute_cycles(pmca, dtype, function, elements) \
            if kind == "elementwise" else 0
        if stats.compute_cycles != compute:
            return f"compute_cycles = {stats.compute_cycles}, the kernel's is {compute}"
    dma = dma_busy_cycles(pmca, dma_bytes) if dma_bytes else 0
    least = overhead + max(compute, dma)
    if stats.cycles < least:
        return (f"cycles = {stats.cycles}, fewer than the kernel's work takes at the cluster's "
                f"peak and DMA bandwidth ({least})")
    return ""


def _mismatch(stats: KernelStats, counters: dict[str, int], dataflow: str) -> str:
    """The first of `counters` that `stats` does not hold, said, or ''."""
    for name, count in counters.items():
        if getattr(stats, name) != count:
            return f"{name} = {getattr(stats, name)}, the kernel's is {count}" + (
                f" ({dataflow})" if dataflow else "")
    return ""


def core_cycles(
    outputs: int, steps: int, operands_: int, op_cycles: int, streaming: bool, loop_overhead: int,
) -> int:
    """Cycles of one core computing `outputs` element-wise results of `steps` SIMD steps each,
    no conflicts.

    streaming (SSR + FREP): one step per `op_cycles`, plus one cycle to store the last result.
    load-use: per step one issue slot per operand load, the operation, `loop_overhead` cycles;
    per output one store.
    """
    if outputs == 0:
        return 0
    if streaming:
        return outputs * steps * op_cycles + 1
    return outputs * (steps * (operands_ + op_cycles + loop_overhead) + 1)


class PmcaModel(Protocol):
    """What the network simulation asks of a cluster model."""

    pmca: Pmca
    dtype: str

    def matmul(
        self, m: int, k: int, n: int, dma_bytes: int = 0, accumulate: bool = False
    ) -> KernelStats:
        """(m x k) @ (k x n) with operands in TCDM, on the cores or the matrix engine.

        dma_bytes: a DMA transfer of that size runs alongside (double buffering); only the
        part that outlasts the compute shows in `dma_cycles`.
        accumulate: C += A B, each output starting from the value already in C (a GEMM with
        beta = 1; RedMulE's Z = Y + X W).
        """
        ...

    def elementwise(self, function: str, elements: int) -> KernelStats:
        """`function` over `elements` values in TCDM, split over the cores."""
        ...

    def dma(self, nbytes: int) -> KernelStats:
        """Move `nbytes` between cluster L2 and TCDM with the cores waiting."""
        ...


@dataclass(frozen=True)
class ThroughputPmca:
    """Cluster timing from per-core throughput, as if the TCDM had no bank conflicts.

    matmul: set-up + the conflict-free cycles of the kernel the cluster runs (RedMulE's
    schedule, the streaming cores' micro-tiles, the load-use cores' register blocks) + barrier.
    elementwise: ceil(ceil(elements/cores) / lanes) vectors
    of `elementwise_cycles_per_vector` each. dma: dma_setup_cycles + ceil(bytes / bytes per
    cycle). The cycle-level model gives the same cycles when no request is ever refused.
    TCDM accesses by formula (`traffic`), of the dataflow streaming cores would pick: the
    fewest conflict-free cycles, k-simd among equals.
    """

    pmca: Pmca
    dtype: str

    @property
    def lanes(self) -> int:
        return self.pmca.macs(self.dtype)

    @lru_cache(maxsize=4096)  # noqa: B019 - frozen, hashable instances; shapes repeat a lot
    def matmul(
        self, m: int, k: int, n: int, dma_bytes: int = 0, accumulate: bool = False
    ) -> KernelStats:
        p = self.pmca
        dataflow = ""
        if p.matrix_engine is not None:
            compute = engine_cycles(m, k, n, p.matrix_engine, DTYPE_BYTES[self.dtype],
                                    p.bank_width_bytes, accumulate)
        elif p.streaming:
            ideals = closed_forms(p, self.dtype, m, k, n, accumulate)
            dataflow = min(ideals, key=ideals.__getitem__)  # the first among equals
            compute = ideals[dataflow]
        else:
            compute = loaduse_cycles(m, k, n, p.cores, self.lanes, p.loop_overhead_cycles,
                                     p.fpu_latency(self.dtype), accumulate)
        dma_total = dma_busy_cycles(p, dma_bytes) if dma_bytes else 0
        wall, exposed = with_dma(compute, dma_total)
        overhead = p.kernel_setup_cycles + p.barrier_cycles
        return KernelStats(wall + overhead, compute, exposed, 0, overhead, **kernel_counters(
            p, self.dtype, "matmul", m=m, k=k, n=n, accumulate=accumulate, dma_bytes=dma_bytes,
            dataflow=dataflow))

    @lru_cache(maxsize=4096)  # noqa: B019
    def elementwise(self, function: str, elements: int) -> KernelStats:
        p = self.pmca
        compute = elementwise_compute_cycles(p, self.dtype, function, elements)
        overhead = p.kernel_setup_cycles + p.barrier_cycles
        return KernelStats(compute + overhead, compute, 0, 0, overhead, **kernel_counters(
            p, self.dtype, "elementwise", function=function, elements=elements))

    @lru_cache(maxsize=4096)  # noqa: B019
    def dma(self, nbytes: int) -> KernelStats:
        busy = dma_busy_cycles(self.pmca, nbytes)
        return KernelStats(busy, 0, busy, 0, 0, **kernel_counters(
            self.pmca, self.dtype, "dma", dma_bytes=nbytes))
