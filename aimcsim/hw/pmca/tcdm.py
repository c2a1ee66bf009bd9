"""The TCDM: word-interleaved banks, their per-cycle arbitration, and where buffers start.

Word `w` lives in bank `w % banks`. Each cycle every bank grants one of the requests for it,
round-robin over the requesters; the cycle-level kernels (`stream`, `microtile`, `loaduse`,
`redmule`) share this arbiter, this buffer placement and the `Dma` record, and count the word
accesses they are granted by requester class (`ACCESSES`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit


class Dma(NamedTuple):
    """A DMA transfer alongside: `words` words (0: none) from word `base`, `per_beat`
    consecutive words a cycle."""

    words: int
    base: int
    per_beat: int


NO_DMA = Dma(0, 0, 1)

#: The requester classes whose granted TCDM word accesses every cycle-level kernel counts, in
#: the order of the `grants` array it returns last (`KernelStats` fields of the same names):
#: the cores' load/store units, the streaming cores' stream (SSR) ports, the matrix engine's
#: port, the DMA. A refused request is asked again and counted once, when granted: each is
#: one access of one bank word, however few of its bytes the kernel uses. The DMA only
#: writes (it brings data in).
ACCESSES = ("core_reads", "core_writes", "stream_reads", "stream_writes", "engine_reads",
            "engine_writes", "dma_writes")
N_ACCESSES = len(ACCESSES)
CORE_READS, CORE_WRITES, STREAM_READS, STREAM_WRITES, ENGINE_READS, ENGINE_WRITES, \
    DMA_WRITES = range(N_ACCESSES)  # where each count is in `grants`


def accesses(grants: np.ndarray) -> dict[str, int]:
    """A kernel's `grants` array by name (`ACCESSES`)."""
    return dict(zip(ACCESSES, map(int, grants), strict=True))


@njit(cache=True)
def grant_counts(core_reads: int, core_writes: int, stream_reads: int, stream_writes: int,
                 engine_reads: int, engine_writes: int, dma_writes: int) -> np.ndarray:
    """The `grants` array of a kernel's counts (kept in scalars while it runs: cheaper)."""
    grants = np.zeros(N_ACCESSES, np.int64)
    grants[CORE_READS] = core_reads
    grants[CORE_WRITES] = core_writes
    grants[STREAM_READS] = stream_reads
    grants[STREAM_WRITES] = stream_writes
    grants[ENGINE_READS] = engine_reads
    grants[ENGINE_WRITES] = engine_writes
    grants[DMA_WRITES] = dma_writes
    return grants


@njit(cache=True)
def arbiter(requesters: int, banks: int) -> tuple:
    """Fresh scratch state of the per-cycle arbitration: (want, granted, rr, best, mask) for
    `arbitrate_with_dma`; `mask` makes the bank of a word a bit-and when `banks` is a power of
    two (-1: use the modulo)."""
    want = np.full(requesters, -1, np.int64)
    granted = np.zeros(requesters, np.bool_)
    rr = np.zeros(banks, np.int64)
    best = np.full(banks, -1, np.int64)
    return want, granted, rr, best, banks - 1 if banks & (banks - 1) == 0 else -1


@njit(cache=True, inline="always")
def _bank(word: int, banks: int, mask: int) -> int:
    return word & mask if mask >= 0 else word % banks


@njit(cache=True)
def arbitrate(
    want_bank: np.ndarray, rr: np.ndarray, granted: np.ndarray, best: np.ndarray
) -> int:
    """Grant at most one requester per bank, round-robin from each bank's pointer.

    want_bank[r] is the bank requester r asks for (-1: none). Fills granted[r] and moves the
    pointer of every bank that granted past the winner. `best` is scratch space of one entry
    per bank, all -1 on entry and on return. Returns the number of requests refused.
    """
    n = want_bank.shape[0]
    refused = 0
    for r in range(n):
        granted[r] = False
        b = want_bank[r]
        if b >= 0:
            if best[b] < 0:
                best[b] = r
            else:
                refused += 1
                if (r - rr[b]) % n < (best[b] - rr[b]) % n:
                    best[b] = r
    for r in range(n):
        b = want_bank[r]
        if b >= 0 and best[b] >= 0:
            w = best[b]
            granted[w] = True
            rr[b] = (w + 1) % n
            best[b] = -1
    return refused


@njit(cache=True, inline="always")
def arbitrate_with_dma(
    want: np.ndarray, rr: np.ndarray, granted: np.ndarray, best: np.ndarray, first: int,
    dma_next: int, dma_end: int, dma_words: int, dma_base: int, per_beat: int, banks: int,
    mask: int, cycle: int,
) -> tuple[int, int, int]:
    """One cycle of the TCDM: the DMA's next beat of `per_beat` consecutive words (from word
    `dma_next` of its transfer, -1 past the end) joins the requests in want[first:], the banks
    arbitrate, and the DMA moves the granted prefix of its beat (words move in order). Returns
    (requests refused, the DMA's next word, the cycle after its last beat or `dma_end`)."""
    for w in range(per_beat):
        want[first + w] = (_bank(dma_base + dma_next + w, banks, mask)
                           if dma_next + w < dma_words else -1)
    refused = arbitrate(want, rr, granted, best)
    moved = 0
    while moved < per_beat and want[first + moved] >= 0 and granted[first + moved]:
        moved += 1
    if moved:
        dma_next += moved
        if dma_next >= dma_words:
            dma_end = cycle + 1
    return refused, dma_next, dma_end


def _after(base: int, words: int, banks: int, bank: int | None = None) -> int:
    """First word after a buffer, shifted to start in `bank` (default: half a bank row away
    from word 0).

    With operand rows a multiple of the bank count, one core's two streams then never ask for
    the same bank in a cycle.
    """
    nxt = base + words
    offset = ((banks // 2 if bank is None else bank) - nxt) % banks
    return nxt + offset


