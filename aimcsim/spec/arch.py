"""Architecture files: YAML -> validated, frozen `Arch`.

Every field, its unit and its meaning is documented here once; `arch/*.yaml` repeat the
meaning next to the value with the source of the number.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aimcsim.hw.interconnect.topology import TOPOLOGIES as _TOPOLOGY_REGISTRY
from aimcsim.spec._reader import Reader, join, read_yaml

SUPPORTED_VERSIONS = (1,)
MODES = ("hybrid", "aimc-only")
STRATEGIES = ("sequential", "overlapped", "double-buffered")
BETWEEN_LAYERS = ("streaming", "layer-by-layer")
TILE_OUTPUTS = ("in-place", "separate")
TIMINGS = ("cycle-level", "throughput")
DTYPE_BYTES = {"fp64": 8, "fp32": 4, "fp16": 2, "bf16": 2, "fp8": 1, "int8": 1}
DATAFLOWS = ("auto", "k-simd", "n-simd")
ENGINE_ORIENTATIONS = ("normal", "transposed")
ELEMENTWISE_FUNCTIONS = ("add", "norm", "add_norm", "relu", "softmax")
PS_PER_US = 1_000_000  # a clock of f MHz has a period of 1e6 / f ps


@dataclass(frozen=True)
class AimcTile:
    """One analog crossbar tile and the phases of one matrix-vector multiply (MVM).

    rows, cols: crossbar size (inputs x outputs) in weights.
    integration_time_ns: analog integration phase of one MVM.
    dac_ns: input phase (load the input vector, drive the DACs / pulse generators).
    adc_ns: output phase (ADC conversion and readout of the column results).
    pipelined: consecutive tokens overlap phases (DAC of token i+1 during integration of i).
    """

    rows: int
    cols: int
    integration_time_ns: float
    dac_ns: float
    adc_ns: float
    pipelined: bool

    @property
    def phases_ps(self) -> tuple[int, int, int]:
        """(dac, integration, adc) durations in integer picoseconds."""
        return (ns_to_ps(self.dac_ns), ns_to_ps(self.integration_time_ns), ns_to_ps(self.adc_ns))


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


@dataclass(frozen=True)
class Interconnect:
    """Links carrying activations between tiles and clusters.

    topology: a name registered in `aimcsim.hw.interconnect` (`point-to-point`, a dedicated
    link per source/destination pair; `shared-bus`, one link all transfers contend for;
    `mesh`, 2D mesh with XY routing, a node per cluster and its tile group; see each module).
    freq_mhz: link clock. bytes_per_cycle: link width. latency_cycles: head latency per transfer.
    hop_latency_cycles: topologies of hops: router and wire latency per hop. mesh_columns: mesh
    width in nodes (0: the smallest square that holds every node).
    """

    topology: str
    freq_mhz: int
    bytes_per_cycle: int
    latency_cycles: int
    hop_latency_cycles: int = 1
    mesh_columns: int = 0

    @property
    def period_ps(self) -> int:
        return PS_PER_US // self.freq_mhz


@dataclass(frozen=True)
class Pipeline:
    """How the tile and the cluster share a layer's token blocks.

    strategy: `sequential` (tile, then cluster, per block), `overlapped` (the cluster computes
    X A B while the tile computes X W; one block in flight), `double-buffered` (as overlapped,
    with two blocks in flight so the tile and the link fill block i+1 while the cluster
    finishes block i).
    parallel_tokens: tokens per block on the cluster (and granularity of streaming edges).
    between_layers: `streaming` (a consumer starts on block i once its producers finished
    block i, as the trace's edges say; independent ops overlap) or `layer-by-layer` (one op at
    a time in trace order, each starting once the one before it has finished: every op has the
    chip to itself and its latency is its own, as in a per-layer study).
    tile_output: where a block's tile output lands in the TCDM in hybrid mode. `in-place`
    (what hand-written LoRA kernels do): in the LoRA output buffer, and U = T B accumulates
    onto it (a GEMM with C += A B), so T B waits for the tile output and one d_out buffer
    serves both. `separate`: a buffer of its own; T B runs before the tile output arrives,
    into its own buffer, and a final add joins the two.
    """

    strategy: str
    parallel_tokens: int
    between_layers: str = "streaming"
    tile_output: str = "in-place"

    @property
    def blocks_in_flight(self) -> int:
        return 2 if self.strategy == "double-buffered" else 1


@dataclass(frozen=True)
class Lora:
    """Low-rank adapters computed digitally in hybrid mode.

    rank: r of A (d_in x r) and B (r x d_out). dtype: data type of all digital compute.
    layers: `all`, or the static-layer roles that carry adapters (e.g. query, value).
    """

    rank: int
    dtype: str
    layers: tuple[str, ...] | None  # None: every static layer

    @property
    def element_bytes(self) -> int:
        return DTYPE_BYTES[self.dtype]

    def applies_to(self, role: str) -> bool:
        return self.layers is None or role in self.layers


@dataclass(frozen=True)
class Arch:
    """A whole architecture, as loaded from one file."""

    name: str
    mode: str
    aimc: AimcTile
    pmca: Pmca
    interconnect: Interconnect
    pipeline: Pipeline
    lora: Lora
    source: str = "<memory>"


def topology_names() -> tuple[str, ...]:
    """The topologies registered in `aimcsim.hw.interconnect`, sorted."""
    return tuple(sorted(_TOPOLOGY_REGISTRY))


def ns_to_ps(ns: float) -> int:
    """Nanoseconds to integer picoseconds (inputs are validated to be whole picoseconds)."""
    return round(ns * 1000)


_TOP = ("version", "name", "mode", "source", "aimc", "pmca", "interconnect", "pipeline", "lora")
_AIMC = ("rows", "cols", "integration_time_ns", "dac_ns", "adc_ns", "pipelined", "source")
_PMCA = (
    "cores", "freq_mhz", "macs_per_cycle", "tcdm_bytes", "tcdm_banks", "bank_width_bytes",
    "dma_bytes_per_cycle", "dma_setup_cycles", "barrier_cycles", "kernel_setup_cycles",
    "elementwise_cycles_per_vector", "streaming", "loop_overhead_cycles", "timing",
    "dma_double_buffer", "matrix_engine", "fpu_latency_cycles", "stream_fifo_depth",
    "matmul_dataflow", "source",
)
_ENGINE = ("rows", "height", "pipe_regs", "orientation", "source")
_NOC = ("topology", "freq_mhz", "bytes_per_cycle", "latency_cycles", "hop_latency_cycles",
        "mesh_columns", "source")
_PIPE = ("strategy", "parallel_tokens", "between_layers", "tile_output")
_LORA = ("rank", "dtype", "layers")
#: The keys each section of an architecture file recognises (sweep axes are checked against it).
SECTION_KEYS: dict[str, tuple[str, ...]] = {
    "aimc": _AIMC, "pmca": _PMCA, "interconnect": _NOC, "pipeline": _PIPE, "lora": _LORA,
}


def load_arch(path: str | Path) -> Arch:
    """Load and validate an architecture YAML file.

    Raises `SpecError` listing every problem, each with the file and its YAML dot-path.
    """
    return parse_arch(read_yaml(path), str(path))


def parse_arch(doc: Any, file: str = "<memory>") -> Arch:
    """Validate an already parsed architecture document (see `load_arch`)."""
    r = Reader(file)
    top = r.mapping(doc, "", _TOP, required=("version", "aimc", "pmca", "interconnect"))
    if "version" in top:
        r.version(top, SUPPORTED_VERSIONS)
    name = r.take(top, "", "name", str, default=Path(file).stem)
    mode = r.take(top, "", "mode", str, default="hybrid", choices=MODES)
    aimc = _aimc(r, top.get("aimc", {}))
    pmca = _pmca(r, top.get("pmca", {}))
    noc = _interconnect(r, top.get("interconnect", {}))
    pipe = _pipeline(r, top.get("pipeline", {}))
    lora = _lora(r, top.get("lora", {}), pmca)
    r.finish()
    return Arch(name, mode, aimc, pmca, noc, pipe, lora, source=file)


def _whole_ps(r: Reader, path: str, ns: float) -> None:
    if abs(ns * 1000 - round(ns * 1000)) > 1e-6:
        r.error(path, f"{ns} ns is not a whole number of picoseconds (engine time is integer ps)")


def _clock(r: Reader, path: str, freq_mhz: int) -> None:
    if freq_mhz > 0 and PS_PER_US % freq_mhz:
        r.error(
            path,
            f"{freq_mhz} MHz gives a clock period of {PS_PER_US / freq_mhz:.3f} ps; engine time is "
            "integer picoseconds, so use a frequency that divides 1000000 MHz "
            "(e.g. 250, 500, 800, 1000, 1250, 2000)",
        )


def _aimc(r: Reader, data: Any) -> AimcTile:
    p = "aimc"
    d = r.mapping(data, p, _AIMC, required=("rows", "cols", "integration_time_ns"))
    tile = AimcTile(
        rows=r.take(d, p, "rows", int, minimum=1),
        cols=r.take(d, p, "cols", int, minimum=1),
        integration_time_ns=r.take(d, p, "integration_time_ns", float, minimum=0.001, unit="ns"),
        dac_ns=r.take(d, p, "dac_ns", float, default=0.0, minimum=0, unit="ns"),
        adc_ns=r.take(d, p, "adc_ns", float, default=0.0, minimum=0, unit="ns"),
        pipelined=r.take(d, p, "pipelined", bool, default=True),
    )
    for key in ("integration_time_ns", "dac_ns", "adc_ns"):
        _whole_ps(r, join(p, key), getattr(tile, key))
    return tile


def _int_table(
    r: Reader, data: Any, path: str, keys: tuple[str, ...], *, minimum: int
) -> tuple[tuple[str, int], ...]:
    d = r.mapping(data, path, keys)
    return tuple((k, r.take(d, path, k, int, minimum=minimum)) for k in keys if k in d)


def _pmca(r: Reader, data: Any) -> Pmca:
    p = "pmca"
    d = r.mapping(data, p, _PMCA, required=("cores", "freq_mhz", "macs_per_cycle", "tcdm_bytes"))
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
    _clock(r, join(p, "freq_mhz"), pmca.freq_mhz)
    return pmca


def _engine(r: Reader, data: Any) -> MatrixEngine | None:
    if data is None:
        return None
    p = "pmca.matrix_engine"
    d = r.mapping(data, p, _ENGINE, required=("rows", "height", "pipe_regs"))
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


def _interconnect(r: Reader, data: Any) -> Interconnect:
    p = "interconnect"
    d = r.mapping(data, p, _NOC, required=("topology", "bytes_per_cycle"))
    noc = Interconnect(
        topology=r.take(d, p, "topology", str, choices=topology_names()),
        freq_mhz=r.take(d, p, "freq_mhz", int, default=1000, minimum=1, unit="MHz"),
        bytes_per_cycle=r.take(d, p, "bytes_per_cycle", int, minimum=1, unit="bytes/cycle"),
        latency_cycles=r.take(d, p, "latency_cycles", int, default=0, minimum=0, unit="cycles"),
        hop_latency_cycles=r.take(d, p, "hop_latency_cycles", int, default=1, minimum=0,
                                  unit="cycles"),
        mesh_columns=r.take(d, p, "mesh_columns", int, default=0, minimum=0),
    )
    _clock(r, join(p, "freq_mhz"), noc.freq_mhz)
    return noc


def _pipeline(r: Reader, data: Any) -> Pipeline:
    p = "pipeline"
    d = r.mapping(data, p, _PIPE)
    return Pipeline(
        strategy=r.take(d, p, "strategy", str, default="overlapped", choices=STRATEGIES),
        parallel_tokens=r.take(d, p, "parallel_tokens", int, default=16, minimum=1),
        between_layers=r.take(d, p, "between_layers", str, default="streaming",
                              choices=BETWEEN_LAYERS),
        tile_output=r.take(d, p, "tile_output", str, default="in-place", choices=TILE_OUTPUTS),
    )


def _lora(r: Reader, data: Any, pmca: Pmca) -> Lora:
    p = "lora"
    d = r.mapping(data, p, _LORA)
    rank = r.take(d, p, "rank", int, default=8, minimum=1)
    dtype = r.take(d, p, "dtype", str, default="fp16", choices=tuple(DTYPE_BYTES))
    layers: tuple[str, ...] | None = None
    raw = d.get("layers", "all")
    if raw != "all":
        items = r.sequence(raw, join(p, "layers"))
        for i, item in enumerate(items):
            if not isinstance(item, str):
                r.error(join(join(p, "layers"), i), f"expected a layer role (string), got {item!r}")
        layers = tuple(str(i) for i in items)
    known = dict(pmca.macs_per_cycle)
    if known and dtype not in known:
        r.error(
            join(p, "dtype"),
            f"{dtype!r} has no entry in pmca.macs_per_cycle (it has: {', '.join(known)})",
        )
    return Lora(rank, dtype, layers)
