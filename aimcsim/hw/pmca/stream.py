"""Element-wise and DMA kernels, cycle by cycle (numba): `stream_kernel`.

Each cycle every active core asks for the TCDM words its current step needs; each bank grants
one request per cycle, round-robin over requesters; a core whose words are not all granted
stalls and asks again (granted words are kept). Word `w` lives in bank `w % banks`.

Requesters: core c has ports 3c (operand a), 3c+1 (operand b), 3c+2 (result store); the DMA
engine's beat words come after the cores. With `streaming` (SSR + FREP) the core issues one SIMD
step per cycle once its operand words are granted and its ALU is free; stores go through their
own port in parallel. Without it (plain load-use code) a step is: load a, load b (one issue slot
each, retried until granted), the operation, then `loop_overhead` cycles of address and loop
instructions.

A kernel's operands are laid out one after the other at word bases chosen by the caller. Every
cycle-level kernel of this package returns (cycles, core_wait_cycles, conflicts, dma_end,
grants): `core_wait_cycles` sums, over the cores, the cycles a core waited for a bank (a
diagnostic the kernels' tests use); `conflicts` counts requests refused; `grants` the word
accesses granted, by requester class (`tcdm.ACCESSES`; here the operand and store ports are
`stream_*` with `streaming`, else `core_*`, and the DMA's words moved `dma_writes`). The
model's one stall figure, `KernelStats.stall_cycles`, is something else: the cycles the kernel
took beyond its conflict-free closed form.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from aimcsim.hw.pmca.tcdm import Dma, _bank, arbiter, arbitrate_with_dma, grant_counts

_PORTS = 3


class Operands(NamedTuple):
    """Where a stream kernel's operands are (word addresses) and what each output reads.

    Output o of a core is (i, j) = divmod(o, n_cols). Step s of it reads word
    a_base + i*a_row + s (a_by_output: a_base + o*a_row + s) and, with two operands,
    b_base + j*b_row + s; its result is stored at c_base + o.
    """

    steps: int  # SIMD steps per output
    two_operands: bool  # each step reads a and b (else only a)
    a_base: int
    a_row: int
    a_by_output: bool
    b_base: int
    b_row: int
    c_base: int
    n_cols: int  # outputs per row of the result


class Cores(NamedTuple):
    """How the cores issue: `op_cycles` ALU cycles per step; with `streaming` the operands come
    from stream registers, else each is a load (plus `loop_overhead` cycles a step)."""

    op_cycles: int
    streaming: bool
    loop_overhead: int




@njit(cache=True)
def stream_kernel(
    cores: int,
    banks: int,
    work: np.ndarray,  # per core: [first_output, end_output)
    ops: Operands,
    core: Cores,
    dma: Dma,
) -> tuple[int, int, int, int, np.ndarray]:
    """Run one kernel phase to completion; see the module docstring and the records."""
    steps, two_operands, a_base, a_row, a_by_output, b_base, b_row, c_base, n_cols = ops
    op_cycles, streaming, loop_overhead = core
    dma_words, dma_base, dma_words_per_cycle = dma
    n_req = cores * _PORTS + dma_words_per_cycle
    want, granted, rr, best, mask = arbiter(n_req, banks)
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
    reads = 0  # granted operand words
    writes = 0  # granted result stores
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
                writes += 1
                store_at[c] = -1
            if out[c] >= end[c]:
                continue
            last_step = step[c] + 1 == steps
            if streaming:
                if need_a[c] and granted[p0]:
                    reads += 1
                    need_a[c] = False
                if need_b[c] and granted[p0 + 1]:
                    reads += 1
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
                        reads += 1
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
    if streaming:
        return core_end, stall, conflicts, dma_end, grant_counts(0, 0, reads, writes, 0, 0,
                                                                 dma_next)
    return core_end, stall, conflicts, dma_end, grant_counts(reads, writes, 0, 0, 0, 0,
                                                             dma_next)
