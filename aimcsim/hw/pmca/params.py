"""The cluster's parameters: what an architecture file's `pmca` section declares, its meaning,
units and checks (the cluster's timing lives beside it in this package)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import WithJsonSchema

from aimcsim.params.fields import Custom, choices, declare, keys, read_fields, required
from aimcsim.params.reader import Reader, join
from aimcsim.params.units import DTYPE_BYTES, Clocked, clock

#: Functions every architecture gives a cycle count (the studied MobileBERT's), then those of
#: other model families, which have defaults (`ELEMENTWISE_DEFAULTS`) a file may override.
REQUIRED_FUNCTIONS = ("add", "norm", "add_norm", "relu", "softmax")
#: Cycles per SIMD vector where an architecture gives none (assumed, our estimates of plain
#: RISC-V code: gelu's tanh approximation and silu's sigmoid each an exp and a division;
#: layernorm two passes (mean and variance) and the affine map; rmsnorm one pass and the
#: scale; rope two FMAs per rotated pair; mul one).
ELEMENTWISE_DEFAULTS = {"gelu": 8, "silu": 6, "mul": 1, "layernorm": 4, "rmsnorm": 3,
                        "rope": 3}
ELEMENTWISE_FUNCTIONS = (*REQUIRED_FUNCTIONS, *ELEMENTWISE_DEFAULTS)

#: Inclusive bounds of the per-type tables' values.
TABLE_BOUNDS = {"macs_per_cycle": (1, 1024), "elementwise_cycles_per_vector": (1, 1_000_000),
                "fpu_latency_cycles": (1, 1000)}


def _pairs(name: str, keys: tuple[str, ...], meaning: str) -> WithJsonSchema:
    """The YAML form of a per-type table (read into (key, value) pairs)."""
    low, high = TABLE_BOUNDS[name]
    return WithJsonSchema({"type": "object", "additionalProperties": False, "description": meaning,
                           "properties": {k: {"type": "integer", "minimum": low, "maximum": high}
                                          for k in keys}})


@dataclass(frozen=True, kw_only=True)
class MatrixEngine:
    """RedMulE beside the cores, running the matmuls (`aimcsim.hw.pmca.redmule`): the
    `pmca.matrix_engine` section. An output tile is rows x height (pipe_regs + 1); the TCDM
    port moves height (pipe_regs + 1) FP16 values a cycle (256 bit for H = 4, P = 3)."""

    rows: Annotated[int, declare("rows of the output computed at once (L; the RTL's "
                                 "ARRAY_WIDTH), at most height x pipe_regs", ge=1, le=1024)]
    height: Annotated[int, declare("FMAs per row, chained along k (H; ARRAY_HEIGHT)", ge=1,
                                   le=1024)]
    pipe_regs: Annotated[int, declare("pipeline registers per FMA (P; PIPE_REGS)", ge=1, le=64)]
    orientation: Annotated[Literal["normal", "transposed"], declare(
        "normal: Z = X W as RedMulE's API; transposed: every matmul of the cluster as "
        "C^T = B^T A^T, activations held feature-major (the transposes chain, so no kernel "
        "transposes anything; a skinny X A then fills the tile's columns with tokens)")] = \
        "normal"

    @property
    def fmas(self) -> int:
        return self.rows * self.height


@dataclass(frozen=True, kw_only=True)
class Pmca(Clocked):
    """A programmable multi-core cluster (Snitch/PULP style) with a banked TCDM and a DMA: the
    `pmca` section of an architecture file. Each field is declared once, below."""

    cores: Annotated[int, declare("compute cores (the DMA core is not counted)", ge=1, le=1024)]
    freq_mhz: Annotated[int, declare("cluster clock; its period must be a whole number of ps",
                                     ge=1, le=100_000, unit="MHz")]
    macs_per_cycle: Annotated[tuple[tuple[str, int], ...], Custom(), _pairs(
        "macs_per_cycle", tuple(DTYPE_BYTES), "per core and cycle, by data type: SIMD lanes of "
        "one FMA issue (at least one type)")]
    tcdm_bytes: Annotated[int, declare("scratchpad capacity", ge=1, le=1 << 30, unit="bytes")]
    tcdm_banks: Annotated[int, declare("word-interleaved TCDM banks", ge=1, le=4096)] = 32
    bank_width_bytes: Annotated[int, declare("bytes of one bank word", ge=1, le=1024,
                                             unit="bytes")] = 8
    dma_bytes_per_cycle: Annotated[int, declare("DMA bandwidth (a multiple of the bank width)",
                                                ge=1, le=65_536, unit="bytes/cycle")] = 64
    dma_setup_cycles: Annotated[int, declare("per transfer descriptor", ge=0, le=1_000_000,
                                             unit="cycles")] = 0
    barrier_cycles: Annotated[int, declare("one cluster barrier, at the end of every kernel "
                                           "phase", ge=0, le=1_000_000, unit="cycles")] = 0
    kernel_setup_cycles: Annotated[int, declare("per kernel phase and core: loop and address "
                                                "set-up before the first MAC", ge=0, le=1_000_000,
                                                unit="cycles")] = 0
    elementwise_cycles_per_vector: Annotated[tuple[tuple[str, int], ...], Custom(), _pairs(
        "elementwise_cycles_per_vector", ELEMENTWISE_FUNCTIONS, "cycles per SIMD vector of "
        "macs_per_cycle lanes, by function (add, norm, add_norm, relu and softmax need one; "
        "the others default to ELEMENTWISE_DEFAULTS)")] = ()
    streaming: Annotated[bool, declare("cores feed the FPU from stream registers under a "
                                       "hardware loop (Snitch SSR + FREP); false: load-use code "
                                       "(PULP)")] = True
    loop_overhead_cycles: Annotated[int, declare("load-use cores: address and loop instructions "
                                                 "per SIMD step", ge=0, le=1000, unit="cycles")] = 2
    timing: Annotated[Literal["cycle-level", "throughput"], declare(
        "cycle-level (numba, TCDM bank conflicts) or throughput (closed form, no "
        "conflicts)")] = "cycle-level"
    dma_double_buffer: Annotated[bool, declare("the DMA brings the next operand while the cores "
                                               "compute on the current one (two TCDM "
                                               "buffers)")] = False
    matrix_engine: Annotated[MatrixEngine | None, Custom(), declare(
        "RedMulE running the matmuls instead of the cores (absent: the cores run them)")] = None
    fpu_latency_cycles: Annotated[tuple[tuple[str, int], ...], Custom(), _pairs(
        "fpu_latency_cycles", tuple(DTYPE_BYTES), "by data type, cycles from one FMA to a "
        "dependent one (1: back to back; absent types: 1)")] = ()
    stream_fifo_depth: Annotated[int, declare("words each stream register fetches ahead (Snitch "
                                              "SSR credits)", ge=1, le=1024)] = 4
    matmul_dataflow: Annotated[Literal["auto", "k-simd", "n-simd"], declare(
        "streaming cores: k-simd (lanes along k, as the published Snitch GEMMs), n-simd "
        "(lanes along n, A replicated) or auto (the faster, per shape)")] = "auto"

    def macs(self, dtype: str) -> int:
        return dict(self.macs_per_cycle)[dtype]

    def fpu_latency(self, dtype: str) -> int:
        return dict(self.fpu_latency_cycles).get(dtype, 1)

    def elementwise_cycles(self, function: str) -> int:
        given = dict(self.elementwise_cycles_per_vector)
        return given[function] if function in given else ELEMENTWISE_DEFAULTS[function]


#: The keys of the `pmca` section and of its `matrix_engine`, and the values of its choices.
PMCA_KEYS = keys(Pmca)
ENGINE_KEYS = keys(MatrixEngine)
TIMINGS = choices(Pmca, "timing")
DATAFLOWS = choices(Pmca, "matmul_dataflow")
ENGINE_ORIENTATIONS = choices(MatrixEngine, "orientation")


def _int_table(r: Reader, d: dict[str, Any], p: str, name: str, keys: tuple[str, ...]
               ) -> tuple[tuple[str, int], ...]:
    path = join(p, name)
    table = r.mapping(d.get(name, {}), path, keys)
    low, high = TABLE_BOUNDS[name]
    return tuple((k, r.take(table, path, k, int, minimum=low, maximum=high))
                 for k in keys if k in table)


def read_pmca(r: Reader, data: Any) -> Pmca:
    """The `pmca` section (errors go to `r`)."""
    p = "pmca"
    d = r.mapping(data, p, PMCA_KEYS, required=required(Pmca))
    macs = _int_table(r, d, p, "macs_per_cycle", tuple(DTYPE_BYTES))
    if "macs_per_cycle" in d and isinstance(d["macs_per_cycle"], dict) and not macs \
            and not d["macs_per_cycle"]:
        r.error(join(p, "macs_per_cycle"), "needs at least one data type, e.g. fp16: 4")
    ew_path = join(p, "elementwise_cycles_per_vector")
    ew_given = d.get("elementwise_cycles_per_vector", {})
    ew = _int_table(r, d, p, "elementwise_cycles_per_vector", ELEMENTWISE_FUNCTIONS)
    missing = [f for f in REQUIRED_FUNCTIONS if isinstance(ew_given, dict) and f not in ew_given]
    if missing:
        r.error(ew_path, f"missing functions {', '.join(missing)}; every one of "
                f"{', '.join(REQUIRED_FUNCTIONS)} needs a cycle count")
    pmca = Pmca(
        macs_per_cycle=macs,
        elementwise_cycles_per_vector=ew,
        matrix_engine=_engine(r, d.get("matrix_engine")),
        fpu_latency_cycles=_int_table(r, d, p, "fpu_latency_cycles", tuple(DTYPE_BYTES)),
        **read_fields(r, Pmca, d, p),
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
    d = r.mapping(data, p, ENGINE_KEYS, required=required(MatrixEngine))
    engine = MatrixEngine(**read_fields(r, MatrixEngine, d, p))
    if engine.rows > engine.height * engine.pipe_regs:
        r.error(join(p, "rows"), f"{engine.rows} rows need at most height x pipe_regs = "
                f"{engine.height * engine.pipe_regs}: RedMulE's port must carry a tile's W and "
                f"Z lines within one pass")
    return engine
