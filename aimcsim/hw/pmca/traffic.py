"""TCDM bank word accesses of each cluster kernel, by formula (the kernels' schedules counted).

A bank access moves one `bank_width_bytes` word, however few of its bytes the kernel uses: an
FP16 C value loaded alone costs a whole 64-bit access. The cycle-level kernels count the
accesses they are granted (`tcdm.ACCESSES`: `core_*` the cores' load/store units, `stream_*`
the streaming cores' stream ports, `engine_*` RedMulE's port, `dma_writes` the DMA's words);
these functions give the same numbers from the schedules alone, for the closed-form model and
to check stored timings (`model.implausible`). A refused request is asked again and counted
once, so bank conflicts change cycles, never these counts; nor does layout padding, which
only moves rows to other banks. Notation: `ceil(x / y)` rounds up, eb bytes an element, bw
bytes a bank word, lanes the SIMD lanes of the data type.
"""

from __future__ import annotations

from math import ceil

from aimcsim.hw.pmca.loaduse import MR, NR
from aimcsim.hw.pmca.microtile import UNROLL, matmul_dataflows, tile_instructions
from aimcsim.hw.pmca.params import MatrixEngine, Pmca
from aimcsim.hw.pmca.redmule import tile_columns
from aimcsim.hw.pmca.tcdm import ACCESSES
from aimcsim.params.units import DTYPE_BYTES

KINDS = ("matmul", "elementwise", "dma")


def operands(function: str) -> int:
    """TCDM operands read per element by an element-wise function (residual adds and the
    gated multiply read two)."""
    return 2 if function in ("add", "add_norm", "mul") else 1


def _counts(**counts: int) -> dict[str, int]:
    """Every `ACCESSES` count, those not given 0."""
    return {name: counts.get(name, 0) for name in ACCESSES}


def microtile_accesses(dataflow: str, m: int, k: int, n: int, lanes: int, eb: int,
                       bank_bytes: int, accumulate: bool) -> dict[str, int]:
    """The streaming cores' register-blocked matmul (`microtile`), m x k times k x n.

    Each of the m rows of C is cut into micro-tiles of up to UNROLL (8) accumulators over its
    `cols` accumulator columns (k-simd: cols = n outputs; n-simd: cols = ceil(n / lanes)
    vectors), T = ceil(cols / 8) tiles a row, each of `steps` steps (k-simd:
    ceil(k / lanes) SIMD words; n-simd: k). A tile of width w holds
    C_w = ceil(w x outputs per accumulator x eb / bw) words of C (outputs per accumulator: 1,
    n-simd `lanes`, the last tile's unused lanes included); C_row, the sum over a row's tiles,
    is (cols // 8) C_8 + C_(cols mod 8).

    stream_reads = m x steps x (T + cols): per tile and step one A word (stream 0, k-simd
      repeated for the tile's FMAs, n-simd replicated) and one B word per accumulator
      (stream 1).
    core_reads = m x C_row with accumulate (the tiles' C words loaded first), else 0.
    core_writes = m x C_row: the epilogue's stores (SIMD lanes; n-simd always);
    stream_writes = m x n instead with one lane (k-simd, no epilogue): each result leaves
      through stream 2 alone, one access each.
    """
    if dataflow == "n-simd":
        steps, cols = k, ceil(n / lanes)
    elif dataflow == "k-simd":
        steps, cols = ceil(k / lanes), n
    else:
        raise ValueError(f"dataflow {dataflow!r} is not k-simd or n-simd")
    widths = [UNROLL] * (cols // UNROLL) + ([cols % UNROLL] if cols % UNROLL else [])
    c_row = sum(tile_instructions(dataflow, w, lanes, eb, bank_bytes, accumulate)[0]
                for w in widths)
    loads = m * c_row if accumulate else 0
    reads = m * steps * (len(widths) + cols)
    if dataflow == "k-simd" and lanes == 1:
        return _counts(core_reads=loads, stream_reads=reads, stream_writes=m * n)
    return _counts(core_reads=loads, core_writes=m * c_row, stream_reads=reads)


def loaduse_accesses(m: int, k: int, n: int, lanes: int, accumulate: bool, mr: int = MR,
                     nr: int = NR) -> dict[str, int]:
    """The load-use cores' register-blocked matmul (`loaduse`, PULP-NN's), in micro-tiles of
    `mr` rows of A by `nr` rows of B^T (edge tiles smaller): ceil(m / mr) x ceil(n / nr)
    tiles of steps = ceil(k / lanes) SIMD words.

    core_reads = steps x (m x ceil(n / nr) + n x ceil(m / mr)) (per tile and step its nr B^T
      words and mr A words: every row of A once per column of tiles, every row of B^T once
      per row of tiles) + m x n with accumulate (each output's C value, one load each).
    core_writes = m x n: one store per output (an element, one access each).
    """
    reads = ceil(k / lanes) * (m * ceil(n / nr) + n * ceil(m / mr))
    return _counts(core_reads=reads + (m * n if accumulate else 0), core_writes=m * n)


def _line_words(elements: int, d: int, eb: int, bank_bytes: int) -> int:
    """Words of `elements` consecutive values in port lines of up to `d` each (one line per
    D-chunk, each rounded up to whole words)."""
    return (elements // d) * ceil(d * eb / bank_bytes) + ceil(elements % d * eb / bank_bytes)


def engine_accesses(m: int, k: int, n: int, engine: MatrixEngine, eb: int, bank_bytes: int,
                    accumulate: bool) -> dict[str, int]:
    """RedMulE (`redmule`): Z = X W (+ Y), `transposed` as the n x k x m product C^T = B^T A^T.

    Tiles of L = `rows` rows by D = height x (pipe_regs + 1) columns; a line of x values is
    split in D-chunks of ceil(chunk x eb / bw) words: Z_row = `_line_words(n)` words a row of
    Z (over its column tiles), X_row = `_line_words(k)` a row of X (over its X-buffer loads).

    engine_reads = ceil(n / D) x m x X_row (X read again for every column tile)
      + ceil(m / L) x k x Z_row (every W row once per row tile, a line per column tile)
      + m x Z_row with accumulate (Y).
    engine_writes = m x Z_row (Z).
    """
    if engine.orientation == "transposed":
        m, n = n, m
    d = tile_columns(engine.height, engine.pipe_regs)
    z_row = _line_words(n, d, eb, bank_bytes)
    reads = ceil(n / d) * m * _line_words(k, d, eb, bank_bytes) + ceil(m / engine.rows) * k \
        * z_row + (m * z_row if accumulate else 0)
    return _counts(engine_reads=reads, engine_writes=m * z_row)


def elementwise_accesses(pmca: Pmca, dtype: str, function: str, elements: int
                         ) -> dict[str, int]:
    """`function` over `elements` values (`stream.stream_kernel`): V = ceil(elements / lanes)
    vectors, each one word.

    reads = operands(function) x V (each vector of each operand once), writes = V (the
    result); `stream_*` on streaming cores (SSR), `core_*` on load-use cores.
    """
    vectors = ceil(elements / pmca.macs(dtype))
    reads, writes = operands(function) * vectors, vectors
    if pmca.streaming:
        return _counts(stream_reads=reads, stream_writes=writes)
    return _counts(core_reads=reads, core_writes=writes)


def dma_accesses(pmca: Pmca, nbytes: int) -> dict[str, int]:
    """A DMA transfer of `nbytes` into the TCDM: dma_writes = ceil(nbytes / bw) words (beats
    of dma_bytes_per_cycle / bw consecutive words, the last one partial)."""
    return _counts(dma_writes=ceil(nbytes / pmca.bank_width_bytes))


def matmul_accesses(pmca: Pmca, dtype: str, m: int, k: int, n: int, accumulate: bool = False,
                    dma_bytes: int = 0, dataflow: str = "") -> dict[str, int]:
    """The matmul the cluster runs: RedMulE where it has one, else the streaming cores'
    micro-tiles of `dataflow` (one of `microtile.matmul_dataflows`), else the load-use
    cores' register blocks; plus `dma_accesses(dma_bytes)` of a transfer alongside."""
    eb, bw, lanes = DTYPE_BYTES[dtype], pmca.bank_width_bytes, pmca.macs(dtype)
    if pmca.matrix_engine is not None:
        counts = engine_accesses(m, k, n, pmca.matrix_engine, eb, bw, accumulate)
    elif pmca.streaming:
        if dataflow not in matmul_dataflows(pmca, lanes):
            raise ValueError(f"dataflow {dataflow!r} is not one of "
                             f"{', '.join(matmul_dataflows(pmca, lanes))} this cluster allows")
        counts = microtile_accesses(dataflow, m, k, n, lanes, eb, bw, accumulate)
    else:
        counts = loaduse_accesses(m, k, n, lanes, accumulate)
    return {**counts, "dma_writes": counts["dma_writes"] + dma_accesses(pmca, dma_bytes)[
        "dma_writes"]}


def kernel_counters(pmca: Pmca, dtype: str, kind: str, *, m: int = 0, k: int = 0, n: int = 0,
                    accumulate: bool = False, function: str = "", elements: int = 0,
                    dma_bytes: int = 0, dataflow: str = "") -> dict[str, int]:
    """The event counters of one kernel that its schedule fixes, the same in every cluster
    model (they depend on what the kernel does, not on how long it takes): MACs, element
    results, DMA bytes and the TCDM word accesses by requester (`ACCESSES`). kind is matmul
    (C = A B, or C += A B with `accumulate`, of m x k and k x n; streaming cores need the
    `dataflow`), elementwise (`function` over `elements` values) or dma (`dma_bytes` into
    the TCDM). A matmul may also bring `dma_bytes` in meanwhile."""
    if kind == "matmul":
        return {"macs": m * k * n, "element_ops": 0, "dma_bytes": dma_bytes,
                **matmul_accesses(pmca, dtype, m, k, n, accumulate, dma_bytes, dataflow)}
    if kind == "elementwise":
        return {"macs": 0, "element_ops": elements, "dma_bytes": 0,
                **elementwise_accesses(pmca, dtype, function, elements)}
    if kind == "dma":
        return {"macs": 0, "element_ops": 0, "dma_bytes": dma_bytes,
                **dma_accesses(pmca, dma_bytes)}
    raise ValueError(f"kernel kind {kind!r} is not {', '.join(KINDS)}")
