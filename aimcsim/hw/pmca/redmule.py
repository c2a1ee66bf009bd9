"""The matrix engine: RedMulE's array, streamer and schedule, cycle by cycle (numba).

Modelled on RedMulE (Tortorella et al., DATE 2022; FGCS 2023, arXiv 2301.03904; RTL in
pulp-platform/redmule: `redmule_pkg.sv`, `redmule_engine.sv`, `redmule_scheduler.sv`), which
computes Z = X W (+ Y) with X m x k, W k x n, Z m x n, all row-major in TCDM:

- The array has `rows` rows (L; the RTL's ARRAY_WIDTH) of `height` computing elements (H;
  ARRAY_HEIGHT), each an FMA with `pipe_regs` pipeline registers (P). A row works on one row of
  Z; its H elements are chained along k, each holding one X value and taking one W value per
  cycle. An output column enters the chain every cycle, so a row has D = H (P + 1) columns in
  flight: the output tile is L x D and the partial sums come back to the chain's head exactly
  when the next H values of k are due. One pass (H values of k for a whole tile) takes D cycles
  whatever the leftovers; a tile takes ceil(k / H) passes; its results leave the chain D cycles
  after its last pass and are stored.
- One TCDM port moves a line of D elements a cycle (the RTL's 256-bit port for H = 4, P = 3 in
  FP16; the extra 32 bits of its 288 serve misaligned lines, which our aligned layout does not
  have). A pass needs H lines of W (one row of W, D columns, per chain element); every P + 1
  passes the X buffer takes the tile's next D values of k, one line per row; an accumulating
  kernel loads the tile's L lines of Y before its first pass; a tile's L lines of Z are stored
  after it. The RTL requires L <= H P, so that a tile's W and Z lines fit in one pass.
- The scheduler iterates the inner dimension innermost, then the column tiles, then the row
  tiles (`redmule_scheduler.sv`: x_cols, w_iters, x_rows): X is read again for every column tile.
  The buffers are double: the lines of pass j + 1 are fetched while pass j runs, not earlier.

Timing rules (both `closed_form_cycles` and `engine_kernel`): the port picks a new line when
the previous one is complete: a tile's store lines first once its results are out, else the
next load line once its pass may be fetched (pass j + 1 once pass j started); all the words of
a line are requested together and a line completes when every word has been granted (the
cores and the DMA contend for the same banks). Pass j starts when its lines are in and pass
j - 1 has run D cycles. Stores go in tile order (one Z buffer). The kernel ends with the last
store.
"""

from __future__ import annotations

from math import ceil

import numpy as np
from numba import njit

from aimcsim.hw.pmca.tcdm import Dma, _after, _bank, arbiter, arbitrate_with_dma, grant_counts

INTERNAL_BYTES = 2  # the array computes in FP16 (FP8 inputs are cast up), as its port is sized


def tile_columns(height: int, pipe_regs: int) -> int:
    """D: output columns per tile, elements per port line."""
    return height * (pipe_regs + 1)


def port_words(height: int, pipe_regs: int, bank_bytes: int) -> int:
    """TCDM words the port moves a cycle (H (P + 1) internal elements)."""
    return ceil(tile_columns(height, pipe_regs) * INTERNAL_BYTES / bank_bytes)


def schedule(m: int, k: int, n: int, rows: int, height: int, pipe_regs: int, eb: int,
             bank_bytes: int, accumulate: bool, x_row: int, w_row: int, z_row: int,
             x_base: int, w_base: int, z_base: int) -> tuple[np.ndarray, ...]:
    """The kernel's passes and lines, in program order.

    Returns (pass_first_line, pass_tile, line_word, line_words, tile_first_store, store_word,
    store_words): pass j loads lines pass_first_line[j] .. pass_first_line[j + 1] - 1; tile t
    stores lines tile_first_store[t] .. tile_first_store[t + 1] - 1; every line as its first
    word and its word count. Row pitches and bases are in words.
    """
    d = tile_columns(height, pipe_regs)
    tiles = ceil(m / rows) * ceil(n / d)
    passes = ceil(k / height)
    most = tiles * (passes * height + ceil(passes / (pipe_regs + 1)) * rows
                    + (rows if accumulate else 0))
    return _schedule(m, k, n, rows, height, pipe_regs, eb, bank_bytes, accumulate, x_row,
                     w_row, z_row, x_base, w_base, z_base, tiles, passes, most)


@njit(cache=True)
def _schedule(m: int, k: int, n: int, rows: int, height: int, pipe_regs: int, eb: int,
              bank_bytes: int, accumulate: bool, x_row: int, w_row: int, z_row: int,
              x_base: int, w_base: int, z_base: int, tiles: int, passes: int, most: int
              ) -> tuple[np.ndarray, ...]:
    d = height * (pipe_regs + 1)
    pass_first = np.zeros(tiles * passes + 1, np.int64)
    pass_tile = np.zeros(tiles * passes, np.int64)
    line_word = np.zeros(most, np.int64)
    line_words = np.zeros(most, np.int64)
    tile_first_store = np.zeros(tiles + 1, np.int64)
    store_word = np.zeros(tiles * rows, np.int64)
    store_words = np.zeros(tiles * rows, np.int64)
    lines = 0
    stores = 0
    tile = 0
    j = 0
    for i0 in range(0, m, rows):
        live_rows = min(rows, m - i0)
        for j0 in range(0, n, d):
            col_word = j0 * eb // bank_bytes
            z_words = (min(d, n - j0) * eb + bank_bytes - 1) // bank_bytes
            for p in range(passes):
                pass_first[j] = lines
                pass_tile[j] = tile
                j += 1
                if p == 0 and accumulate:  # Y before the first pass
                    for i in range(i0, i0 + live_rows):
                        line_word[lines] = z_base + i * z_row + col_word
                        line_words[lines] = z_words
                        lines += 1
                k0 = p * height
                if p % (pipe_regs + 1) == 0:  # the X buffer's next D values of k
                    x_words = (min(d, k - k0) * eb + bank_bytes - 1) // bank_bytes
                    for i in range(i0, i0 + live_rows):
                        line_word[lines] = x_base + i * x_row + k0 * eb // bank_bytes
                        line_words[lines] = x_words
                        lines += 1
                for kk in range(k0, min(k, k0 + height)):  # one W row per chain element
                    line_word[lines] = w_base + kk * w_row + col_word
                    line_words[lines] = z_words
                    lines += 1
            tile_first_store[tile] = stores
            for i in range(i0, i0 + live_rows):
                store_word[stores] = z_base + i * z_row + col_word
                store_words[stores] = z_words
                stores += 1
            tile += 1
    pass_first[j] = lines
    tile_first_store[tile] = stores
    return (pass_first, pass_tile, line_word[:lines], line_words[:lines], tile_first_store,
            store_word[:stores], store_words[:stores])


def layout(m: int, k: int, n: int, eb: int, bank_bytes: int, banks: int
           ) -> tuple[int, int, int, int, int, int, int]:
    """(x_row, w_row, z_row, x_base, w_base, z_base, dma_base) in words: X, W, Z one after the
    other (each starting half a bank row on, as `tcdm._after`), rows unpadded."""
    x_row, w_row = ceil(k * eb / bank_bytes), ceil(n * eb / bank_bytes)
    z_row = w_row
    w_base = _after(0, m * x_row, banks)
    z_base = _after(w_base, k * w_row, banks)
    dma_base = _after(z_base, m * z_row, banks)
    return x_row, w_row, z_row, 0, w_base, z_base, dma_base


def closed_form_cycles(m: int, k: int, n: int, rows: int, height: int, pipe_regs: int,
                       eb: int, bank_bytes: int, accumulate: bool) -> int:
    """The schedule's cycles when every line takes one cycle (no bank ever refuses)."""
    if not (m and k and n):
        return 0
    x_row, w_row, z_row, xb, wb, zb, _ = layout(m, k, n, eb, bank_bytes, 1 << 20)
    first, ptile, _, _, tstore, _, _ = schedule(m, k, n, rows, height, pipe_regs, eb,
                                                bank_bytes, accumulate, x_row, w_row, z_row,
                                                xb, wb, zb)
    return int(_line_recurrence(first, ptile, tstore, tile_columns(height, pipe_regs)))


@njit(cache=True)
def _line_recurrence(first: np.ndarray, ptile: np.ndarray, tstore: np.ndarray, d: int) -> int:
    """Pass by pass, the port's lines one a cycle (stores first when due, a pass's loads
    from the start of the pass before), each pass after its loads and D cycles after the
    previous one; the tiles' stores in order."""
    passes = ptile.shape[0]
    tiles = tstore.shape[0] - 1
    ready = np.zeros(tiles, np.int64)  # when each tile's results are out
    left = np.zeros(tiles, np.int64)  # its store lines not yet moved
    pushed = 0
    head = 0
    t = 0  # the port's next free cycle
    start = -1  # start of the previous pass
    end = 0
    for j in range(passes):
        allowed = 0 if j == 0 else start
        lines = first[j + 1] - first[j]  # at least one: a W row
        while lines:
            if head < pushed and ready[head] <= t:  # a store line first
                left[head] -= 1
                t += 1
                if left[head] == 0:
                    end = max(end, t)
                    head += 1
            elif t >= allowed:
                t += 1
                lines -= 1
            else:  # the port waits for the pass or for a store
                t = min(allowed, ready[head]) if head < pushed else allowed
        start = t if j == 0 else max(start + d, t)
        if j + 1 == passes or ptile[j + 1] != ptile[j]:  # the tile's last pass
            tile = ptile[j]
            ready[pushed] = start + 2 * d
            left[pushed] = tstore[tile + 1] - tstore[tile]
            pushed += 1
    end = max(end, start + d)
    while head < pushed:
        t = max(t, ready[head]) + left[head]
        end = max(end, t)
        head += 1
    return end


@njit(cache=True)
def engine_kernel(
    banks: int, d: int,
    pass_first: np.ndarray, pass_tile: np.ndarray, line_word: np.ndarray,
    line_words: np.ndarray, tile_first_store: np.ndarray, store_word: np.ndarray,
    store_words: np.ndarray, max_words: int,
    dma: Dma,
) -> tuple[int, int, int, int, np.ndarray]:
    """Run the schedule (see the module docstring) with bank arbitration; returns
    (engine_end, stall_cycles, conflicts, dma_end, grants) as `stream.stream_kernel`: a stall
    cycle is one in which some word of the port's line was refused; the port's words are
    `engine_*` (X, W and Y lines read, Z lines written)."""
    dma_words, dma_base, dma_words_per_cycle = dma
    passes = pass_tile.shape[0]
    tiles = tile_first_store.shape[0] - 1
    n_req = max_words + dma_words_per_cycle
    want, granted, rr, best, mask = arbiter(n_req, banks)
    have = np.zeros(max_words, np.bool_)
    start = np.full(passes, -1, np.int64)
    loaded_at = np.full(passes, -1, np.int64)  # cycle after the pass's last line
    ready = np.full(tiles, -1, np.int64)  # when a tile's results are out of the array
    next_load = 0  # next load line, in program order
    load_pass = 0  # the pass it belongs to
    next_store = 0  # next store line, in tile order
    store_tile = 0
    cur = -1  # the line on the port: index; kind 1 load, 2 store
    kind = 0
    nxt = 0  # next pass to start
    dma_next = 0
    dma_end = 0
    cycle = 0
    end = 0
    stall = 0
    conflicts = 0
    reads = 0
    writes = 0
    total_lines = line_word.shape[0]
    total_stores = store_word.shape[0]
    for j in range(passes):  # passes without lines (none in practice) are loaded at once
        if pass_first[j + 1] == pass_first[j]:
            loaded_at[j] = 0
    while True:
        # the array: start the next pass if its lines are in and the previous one has run
        if nxt < passes and 0 <= loaded_at[nxt] <= cycle and (
                nxt == 0 or cycle >= start[nxt - 1] + d):
            start[nxt] = cycle
            if nxt + 1 == passes or pass_tile[nxt + 1] != pass_tile[nxt]:
                ready[pass_tile[nxt]] = cycle + 2 * d
            end = max(end, cycle + d)
            nxt += 1
        # the port: pick a new line when it is free
        while load_pass < passes and next_load >= pass_first[load_pass + 1]:
            load_pass += 1
        if cur < 0:
            while store_tile < tiles and next_store >= tile_first_store[store_tile + 1]:
                store_tile += 1
            if (next_store < total_stores and ready[store_tile] >= 0
                    and cycle >= ready[store_tile]):
                cur = next_store
                kind = 2
            elif next_load < total_lines and (
                    load_pass == 0 or (start[load_pass - 1] >= 0
                                       and cycle >= start[load_pass - 1])):
                cur = next_load
                kind = 1
            if cur >= 0:
                for w in range(max_words):
                    have[w] = False
        words = 0
        base = 0
        if cur >= 0:
            words = line_words[cur] if kind == 1 else store_words[cur]
            base = line_word[cur] if kind == 1 else store_word[cur]
        for w in range(max_words):
            want[w] = _bank(base + w, banks, mask) if w < words and not have[w] else -1
        if cur < 0 and nxt >= passes and next_store >= total_stores and dma_next >= dma_words:
            break
        refused, dma_next, dma_end = arbitrate_with_dma(
            want, rr, granted, best, max_words, dma_next, dma_end, dma_words, dma_base,
            dma_words_per_cycle, banks, mask, cycle)
        conflicts += refused
        if cur >= 0:
            complete = True
            some_refused = False
            for w in range(words):
                if want[w] >= 0:
                    if granted[w]:
                        have[w] = True
                        if kind == 1:
                            reads += 1
                        else:
                            writes += 1
                    else:
                        some_refused = True
                if not have[w]:
                    complete = False
            if some_refused:
                stall += 1
            if complete:
                if kind == 1:
                    next_load += 1
                    if next_load == pass_first[load_pass + 1]:
                        loaded_at[load_pass] = cycle + 1
                else:
                    next_store += 1
                    end = max(end, cycle + 1)
                cur = -1
        cycle += 1
    return end, stall, conflicts, dma_end, grant_counts(0, 0, 0, 0, reads, writes, dma_next)


def engine_matmul(m: int, k: int, n: int, rows: int, height: int, pipe_regs: int, eb: int,
                  bank_bytes: int, banks: int, accumulate: bool, dma_words: int = 0,
                  dma_per_beat: int = 1) -> tuple[int, int, int, int, np.ndarray]:
    """One matmul on the engine, X, W, Z laid out by `layout`; see the module docstring."""
    x_row, w_row, z_row, xb, wb, zb, dma_base = layout(m, k, n, eb, bank_bytes, banks)
    tables = schedule(m, k, n, rows, height, pipe_regs, eb, bank_bytes, accumulate, x_row,
                      w_row, z_row, xb, wb, zb)
    widest = max(int(tables[3].max(initial=1)), int(tables[6].max(initial=1)))
    return engine_kernel(banks, tile_columns(height, pipe_regs), *tables, widest,
                         Dma(dma_words, dma_base, dma_per_beat))
