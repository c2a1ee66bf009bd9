"""The cluster's parameters: what an architecture file's `pmca` section declares, its meaning,
units and checks (the cluster's timing lives beside it in this package)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aimcsim.spec._reader import Reader, join
from aimcsim.spec.units import DTYPE_BYTES, PS_PER_US, clock

TIMINGS = ("cycle-level", "throughput")
DATAFLOWS = ("auto", "k-simd", "n-simd")
ENGINE_ORIENTATIONS = ("normal", "transposed")
ELEMENTWISE_FUNCTIONS = ("add", "norm", "add_norm", "relu", "softmax")
#: The keys of the `pmca` section and of its `matrix_engine`.
PMCA_KEYS = (
    "cores", "freq_mhz", "macs_per_cycle", "tcdm_bytes", "tcdm_banks", "bank_width_bytes",
    "dma_bytes_per_cycle", "dma_setup_cycles", "barrier_cycles", "kernel_setup_cycles",
    "elementwise_cycles_per_vector", "streaming", "loop_overhead_cycles", "timing",
    "dma_double_buffer", "matrix_engine", "fpu_latency_cycles", "stream_fifo_depth",
    "matmul_dataflow", "source",
)
ENGINE_KEYS = ("rows", "height", "pipe_regs", "orientation", "source")


@dataclass(frozen=True)
class MatrixEngine:
    """RedMulE beside the cores, running the matmuls (`aimcsim.hw.pmca.redmule`).

    rows: rows of the output computed at once (L; the RTL's ARRAY_WIDTH), at most
    height x pipe_regs. height: FMA computing elements per row, chained along k (H;
    ARRAY_HEIGHT). pipe_regs: pipeline registers per FMA (P; PIPE_REGS). An output tile is
    rows x height (pipe_regs + 1); the TCDM port moves height (pipe_regs + 1) FP16 values a
    cycle (256 bit for H = 4, P = 3). orientation: `normal` computes C = A B as Z = X W;
    `transposed` computes every matmul of the cluster as C^T = B^T A^T, with activations held
    feature-major (the tile output written transposed by its link or DMA; the transposes
    chain, so no kernel transposes anything): a skinny X A (n = r) then fills the tile's
    columns with tokens.
    """

    rows: int
    height: int
    pipe_regs: int
    orientation: str = "normal"

    @property
    def fmas(self) -> int:
        return self.rows * self.height


@dataclass(frozen=True)
class Pmca:
    """A programmable multi-core cluster (Snitch/PULP style) with a banked TCDM and a DMA.

    cores: compute cores (the DMA core is not counted).
    freq_mhz: cluster clock; its period must be an integer number of picoseconds.
    macs_per_cycle: per core and cycle, by data type (SIMD lanes of one FMA issue).
    tcdm_bytes, tcdm_banks, bank_width_bytes: scratchpad capacity and word-interleaved banking.
    dma_bytes_per_cycle, dma_setup_cycles: DMA bandwidth and per-transfer setup.
    barrier_cycles: one cluster barrier (end of every kernel phase).
    kernel_setup_cycles: per kernel phase and core: loop and address set-up before the first MAC.
    elementwise_cycles_per_vector: cycles per SIMD vector (macs_per_cycle lanes) by function.
    streaming: cores feed the FPU from stream registers under a hardware loop (Snitch SSR +
    FREP); false: plain load-use code, one issue slot per load plus loop instructions.
    loop_overhead_cycles: address and branch instructions per SIMD step without streaming.
    timing: `cycle-level` (numba, TCDM bank conflicts) or `throughput` (closed form, no conflicts).
    dma_double_buffer: the DMA brings the next operand while the cores compute on the current
    one (two TCDM buffers), instead of cores waiting for each transfer.
    matrix_engine: optional FMA array that runs the matmuls instead of the cores.
    fpu_latency_cycles: by data type, cycles from one FMA to a dependent one (1: back to back);
    streaming matmuls keep 8 accumulators in flight to hide it.
    stream_fifo_depth: words each stream register fetches ahead (Snitch SSR credits).
    matmul_dataflow: how streaming cores run a matmul: `k-simd` (SIMD lanes along k, reduced at
    the end of each micro-tile, as the published Snitch GEMMs), `n-simd` (lanes along n, the A
    value replicated), or `auto` (the faster of the two, per shape).
    """

    cores: int
    freq_mhz: int
    macs_per_cycle: tuple[tuple[str, int], ...]
    tcdm_bytes: int
    tcdm_banks: int
    bank_width_bytes: int
    dma_bytes_per_cycle: int
    dma_setup_cycles: int
    barrier_cycles: int
    kernel_setup_cycles: int
    elementwise_cycles_per_vector: tuple[tuple[str, int], ...]
    streaming: bool = True
    loop_overhead_cycles: int = 2
    timing: str = "cycle-level"
    dma_double_buffer: bool = False
    matrix_engine: MatrixEngine | None = None
    fpu_latency_cycles: tuple[tuple[str, int], ...] = ()
    stream_fifo_depth: int = 4
    matmul_dataflow: str = "auto"

    @property
    def period_ps(self) -> int:
        return PS_PER_US // self.freq_mhz

    def macs(self, dtype: str) -> int:
        return dict(self.macs_per_cycle)[dtype]

    def fpu_latency(self, dtype: str) -> int:
        return dict(self.fpu_latency_cycles).get(dtype, 1)

    def elementwise_cycles(self, function: str) -> int:
        return dict(self.elementwise_cycles_per_vector)[function]


def _int_table(
    r: Reader, data: Any, path: str, keys: tuple[str, ...], *, minimum: int
) -> tuple[tuple[str, int], ...]:
    d = r.mapping(data, path, keys)
    return tuple((k, r.take(d, path, k, int, minimum=minimum)) for k in keys if k in d)


def read_pmca(r: Reader, data: Any) -> Pmca:
    """The `pmca` section (errors go to `r`)."""
    p = "pmca"
    d = r.mapping(data, p, PMCA_KEYS,
                  required=("cores", "freq_mhz", "macs_per_cycle", "tcdm_bytes"))
    macs = _int_table(r, d.get("macs_per_cycle", {}), join(p, "macs_per_cycle"),
                      tuple(DTYPE_BYTES), minimum=1)
    ew_path = join(p, "elementwise_cycles_per_vector")
    ew_given = d.get("elementwise_cycles_per_vector", {})
    ew = _int_table(r, ew_given, ew_path, ELEMENTWISE_FUNCTIONS, minimum=1)
    missing = [f for f in ELEMENTWISE_FUNCTIONS if isinstance(ew_given, dict) and f not in ew_given]
    if missing:
        r.error(ew_path, f"missing functions {', '.join(missing)}; every one of "
                f"{', '.join(ELEMENTWISE_FUNCTIONS)} needs a cycle count")
    pmca = Pmca(
        cores=r.take(d, p, "cores", int, minimum=1),
        freq_mhz=r.take(d, p, "freq_mhz", int, minimum=1, unit="MHz"),
        macs_per_cycle=macs,
        tcdm_bytes=r.take(d, p, "tcdm_bytes", int, minimum=1, unit="bytes"),
        tcdm_banks=r.take(d, p, "tcdm_banks", int, default=32, minimum=1),
        bank_width_bytes=r.take(d, p, "bank_width_bytes", int, default=8, minimum=1, unit="bytes"),
        dma_bytes_per_cycle=r.take(d, p, "dma_bytes_per_cycle", int, default=64, minimum=1),
        dma_setup_cycles=r.take(d, p, "dma_setup_cycles", int, default=0, minimum=0),
        barrier_cycles=r.take(d, p, "barrier_cycles", int, default=0, minimum=0),
        kernel_setup_cycles=r.take(d, p, "kernel_setup_cycles", int, default=0, minimum=0),
        elementwise_cycles_per_vector=ew,
        streaming=r.take(d, p, "streaming", bool, default=True),
        loop_overhead_cycles=r.take(d, p, "loop_overhead_cycles", int, default=2, minimum=0),
        timing=r.take(d, p, "timing", str, default="cycle-level", choices=TIMINGS),
        dma_double_buffer=r.take(d, p, "dma_double_buffer", bool, default=False),
        matrix_engine=_engine(r, d.get("matrix_engine")),
        fpu_latency_cycles=_int_table(r, d.get("fpu_latency_cycles", {}),
                                      join(p, "fpu_latency_cycles"), tuple(DTYPE_BYTES),
                                      minimum=1),
        stream_fifo_depth=r.take(d, p, "stream_fifo_depth", int, default=4, minimum=1),
        matmul_dataflow=r.take(d, p, "matmul_dataflow", str, default="auto", choices=DATAFLOWS),
    )
    if pmca.dma_bytes_per_cycle % pmca.bank_width_bytes:
        r.error(join(p, "dma_bytes_per_cycle"), f"{pmca.dma_bytes_per_cycle} is not a multiple "
                f"of pmca.bank_width_bytes ({pmca.bank_width_bytes}): a DMA beat moves whole words")
    for dtype, lanes in pmca.macs_per_cycle:
        if lanes * DTYPE_BYTES[dtype] > pmca.bank_width_bytes:
            r.error(join(join(p, "macs_per_cycle"), dtype), f"{lanes} lanes of {dtype} need "
                    f"{lanes * DTYPE_BYTES[dtype]} bytes per operand, wider than a TCDM bank "
                    f"word (pmca.bank_width_bytes = {pmca.bank_width_bytes})")
    clock(r, join(p, "freq_mhz"), pmca.freq_mhz)
    return pmca


def _engine(r: Reader, data: Any) -> MatrixEngine | None:
    if data is None:
        return None
    p = "pmca.matrix_engine"
    d = r.mapping(data, p, ENGINE_KEYS, required=("rows", "height", "pipe_regs"))
    engine = MatrixEngine(
        rows=r.take(d, p, "rows", int, minimum=1),
        height=r.take(d, p, "height", int, minimum=1),
        pipe_regs=r.take(d, p, "pipe_regs", int, minimum=1),
        orientation=r.take(d, p, "orientation", str, default="normal",
                           choices=ENGINE_ORIENTATIONS),
    )
    if engine.rows > engine.height * engine.pipe_regs:
        r.error(join(p, "rows"), f"{engine.rows} rows need at most height x pipe_regs = "
                f"{engine.height * engine.pipe_regs}: RedMulE's port must carry a tile's W and "
                f"Z lines within one pass")
    return engine
