"""Register-blocked matmul on streaming cores (Snitch SSR + FREP), cycle by cycle (numba).

Modelled on the published Snitch GEMM kernels (pulp-platform/snitch_cluster,
`sw/kernels/blas/gemm/src/gemm_fp{64,32,16}.h`, `*_opt`): rows of C are strided over the cores
(`gemm.h`: core c computes rows c, c + cores, ...), each row in micro-tiles of up to `unroll`
(8) accumulators held in registers. Two dataflows, for SIMD lanes of `lanes` elements:

- `k-simd` (the published kernels): a micro-tile is up to 8 outputs of one row; per SIMD step
  s along k, stream 0 delivers the A word (i, s) once and repeats it for the 8 FMAs (SSR
  repeat), stream 1 one B word (j, s) per FMA (B laid out k-contiguous per output). With lanes >
  1 every accumulator holds `lanes` partial sums: a prologue zeroes the accumulators and an
  epilogue reduces, packs and stores them (instruction counts below).
- `n-simd` (vectorised along n, for short k such as the LoRA T B with k = r): a micro-tile is
  up to 8 vector accumulators of `lanes` consecutive outputs; per step s (k scalar), one
  instruction replicates A(i, s) from stream 0 into a vector register, then 8 FMAs take one B
  word (s, j..j+lanes-1) each from stream 1. No reduction; the epilogue stores the vectors.

Timing rules: one FPU instruction issues per cycle. A stream fetches ahead into a FIFO of
`fifo_depth` words (SSR credits), one TCDM request per cycle; an FMA issues when its stream
words are there and its accumulator's previous FMA issued at least `latency` cycles before (the
FPU pipeline). The epilogue starts once every accumulator's last FMA has completed. C loads and
the epilogue's stores are load/store-unit instructions on the core's own port, one a cycle,
each waiting for its grant. Without an epilogue (one lane), the last step's FMAs write C
through stream 2, its own port: each result joins the stream's FIFO (`fifo_depth` words; a
full FIFO holds the FPU) when it completes and leaves when granted. Every TCDM request goes
through the same per-bank round-robin arbitration as `tcdm.arbitrate`.
"""

from __future__ import annotations

from math import ceil, gcd

import numpy as np
from numba import njit

from aimcsim.hw.pmca.tcdm import Dma, _after, _bank, arbiter, arbitrate_with_dma, grant_counts
from aimcsim.params.units import DTYPE_BYTES

UNROLL = 8  # accumulators per micro-tile in the published kernels (`const uint32_t unroll = 8`)
_PORTS = 4  # per core: stream 0 (A), stream 1 (B), load/store unit, stream 2 (writes C)


@njit(cache=True)
def microtile_kernel(
    cores: int, banks: int,
    tile_first: np.ndarray,  # per core: first and end index into the tile arrays
    tile_row: np.ndarray, tile_col: np.ndarray, tile_width: np.ndarray,
    steps: int,  # SIMD steps (k-simd) or k (n-simd) per micro-tile
    nsimd: bool,
    a_base: int, a_row: int, a_step_num: int, a_step_den: int,
    b_base: int, b_col: int, b_step: int,
    c_base: int, c_row: int, c_words_per_tile: np.ndarray,
    tile_prologue: np.ndarray, tile_epilogue: np.ndarray, c_load: bool,
    latency: int, fifo_depth: int,
    dma: Dma,
    limit: int,
) -> tuple[int, int, int, int, np.ndarray]:
    """Run the cores' micro-tiles to completion; returns (cycles, stall_cycles, conflicts,
    dma_end, grants) like `stream.stream_kernel`, whose DMA beats this kernel shares: streams
    0 and 1 read and stream 2 writes as `stream_*`, the load/store unit's C loads and stores
    are `core_*`. With
    `limit` > 0 it gives up, returning limit + 1 cycles, once it cannot end by `limit`: past it,
    or a core has more instructions left than cycles to it (a layout that cannot beat one
    already found).

    Word addresses: A(i, s) = a_base + i*a_row + (s*a_step_num)//a_step_den; B of accumulator
    q at step s = b_base + (col + q)*b_col + s*b_step; a tile's C words start at
    c_base + row*c_row + (col*c_words_per_tile[t])//width. `tile_prologue` and `tile_epilogue`
    are FPU instructions per micro-tile; the epilogue's last `c_words_per_tile[t]` instructions
    are the stores; with `c_load` the prologue starts with the tile's C-word loads.
    """
    dma_words, dma_base, dma_words_per_cycle = dma
    n_req = cores * _PORTS + dma_words_per_cycle
    dma_next = 0
    dma_end = 0
    want, granted, rr, best, mask = arbiter(n_req, banks)
    tile = tile_first[:, 0].copy()
    phase = np.zeros(cores, np.int64)  # 0 prologue, 1 steps, 2 epilogue, 3 done
    slot = np.zeros(cores, np.int64)  # instruction within the prologue or epilogue
    s = np.zeros(cores, np.int64)
    q = np.zeros(cores, np.int64)  # next instruction of the step (n-simd: 0 replicates A)
    ready = np.zeros((cores, UNROLL), np.int64)  # when each accumulator's last FMA completes
    # stream cursors (tile, step, accumulator) and FIFO levels
    a_t = tile_first[:, 0].copy()
    a_s = np.zeros(cores, np.int64)
    a_level = np.zeros(cores, np.int64)
    b_t = tile_first[:, 0].copy()
    b_s = np.zeros(cores, np.int64)
    b_q = np.zeros(cores, np.int64)
    b_level = np.zeros(cores, np.int64)
    # stream 2: a ring of `fifo_depth` results (their completion cycles) per core
    out_ready = np.zeros((cores, fifo_depth), np.int64)
    out_head = np.zeros(cores, np.int64)
    out_count = np.zeros(cores, np.int64)
    out_word = np.zeros(cores, np.int64)  # address of the FIFO's head
    lsu = np.zeros(cores, np.bool_)  # the load/store unit asks this cycle
    left = np.zeros(cores, np.int64)  # instructions each core has still to issue
    for c in range(cores):
        if tile[c] >= tile_first[c, 1]:
            phase[c] = 3
        for t in range(tile_first[c, 0], tile_first[c, 1]):
            left[c] += (c_words_per_tile[t] if c_load else 0) + tile_prologue[t] \
                + steps * (tile_width[t] + (1 if nsimd else 0)) + tile_epilogue[t]
    cycle = 0
    end = 0
    stall = 0
    conflicts = 0
    stream_reads = 0
    stream_writes = 0
    core_reads = 0
    core_writes = 0
    while True:
        if limit > 0:  # one instruction a cycle at most: a core with more left than the
            given_up = cycle > limit  # cycles to the limit cannot finish in time
            for c in range(cores):
                if cycle + left[c] > limit:
                    given_up = True
            if given_up:
                return limit + 1, stall, conflicts, dma_end, grant_counts(
                    core_reads, core_writes, stream_reads, stream_writes, 0, 0, dma_next)
        active = False
        for c in range(cores):
            p0 = c * _PORTS
            want[p0] = -1
            want[p0 + 1] = -1
            want[p0 + 2] = -1
            want[p0 + 3] = -1
            lsu[c] = False
            if out_count[c] > 0:
                active = True
                if cycle >= out_ready[c, out_head[c]]:
                    want[p0 + 3] = _bank(out_word[c], banks, mask)
            if phase[c] == 3:
                continue
            active = True
            if a_t[c] < tile_first[c, 1] and a_level[c] < fifo_depth:
                t = a_t[c]
                word = a_base + tile_row[t] * a_row + (a_s[c] * a_step_num) // a_step_den
                want[p0] = _bank(word, banks, mask)
            if b_t[c] < tile_first[c, 1] and b_level[c] < fifo_depth:
                t = b_t[c]
                word = b_base + (tile_col[t] + b_q[c]) * b_col + b_s[c] * b_step
                want[p0 + 1] = _bank(word, banks, mask)
            if phase[c] == 1:
                continue  # FMAs only: the load/store unit is idle
            t = tile[c]
            words = c_words_per_tile[t]
            if c_load and phase[c] == 0 and slot[c] < words:  # load the tile's C
                word = c_base + tile_row[t] * c_row + (tile_col[t] * words) // tile_width[t]
                want[p0 + 2] = _bank(word + slot[c], banks, mask)
                lsu[c] = True
            elif phase[c] == 2 and slot[c] >= tile_epilogue[t] - words:  # an epilogue store
                done = 0
                for a in range(tile_width[t]):
                    done = max(done, ready[c, a])
                if cycle >= done:
                    word = c_base + tile_row[t] * c_row + (tile_col[t] * words) // tile_width[t]
                    want[p0 + 2] = _bank(word + slot[c] - (tile_epilogue[t] - words), banks,
                                         mask)
                    lsu[c] = True
        if active:
            end = cycle + 1
        if not active and dma_next >= dma_words:
            break
        refused, dma_next, dma_end = arbitrate_with_dma(
            want, rr, granted, best, cores * _PORTS, dma_next, dma_end, dma_words, dma_base,
            dma_words_per_cycle, banks, mask, cycle)
        conflicts += refused
        for c in range(cores):
            p0 = c * _PORTS
            if want[p0 + 3] >= 0 and granted[p0 + 3]:  # a result left through stream 2
                stream_writes += 1
                out_head[c] = (out_head[c] + 1) % fifo_depth
                out_count[c] -= 1
                out_word[c] += 1
            if phase[c] == 3:
                continue
            if want[p0] >= 0 and granted[p0]:  # stream 0 moves on by one step
                stream_reads += 1
                a_level[c] += 1
                a_s[c] += 1
                if a_s[c] == steps:
                    a_s[c] = 0
                    a_t[c] += 1
            if want[p0 + 1] >= 0 and granted[p0 + 1]:  # stream 1: accumulator, step, tile
                stream_reads += 1
                b_level[c] += 1
                b_q[c] += 1
                if b_q[c] == tile_width[b_t[c]]:
                    b_q[c] = 0
                    b_s[c] += 1
                    if b_s[c] == steps:
                        b_s[c] = 0
                        b_t[c] += 1
            t = tile[c]
            width = tile_width[t]
            words = c_words_per_tile[t]
            prologue = tile_prologue[t]
            epilogue = tile_epilogue[t]
            if phase[c] == 0:
                loads = words if c_load else 0
                if slot[c] < loads:  # the tile's C words, one load a cycle
                    if lsu[c] and granted[p0 + 2]:
                        core_reads += 1
                        slot[c] += 1
                        left[c] -= 1
                    else:
                        stall += 1
                    continue
                if slot[c] < loads + prologue:
                    slot[c] += 1
                    left[c] -= 1
                    continue
                phase[c] = 1  # nothing left before the first FMA: it may issue this cycle
                slot[c] = 0
                ready[c, :] = 0  # fresh accumulators
            if phase[c] == 1:
                if nsimd and q[c] == 0:  # replicate A(i, s) into a vector register
                    if a_level[c] > 0:
                        a_level[c] -= 1
                        q[c] = 1
                        left[c] -= 1
                    else:
                        stall += 1
                    continue
                acc = q[c] - 1 if nsimd else q[c]
                last = acc == width - 1
                if b_level[c] == 0 or (not nsimd and a_level[c] == 0) or cycle < ready[c, acc]:
                    stall += 1
                    continue
                writes = epilogue == 0 and s[c] == steps - 1  # results leave by stream 2
                if writes and out_count[c] == fifo_depth:
                    stall += 1  # the write stream's FIFO is full
                    continue
                b_level[c] -= 1
                left[c] -= 1
                if not nsimd and last:  # the repeated A word leaves the FIFO at its last use
                    a_level[c] -= 1
                ready[c, acc] = cycle + latency
                if writes:
                    if out_count[c] == 0:
                        out_word[c] = c_base + tile_row[t] * c_row + tile_col[t] + acc
                    out_ready[c, (out_head[c] + out_count[c]) % fifo_depth] = cycle + latency
                    out_count[c] += 1
                if not last:
                    q[c] += 1
                    continue
                q[c] = 0
                s[c] += 1
                if s[c] < steps:
                    continue
                s[c] = 0
                if epilogue > 0:
                    phase[c] = 2
                    continue
                tile[c] += 1
                phase[c] = 0 if tile[c] < tile_first[c, 1] else 3
                continue
            # epilogue: reduce, pack and store once every accumulator has its result
            done = 0
            for a in range(width):
                done = max(done, ready[c, a])
            if cycle < done:
                continue
            if lsu[c]:  # a store instruction waits for its grant
                if not granted[p0 + 2]:
                    stall += 1
                    continue
                core_writes += 1
            slot[c] += 1
            left[c] -= 1
            if slot[c] == epilogue:
                tile[c] += 1
                slot[c] = 0
                phase[c] = 0 if tile[c] < tile_first[c, 1] else 3
        cycle += 1
    return end, stall, conflicts, dma_end, grant_counts(
        core_reads, core_writes, stream_reads, stream_writes, 0, 0, dma_next)


def plan(m: int, n: int, cores: int, nsimd: bool, lanes: int) -> tuple[np.ndarray, ...]:
    """Micro-tiles of an m x n output: rows strided over the cores, each row cut into tiles of
    up to UNROLL accumulators (n-simd: of `lanes` outputs each). Returns (tile_first per core,
    row, first column in accumulator units, width in accumulators)."""
    cols = ceil(n / lanes) if nsimd else n
    widths = [min(UNROLL, cols - j) for j in range(0, cols, UNROLL)]
    first, rows, starts, sizes = [], [], [], []
    for c in range(cores):
        begin = len(rows)
        for i in range(c, m, cores):
            for j, w in zip(range(0, cols, UNROLL), widths, strict=True):
                rows.append(i)
                starts.append(j)
                sizes.append(w)
        first.append((begin, len(rows)))
    return (np.array(first, np.int64).reshape(cores, 2), np.array(rows, np.int64),
            np.array(starts, np.int64), np.array(sizes, np.int64))


DATAFLOWS = ("k-simd", "n-simd")


def matmul_dataflows(pmca, lanes: int) -> tuple[str, ...]:
    """The dataflows `pmca.matmul_dataflow` lets the cores choose from (one lane: k-simd)."""
    if lanes == 1:
        return ("k-simd",)
    return DATAFLOWS if pmca.matmul_dataflow == "auto" else (pmca.matmul_dataflow,)


def tile_instructions(
    dataflow: str, width: int, lanes: int, eb: int, bank_bytes: int, accumulate: bool
) -> tuple[int, int, int]:
    """(C words, prologue, epilogue) FPU instructions of one micro-tile of `width`
    accumulators, counted from the published kernels.

    k-simd, one lane (`gemm_fp64_opt`): nothing around the FREP loop: the first step
    multiplies instead of accumulating and the last writes C through the store stream; with
    accumulate, the C words are loaded first (fld). k-simd, SIMD lanes (`gemm_fp16_opt`, per 8
    outputs): zero the accumulators (8 vfcpka), then per output and per halving of the lanes a
    zeroing pack and a sum (vfcpka + vfsumex, vfcpka + vfsum: 4 for 4 lanes), then pack the
    outputs into words (4) and store them (2 fsd): 46 in all; accumulating loads C (8 flh) and
    converts and packs it (24) instead of zeroing. n-simd: zero the vector accumulators (or
    load them), store them: no reduction.
    """
    outputs = width * (lanes if dataflow == "n-simd" else 1)
    words = ceil(outputs * eb / bank_bytes)
    if dataflow == "n-simd":
        return words, 0 if accumulate else width, words
    if lanes == 1:
        return words, 0, 0
    stages = (lanes - 1).bit_length()  # halvings of the lanes
    prologue = 3 * width if accumulate else width
    epilogue = 2 * stages * width + ceil(width / 2) + words
    return words, prologue, epilogue


def _shape(dataflow: str, k: int, n: int, lanes: int) -> tuple[int, int]:
    """(steps per micro-tile, accumulator columns of a row)."""
    if dataflow == "n-simd":
        return k, ceil(n / lanes)
    return ceil(k / lanes), n


def closed_form_cycles(
    m: int, k: int, n: int, cores: int, dataflow: str, lanes: int, eb: int, bank_bytes: int,
    latency: int, accumulate: bool,
) -> int:
    """The busiest core's cycles without TCDM conflicts (streams always ready).

    Per micro-tile: its C loads and prologue; per step the FMAs (n-simd: +1 replicate), and
    when an accumulator comes round again before its previous FMA completed, the difference;
    then the epilogue, once the last FMA completed. The core ends with its last instruction or
    when its last result has left through stream 2 (exact while `latency <= fifo_depth`, else a
    lower bound: a full write stream holds the FPU).
    """
    steps, cols = _shape(dataflow, k, n, lanes)
    widths = [min(UNROLL, cols - j) for j in range(0, cols, UNROLL)]
    busiest = 0
    for c in range(min(cores, m)):
        t = 0  # cycle at which the next instruction may issue
        drained = 0  # cycle after which the store queue is empty
        for _ in range(c, m, cores):
            for width in widths:
                words, prologue, epilogue = tile_instructions(dataflow, width, lanes, eb,
                                                              bank_bytes, accumulate)
                t += (words if accumulate else 0) + prologue
                per_step = width + (1 if dataflow == "n-simd" else 0)
                t += steps * per_step + (steps - 1) * max(0, latency - per_step)
                done = t - 1 + latency  # the last FMA completes (its first accumulator earlier)
                if epilogue:  # its stores are instructions of the load/store unit
                    t = max(t, done) + epilogue
                else:  # results leave through stream 2 as they complete
                    drained = max(drained, done + 1)
        busiest = max(busiest, t, drained)
    return busiest


def closed_forms(pmca, dtype: str, m: int, k: int, n: int, accumulate: bool) -> dict[str, int]:
    """The conflict-free cycles of every dataflow `pmca.matmul_dataflow` allows, for `dtype`."""
    lanes = pmca.macs(dtype)
    return {d: closed_form_cycles(m, k, n, pmca.cores, d, lanes, DTYPE_BYTES[dtype],
                                  pmca.bank_width_bytes, pmca.fpu_latency(dtype), accumulate)
            for d in matmul_dataflows(pmca, lanes)}


def coprime_padding(pitch: int, banks: int) -> int:
    """Words a kernel writer adds to a row pitch so that it shares no factor with the bank
    count (leading-dimension padding): rows then start in different banks instead of rows a
    whole number of bank rows apart sending every core to the same bank at every step."""
    pad = 0
    while gcd(pitch + pad, banks) != 1:
        pad += 1
    return pad


def _rows(dataflow: str, k: int, n: int, lanes: int, eb: int, bank_bytes: int
          ) -> tuple[int, int, int]:
    """Words of a row of A and of B, and the rows of B, before padding."""
    if dataflow == "n-simd":  # A: k scalars a row; B: k rows of vector words
        return ceil(k * eb / bank_bytes), ceil(n / lanes), k
    return ceil(k / lanes), ceil(k / lanes), n  # k-contiguous rows, B one per output


def layouts(dataflow: str, m: int, k: int, n: int, lanes: int, eb: int, bank_bytes: int,
            banks: int) -> list[tuple[int, int]]:
    """Candidate (A, B) row paddings in words, the ones a kernel writer would try first: rows
    as they are, padded to a pitch coprime with the bank count, or (B) one word more. Rows
    repeated once only are not padded."""
    a_row, b_row, b_rows = _rows(dataflow, k, n, lanes, eb, bank_bytes)
    a_pads = sorted({0, coprime_padding(a_row, banks)}) if m > 1 else [0]
    b_pad = coprime_padding(b_row, banks)
    b_pads = sorted({0, b_pad, b_pad + 1}) if b_rows > 1 else [0]
    return [(a, b) for a in a_pads for b in b_pads]


def padding_bytes(dataflow: str, m: int, k: int, n: int, lanes: int, eb: int, bank_bytes: int,
                  a_pad: int, b_pad: int) -> int:
    """TCDM bytes a layout's padding adds."""
    b_rows = _rows(dataflow, k, n, lanes, eb, bank_bytes)[2]
    return (m * a_pad + b_rows * b_pad) * bank_bytes


def microtile_matmul(
    cores: int, banks: int, bank_bytes: int, lanes: int, eb: int, latency: int,
    fifo_depth: int, m: int, k: int, n: int, dataflow: str, accumulate: bool,
    dma_words: int = 0, dma_per_beat: int = 1, pads: tuple[int, int] = (0, 0), limit: int = 0,
) -> tuple[int, int, int, int, np.ndarray]:
    """One matmul on the micro-tile kernel, operands laid out one after the other (each
    buffer starting half a bank row on, as `tcdm._after`), rows of A and B `pads` words
    longer than their data; `limit` as in `microtile_kernel`. See the module docstring."""
    nsimd = dataflow == "n-simd"
    steps, _ = _shape(dataflow, k, n, lanes)
    first, row, col, width = plan(m, n, cores, nsimd, lanes)
    counts = [tile_instructions(dataflow, int(w), lanes, eb, bank_bytes, accumulate)
              for w in width]
    words = np.array([c[0] for c in counts], np.int64)
    prologue = np.array([c[1] for c in counts], np.int64)
    epilogue = np.array([c[2] for c in counts], np.int64)
    a_words, b_words_row, b_rows = _rows(dataflow, k, n, lanes, eb, bank_bytes)
    a_row, b_row = a_words + pads[0], b_words_row + pads[1]
    if nsimd:  # A scalars in rows of whole words; B as k rows of vector words
        a_step = (eb, bank_bytes)
        b_col, b_step = 1, b_row
    else:  # A and B k-contiguous per row and per output, one SIMD word a step
        a_step = (1, 1)
        b_col, b_step = b_row, 1
    b_words = b_rows * b_row
    c_row = ceil(n * eb / bank_bytes)
    b_base = _after(0, m * a_row, banks)
    c_base = _after(b_base, b_words, banks, banks // 4)  # C away from the first A and B words
    dma_base = _after(c_base, m * c_row, banks)
    return microtile_kernel(
        cores, banks, first, row, col, width, steps, nsimd, 0, a_row, a_step[0], a_step[1],
        b_base, b_col, b_step, c_base, c_row, words, prologue, epilogue, accumulate, latency,
        fifo_depth, Dma(dma_words, dma_base, dma_per_beat), limit)
