"""Register-blocked matmul on load-use cores (PULP: RI5CY/CV32E40P with Xpulp), cycle by cycle.

Modelled on PULP-NN's matmul kernel (pulp-platform/pulp-nn, `32bit/src/pulp_nn_matmul.c`,
Garofalo et al., Phil. Trans. R. Soc. A 2020): each core computes micro-tiles of `MR` rows of
the left operand (pixels; here tokens) by `NR` rows of the transposed right operand (output
channels), `MR x NR` = 8 accumulators held in registers. Per SIMD step along k (one `lanes`-wide
word of each operand) the inner loop loads the `NR` weight words and the `MR` input words
(post-incrementing loads: no address instructions) and issues `MR x NR` dot products (`sdotp`,
`lanes` MACs each) under a hardware loop (`loop_overhead_cycles` more per step; 0 for the
published kernel). Around the loop a micro-tile spends:

- set-up: one pointer per operand row (`MR + NR`) and the hardware-loop set-up (1);
- accumulator initialisation: one instruction each (`li`, or the bias); accumulating (C += A B)
  instead loads the output's C value and scales it to the accumulator (a load, a shift);
- epilogue: per output a requantisation (shift, clip: 2) and a store.

Timing rules: one instruction issues per cycle; loads and stores are single-cycle TCDM accesses
on the core's one port, retried each cycle until the bank grants them (the core stalls); a dot
product on an accumulator issues at least `latency` cycles after the previous one on it. Edge
micro-tiles have fewer rows or columns. Micro-tiles (row-major over the output) are split into
contiguous equal shares, one per core, so that skinny outputs (X A with n = r) keep every core
busy. Operands are k-contiguous rows: A (m x k) as stored, B transposed (n x k, PULP-NN's
weight layout); C is m x n. Requests go through `tcdm.arbitrate_with_dma`.

What a kernel writer would vary, the model tries (`layouts`; `CycleLevelPmca` runs the
candidates and keeps the fastest, fewer padding bytes among equals): rows padded to a pitch
coprime with the bank count or not, and the cores' loops in step or rotated. In step, cores that
share the columns of B walk the same words at once and meet in their banks every step.
"""

from __future__ import annotations

from math import ceil

import numpy as np
from numba import njit

from aimcsim.hw.pmca.microtile import coprime_padding
from aimcsim.hw.pmca.tcdm import Dma, _after, _bank, arbiter, arbitrate_with_dma, grant_counts

MR = 2  # rows of A per micro-tile (PULP-NN: two pixels, pB and pB2)
NR = 4  # rows of B^T per micro-tile (PULP-NN: four output channels, pA .. pA4)
REQUANT = 2  # instructions per output before its store (clip8(sum >> out_shift))


@njit(cache=True)
def loaduse_kernel(
    cores: int, banks: int, bank_bytes: int,
    tile_first: np.ndarray,  # per core: [first, end) index into the micro-tiles
    tiles_n: int, m: int, n: int,
    steps: int, step_bytes: int,  # SIMD steps per output, bytes of one operand word
    a_base: int, a_row: int, b_base: int, b_row: int, c_base: int,  # bytes
    eb: int, loop_overhead: int, latency: int, c_load: bool, stagger: bool,
    dma: Dma, limit: int,
) -> tuple[int, int, int, int, np.ndarray]:
    """Run the cores' micro-tiles; returns (cycles, stall_cycles, conflicts, dma_end, grants)
    as `stream.stream_kernel` (every load and store is the cores' own: `core_*`). Micro-tile
    t covers rows MR*(t // tiles_n) and columns NR*(t % tiles_n) onwards. With `stagger`,
    core c starts its share at its (c mod share)-th micro-tile and wraps around (a loop
    rotation: cores whose shares walk the same columns do not ask for the same words at
    once). With `limit` > 0 it gives up after `limit` cycles and returns limit + 1 (a layout
    that cannot beat one already found)."""
    dma_words, dma_base, dma_words_per_cycle = dma
    n_req = cores + dma_words_per_cycle
    want, granted, rr, best, mask = arbiter(n_req, banks)
    pos = np.zeros(cores, np.int64)  # micro-tiles done
    count = tile_first[:, 1] - tile_first[:, 0]
    shift = np.zeros(cores, np.int64)
    tile = tile_first[:, 0].copy()
    for c in range(cores):
        if stagger and count[c] > 0:
            shift[c] = c % count[c]
            tile[c] = tile_first[c, 0] + shift[c]
    # phase: 0 set-up, 1 C load, 2 C scale, 3 operand loads, 4 dot products, 5 requantise,
    # 6 store, 7 done; idx counts within the phase
    phase = np.zeros(cores, np.int64)
    idx = np.zeros(cores, np.int64)
    s = np.zeros(cores, np.int64)
    busy = np.zeros(cores, np.int64)  # first cycle the core may issue again
    dot_from = np.zeros(cores, np.int64)  # first cycle the next step's dot products may start
    word = np.zeros(cores, np.int64)  # the word of the pending memory instruction
    for c in range(cores):
        if count[c] == 0:
            phase[c] = 7
    dma_next = 0
    dma_end = 0
    cycle = 0
    end = 0
    stall = 0
    conflicts = 0
    reads = 0
    writes = 0
    while True:
        if 0 < limit < cycle:
            return limit + 1, stall, conflicts, dma_end, grant_counts(reads, writes, 0, 0, 0,
                                                                      0, dma_next)
        active = False
        for c in range(cores):
            want[c] = -1
            # run the core's non-memory instructions until it reaches a memory one
            while phase[c] != 7 and cycle >= busy[c]:
                t = tile[c]
                i0 = MR * (t // tiles_n)
                j0 = NR * (t % tiles_n)
                mr = min(MR, m - i0)
                nr = min(NR, n - j0)
                if phase[c] == 0:  # pointers, hardware loop; initialise accumulators
                    dot_from[c] = 0  # fresh accumulators
                    busy[c] = max(busy[c], cycle) + mr + nr + 1 + (0 if c_load else mr * nr)
                    phase[c] = 1 if c_load else 3
                    idx[c] = 0
                elif phase[c] == 1:  # load C(i, j) of accumulator idx
                    q = idx[c]
                    word[c] = (c_base + ((i0 + q // nr) * n + j0 + q % nr) * eb) // bank_bytes
                    break
                elif phase[c] == 2:  # scale it into the accumulator
                    busy[c] = max(busy[c], cycle) + 1
                    idx[c] += 1
                    phase[c] = 1 if idx[c] < mr * nr else 3
                    if phase[c] == 3:
                        idx[c] = 0
                elif phase[c] == 3:  # the step's operand words: B^T rows, then A rows
                    q = idx[c]
                    if q < nr:
                        word[c] = (b_base + (j0 + q) * b_row + s[c] * step_bytes) // bank_bytes
                    else:
                        word[c] = (a_base + (i0 + q - nr) * a_row + s[c] * step_bytes) \
                            // bank_bytes
                    break
                elif phase[c] == 4:  # the dot products, then the loop's own instructions
                    start = max(busy[c], cycle, dot_from[c])
                    dot_from[c] = start + latency
                    busy[c] = start + mr * nr + loop_overhead
                    s[c] += 1
                    idx[c] = 0
                    if s[c] < steps:
                        phase[c] = 3
                    else:
                        s[c] = 0
                        phase[c] = 5
                elif phase[c] == 5:  # requantise output idx
                    busy[c] = max(busy[c], cycle) + REQUANT
                    phase[c] = 6
                else:  # phase 6: store output idx
                    q = idx[c]
                    word[c] = (c_base + ((i0 + q // nr) * n + j0 + q % nr) * eb) // bank_bytes
                    break
            if phase[c] == 7:
                end = max(end, busy[c])
                continue
            active = True
            if cycle >= busy[c]:
                want[c] = _bank(word[c], banks, mask)
        if not active and dma_next >= dma_words:
            break
        refused, dma_next, dma_end = arbitrate_with_dma(
            want, rr, granted, best, cores, dma_next, dma_end, dma_words, dma_base,
            dma_words_per_cycle, banks, mask, cycle)
        conflicts += refused
        for c in range(cores):
            if want[c] < 0:
                continue
            if not granted[c]:
                stall += 1
                continue
            busy[c] = cycle + 1
            t = tile[c]
            mr = min(MR, m - MR * (t // tiles_n))
            nr = min(NR, n - NR * (t % tiles_n))
            if phase[c] == 1:
                reads += 1
                phase[c] = 2
            elif phase[c] == 3:
                reads += 1
                idx[c] += 1
                if idx[c] == mr + nr:
                    phase[c] = 4
            else:  # a store
                writes += 1
                idx[c] += 1
                if idx[c] < mr * nr:
                    phase[c] = 5
                else:
                    pos[c] += 1
                    tile[c] = tile_first[c, 0] + (pos[c] + shift[c]) % max(count[c], 1)
                    idx[c] = 0
                    phase[c] = 0 if pos[c] < count[c] else 7
                    if phase[c] == 7:
                        end = max(end, busy[c])
        cycle += 1
    return end, stall, conflicts, dma_end, grant_counts(reads, writes, 0, 0, 0, 0, dma_next)


def plan(m: int, n: int, cores: int) -> tuple[np.ndarray, int]:
    """Contiguous equal shares of the MR x NR micro-tiles (row-major) per core, and the
    micro-tiles per row of the output."""
    tiles_n = ceil(n / NR)
    tiles = ceil(m / MR) * tiles_n
    per = ceil(tiles / cores) if tiles else 0
    starts = np.minimum(np.arange(cores, dtype=np.int64) * per, tiles)
    return np.stack([starts, np.minimum(starts + per, tiles)], axis=1), tiles_n


def tile_cycles(mr: int, nr: int, steps: int, loop_overhead: int, latency: int,
                accumulate: bool) -> int:
    """One micro-tile without conflicts: set-up, accumulator initialisation (or C load and
    scale), the steps (a dependent dot product at least `latency` after the previous one), the
    requantisation and stores."""
    init = 2 * mr * nr if accumulate else mr * nr
    body = mr + nr + mr * nr + loop_overhead
    loop = steps * body + (steps - 1) * max(0, latency - body) if steps else 0
    return mr + nr + 1 + init + loop + (REQUANT + 1) * mr * nr


def closed_form_cycles(m: int, k: int, n: int, cores: int, lanes: int, loop_overhead: int,
                       latency: int, accumulate: bool) -> int:
    """The busiest core's cycles without TCDM conflicts."""
    first, tiles_n = plan(m, n, cores)
    steps = ceil(k / lanes)
    busiest = 0
    for begin, stop in first:
        total = 0
        for t in range(begin, stop):
            mr = min(MR, m - MR * (t // tiles_n))
            nr = min(NR, n - NR * (t % tiles_n))
            total += tile_cycles(mr, nr, steps, loop_overhead, latency, accumulate)
        busiest = max(busiest, total)
    return busiest


def _row_bytes(k: int, lanes: int, eb: int, bank_bytes: int) -> int:
    """Bytes of a k-contiguous operand row: whole SIMD words, rounded up to a bank word."""
    return ceil(ceil(k / lanes) * lanes * eb / bank_bytes) * bank_bytes


def layouts(m: int, k: int, n: int, lanes: int, eb: int, bank_bytes: int, banks: int
            ) -> list[tuple[int, int, bool]]:
    """Candidate (A pad, B^T pad, stagger): rows as they are or padded in words up to a pitch
    coprime with the bank count (`microtile.coprime_padding`), so that rows a whole number
    of bank rows apart do not send every core to the same bank at the same step; and the
    cores' loops in step or rotated (`loaduse_kernel`'s `stagger`, which costs no bytes)."""
    pad = coprime_padding(_row_bytes(k, lanes, eb, bank_bytes) // bank_bytes, banks)
    pads = sorted({0, pad})
    return [(a, b, stagger) for a in (pads if m > 1 else [0]) for b in (pads if n > 1 else [0])
            for stagger in (False, True)]


def padding_bytes(m: int, n: int, bank_bytes: int, a_pad: int, b_pad: int) -> int:
    """TCDM bytes a layout's padding adds."""
    return (m * a_pad + n * b_pad) * bank_bytes


def loaduse_matmul(
    cores: int, banks: int, bank_bytes: int, lanes: int, eb: int, loop_overhead: int,
    latency: int, m: int, k: int, n: int, accumulate: bool, dma_words: int = 0,
    dma_per_beat: int = 1, layout: tuple[int, int, bool] = (0, 0, False), limit: int = 0,
) -> tuple[int, int, int, int, np.ndarray]:
    """One matmul on the register-blocked kernel: A, B^T and C one after the other (each
    starting half a bank row on, as `tcdm._after`), rows of A and B^T `layout[:2]` words
    longer than their data, the cores' loops rotated if `layout[2]`."""
    pads = layout[:2]
    first, tiles_n = plan(m, n, cores)
    row = _row_bytes(k, lanes, eb, bank_bytes)
    a_row, b_row = row + pads[0] * bank_bytes, row + pads[1] * bank_bytes
    b_base = _after(0, m * a_row // bank_bytes, banks)
    c_base = _after(b_base, n * b_row // bank_bytes, banks)
    dma_base = _after(c_base, ceil(m * n * eb / bank_bytes), banks)
    return loaduse_kernel(cores, banks, bank_bytes, first, tiles_n, m, n, ceil(k / lanes),
                          lanes * eb, 0, a_row, b_base * bank_bytes, b_row,
                          c_base * bank_bytes, eb, loop_overhead, latency, accumulate,
                          layout[2], Dma(dma_words, dma_base, dma_per_beat), limit)
