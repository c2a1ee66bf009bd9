"""The cycle-level cluster model, and its element-wise and DMA kernels (numba).

Matmuls run on the kernel the cluster would run: RedMulE (`redmule`) when the cluster has a
matrix engine, the register-blocked micro-tiles of streaming cores (`pmca_microtile`), or
PULP-NN's register blocks on load-use cores (`pmca_loaduse`). Element-wise functions and DMA
transfers run on `stream_kernel` below.

Each cycle every active core asks for the TCDM words its current step needs; each bank grants
one request per cycle, round-robin over requesters; a core whose words are not all granted
stalls and asks again (granted words are kept). Word `w` lives in bank `w % banks`.

Requesters: core c has ports 3c (operand a), 3c+1 (operand b), 3c+2 (result store); the DMA
engine's beat words come after the cores. With `streaming` (SSR + FREP) the core issues one SIMD
step per cycle once its operand words are granted and its ALU is free; stores go through their
own port in parallel. Without it (plain load-use code) a step is: load a, load b (one issue slot
each, retried until granted), the operation, then `loop_overhead` cycles of address and loop
instructions.

A kernel's operands are laid out one after the other at word bases chosen by the caller. The
functions return (cycles, stall_cycles, conflicts, dma_cycles): `stall_cycles` sums the cycles
cores waited for a bank; `conflicts` counts requests refused.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from aimcsim.hw.tcdm import _after, _bank, arbitrate_with_dma

_PORTS = 3


@njit(cache=True)
def stream_kernel(
    cores: int,
    banks: int,
    work: np.ndarray,  # per core: [first_output, end_output)
    steps: int,  # SIMD steps per output
    two_operands: bool,  # each step reads a and b (else only a)
    a_base: int, a_row: int, a_by_output: bool,
    b_base: int, b_row: int,
    c_base: int,
    n_cols: int,  # outputs per row of the result (matmul: n)
    op_cycles: int,  # ALU cycles per step
    streaming: bool,
    loop_overhead: int,
    dma_words: int, dma_base: int, dma_words_per_cycle: int,
) -> tuple[int, int, int, int]:
    """Run one kernel phase to completion; see the module docstring.

    Output o of a core is (i, j) = divmod(o, n_cols). Step s of it reads word
    a_base + i*a_row + s (a_by_output: a_base + o*a_row + s) and, with two operands,
    b_base + j*b_row + s; its result is stored at c_base + o. A DMA transfer of `dma_words`
    words (0: none) from dma_base runs alongside, `dma_words_per_cycle` consecutive words a beat.
    """
    n_req = cores * _PORTS + dma_words_per_cycle
    want = np.full(n_req, -1, np.int64)
    granted = np.zeros(n_req, np.bool_)
    rr = np.zeros(banks, np.int64)
    best = np.full(banks, -1, np.int64)
    mask = banks - 1 if banks & (banks - 1) == 0 else -1  # power of two: a cheap modulo
    out = work[:, 0].copy()
    end = work[:, 1].copy()
    step = np.zeros(cores, np.int64)
    need_a = np.ones(cores, np.bool_)
    need_b = np.full(cores, two_operands, np.bool_)
    store_at = np.full(cores, -1, np.int64)  # word of a pending store
    store_from = np.zeros(cores, np.int64)  # cycle its value is ready
    alu_free = np.zeros(cores, np.int64)  # first cycle the ALU (or issue slot) is free
    phase = np.zeros(cores, np.int64)  # load-use: 0 load a, 1 load b, 2 operate
    dma_next = 0
    dma_end = 0
    cycle = 0
    core_end = 0
    stall = 0
    conflicts = 0
    while True:
        active = False
        for c in range(cores):
            p0 = c * _PORTS
            want[p0] = -1
            want[p0 + 1] = -1
            want[p0 + 2] = -1
            if store_at[c] >= 0:
                active = True
                if cycle >= store_from[c]:
                    want[p0 + 2] = _bank(store_at[c], banks, mask)
            if out[c] >= end[c]:
                continue
            active = True
            o = out[c]

            a_word = a_base + (o if a_by_output else o // n_cols) * a_row + step[c]
            b_word = b_base + (o % n_cols) * b_row + step[c]
            if streaming:  # the stream units fetch ahead of the ALU
                if need_a[c]:
                    want[p0] = _bank(a_word, banks, mask)
                if need_b[c]:
                    want[p0 + 1] = _bank(b_word, banks, mask)
            elif cycle >= alu_free[c]:
                if phase[c] == 0:
                    want[p0] = _bank(a_word, banks, mask)
                elif phase[c] == 1:
                    want[p0 + 1] = _bank(b_word, banks, mask)
        if active:
            core_end = cycle + 1
        if not active and dma_next >= dma_words:
            break
        refused, dma_next, dma_end = arbitrate_with_dma(
            want, rr, granted, best, cores * _PORTS, dma_next, dma_end, dma_words, dma_base,
            dma_words_per_cycle, banks, mask, cycle)
        conflicts += refused
        for c in range(cores):
            p0 = c * _PORTS
            if want[p0 + 2] >= 0 and granted[p0 + 2]:
                store_at[c] = -1
            if out[c] >= end[c]:
                continue
            last_step = step[c] + 1 == steps
            if streaming:
                if need_a[c] and granted[p0]:
                    need_a[c] = False
                if need_b[c] and granted[p0 + 1]:
                    need_b[c] = False
                if need_a[c] or need_b[c]:
                    stall += 1
                    continue
                if cycle < alu_free[c]:
                    continue  # compute-bound, not a stall
                if last_step and store_at[c] >= 0:
                    stall += 1  # the store port still holds the previous result
                    continue
                alu_free[c] = cycle + op_cycles
                need_a[c] = True
                need_b[c] = two_operands
            else:
                if cycle < alu_free[c]:
                    continue
                if phase[c] == 0 or phase[c] == 1:
                    port = p0 if phase[c] == 0 else p0 + 1
                    if granted[port]:
                        phase[c] = 1 if phase[c] == 0 and two_operands else 2
                        alu_free[c] = cycle + 1
                    else:
                        stall += 1
                    continue
                if last_step and store_at[c] >= 0:
                    stall += 1
                    continue
                alu_free[c] = cycle + op_cycles + loop_overhead + (1 if last_step else 0)
                phase[c] = 0
            if last_step:
                store_at[c] = c_base + out[c]
                store_from[c] = cycle + op_cycles
                step[c] = 0
                out[c] += 1
            else:
                step[c] += 1
        cycle += 1
    for c in range(cores):
        core_end = max(core_end, alu_free[c])
    return core_end, stall, conflicts, dma_end


# ---- the model behind the PmcaModel interface ---------------------------------------------
import dataclasses  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from functools import lru_cache  # noqa: E402
from math import ceil  # noqa: E402

from aimcsim.hw import pmca_loaduse as loaduse  # noqa: E402
from aimcsim.hw import redmule  # noqa: E402
from aimcsim.hw.pmca import (  # noqa: E402
    KernelStats,
    ThroughputPmca,
    core_cycles,
    engine_cycles,
    operands,
    with_dma,
)
from aimcsim.hw.pmca_microtile import (  # noqa: E402
    closed_forms,
    layouts,
    microtile_matmul,
    padding_bytes,
)
from aimcsim.spec.arch import DTYPE_BYTES, Pmca  # noqa: E402


@dataclass(frozen=True)
class CycleLevelPmca:
    """Cycle-stepped cluster (see the module docstring); results memoised by shape."""

    pmca: Pmca
    dtype: str

    @property
    def lanes(self) -> int:
        return self.pmca.macs(self.dtype)

    def _finish(
        self, kernel: tuple[int, int, int, int], ideal: int, macs: int, dma_bytes: int = 0
    ) -> KernelStats:
        compute_end, _core_stalls, conflicts, dma_end = kernel
        p = self.pmca
        overhead = p.kernel_setup_cycles + p.barrier_cycles
        if compute_end < ideal:
            raise AssertionError(f"cycle model beat its closed form: {compute_end} < {ideal}")
        # the DMA core programs the transfer while the beats of earlier ones run: its set-up
        # is added to the beats rather than delaying them
        dma_total = p.dma_setup_cycles + dma_end if dma_bytes else 0
        wall, exposed = with_dma(compute_end, dma_total)
        return KernelStats(wall + overhead, ideal, exposed, compute_end - ideal, overhead, macs,
                           conflicts)

    def _dma_words(self, nbytes: int) -> tuple[int, int]:
        p = self.pmca
        return ceil(nbytes / p.bank_width_bytes), p.dma_bytes_per_cycle // p.bank_width_bytes

    @lru_cache(maxsize=4096)  # noqa: B019 - frozen, hashable instances; shapes repeat a lot
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
        """Load-use cores (`aimcsim.hw.pmca_loaduse`, PULP-NN's register-blocked kernel): the
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
        """Streaming cores (`aimcsim.hw.pmca_microtile`): the fastest of the dataflows
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
        kernel = stream_kernel(p.cores, p.tcdm_banks, work.astype(np.int64), 1, two, 0, 1, True,
                               b_base, 1, c_base, max(vectors, 1), cpv, p.streaming,
                               p.loop_overhead_cycles, 0, 0, 1)
        per = int((work[:, 1] - work[:, 0]).max())
        ideal = core_cycles(per, 1, operands(function), cpv, p.streaming, p.loop_overhead_cycles)
        return self._finish(kernel, ideal, elements)

    @lru_cache(maxsize=4096)  # noqa: B019
    def dma(self, nbytes: int) -> KernelStats:
        p = self.pmca
        words = ceil(nbytes / p.bank_width_bytes)
        per_beat = p.dma_bytes_per_cycle // p.bank_width_bytes
        idle = np.zeros((p.cores, 2), np.int64)
        _, _, conflicts, moving = stream_kernel(p.cores, p.tcdm_banks, idle, 1, False, 0, 1, False,
                                                0, 1, 0, 1, 1, True, 0, words, 0, per_beat)
        busy = p.dma_setup_cycles + moving
        return KernelStats(busy, 0, busy, 0, 0, 0, conflicts)


#: The cluster models by `pmca.timing` value (the spec's TIMINGS lists the same names).
CLUSTER_MODELS: dict[str, type] = {"cycle-level": CycleLevelPmca, "throughput": ThroughputPmca}


def cluster_model(pmca: Pmca, dtype: str):
    """The cluster model `pmca.timing` asks for."""
    return CLUSTER_MODELS[pmca.timing](pmca, dtype)


KERNEL_OPS = ("matmul", "add", "norm", "add_norm", "relu", "softmax", "dma")


def run_kernel(pmca: Pmca, op: str, m: int = 1, k: int = 1, n: int = 1, *,
               dtype: str = "fp16", accumulate: bool = False) -> dict[str, float | int]:
    """Run one kernel on the cycle-level cluster and return its statistics.

    op: matmul (m x k) @ (k x n) (with `accumulate`, C += A B); an element-wise function
    over m x n values; or dma of m x n elements. Returns cycles, MAC utilisation (MACs /
    (cycles x peak MACs a cycle)), bank-conflict stall cycles, DMA cycles and the TCDM bytes
    of each buffer.
    """
    if op not in KERNEL_OPS:
        raise ValueError(f"op {op!r} is not one of {', '.join(KERNEL_OPS)}")
    model = CycleLevelPmca(pmca, dtype)
    eb = DTYPE_BYTES[dtype]
    dataflow = ""
    if op == "matmul":
        stats = model.matmul(m, k, n, accumulate=accumulate)
        dataflow = model.matmul_dataflow(m, k, n, accumulate)
        buffers = {"a": m * k * eb, "b": k * n * eb, "c": m * n * eb}
    elif op == "dma":
        stats = model.dma(m * n * eb)
        buffers = {"transfer": m * n * eb}
    else:
        stats = model.elementwise(op, m * n)
        buffers = {"a": m * n * eb, **({"b": m * n * eb} if operands(op) == 2 else {})}
    engine = pmca.matrix_engine
    peak = engine.fmas if engine and op == "matmul" else pmca.cores * model.lanes
    return {
        "op": op, "m": m, "k": k, "n": n, "dtype": dtype, "accumulate": accumulate,
        "cycles": stats.cycles,
        "compute_cycles": stats.compute_cycles,
        "stall_cycles": stats.stall_cycles,
        "bank_conflicts": stats.conflicts,
        "dma_cycles": stats.dma_cycles,
        "overhead_cycles": stats.overhead_cycles,
        "macs": stats.macs,
        "utilisation": stats.macs / (stats.cycles * peak) if op == "matmul" else 0.0,
        "dataflow": dataflow,
        "tcdm_bytes": {**buffers, **({"padding": stats.padding_bytes} if stats.padding_bytes
                                     else {})},
        "tcdm_total_bytes": sum(buffers.values()) + stats.padding_bytes,
    }
