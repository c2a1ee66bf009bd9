"""A GPU reference: a roofline ESTIMATE of a workload on a GPU, for latency and energy
comparisons. Not a simulation.

Each operation of the trace takes the longer of its arithmetic at the GPU's achieved compute
(peak x `compute_efficiency`) and its memory traffic at the achieved bandwidth (peak x
`bandwidth_efficiency`); operations run one after another, with no launch overhead (as under
CUDA graphs) and no overlap. Its energy is its time at the power the GPU draws in that regime
(`memory_bound_power_w` or `compute_bound_power_w`). The efficiencies and powers come from
published measurements, each with its source in the GPU's file (`tech/gpu/*.yaml`); the
figures are as good as that: every printed figure says "estimate".

Per operation (eb bytes per element, in the file's data type; T the tokens it processes: the
sequence's, or the LM head of a prefill its last token; H query heads, G = kv_heads groups
(grouped-query attention: G < H), d per head, n keys):
- static_linear: 2 T d_in d_out flops (hybrid: + 2 T r (d_in + d_out) for the LoRA branch,
  run unmerged); bytes = the weights (d_in d_out [+ r (d_in + d_out)]) + T (d_in + d_out)
  activations.
- attention, fused (the default; FlashAttention-style: scores never in memory): 4 T H n d flops
  (scores and context) + T H n (softmax); bytes = Q and the output (2 T H d) + K and V at the
  groups' size (2 G n d): a decode step reads its KV cache once per kv head, not per query head.
- attention unfused (`attention="unfused"`): each matmul of the trace reads its streamed
  operand (T H k), its held one at the groups' size (G k n) and writes T H n; the softmax
  reads and writes the scores.
- elementwise: T width inputs flops; bytes = T width (inputs + 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd

from aimcsim.params.fields import declare, numeric_bounds
from aimcsim.params.reader import Reader, join, read_yaml
from aimcsim.params.units import DTYPE_BYTES
from aimcsim.spec.fusion import fuse_attention
from aimcsim.spec.workload import Op, Workload

ATTENTION = ("fused", "unfused")
#: element-wise functions every GPU of a tensor-parallel group runs whole (Megatron-style: the
#: residual stream's adds and norms are replicated; activations, softmax and RoPE are split)
REPLICATED = ("add", "norm", "add_norm", "layernorm", "rmsnorm")

#: columns of `estimate(...)["ops"]`
GPU_OP_COLUMNS = {
    "name": "the operation (a fused attention: its chain's common name)",
    "kind": "static_linear | attention | dynamic_matmul | elementwise",
    "tokens": "tokens it processes",
    "flops": "floating-point operations (a multiply-accumulate is 2) of one GPU",
    "bytes": "bytes moved to and from one GPU's memory",
    "compute_ns": "flops at the achieved compute",
    "memory_ns": "bytes at the achieved bandwidth",
    "latency_ns": "the longer of the two",
    "bound": "compute | memory",
    "energy_pj": "latency at the power of its bound",
}


@dataclass(frozen=True, kw_only=True)
class Gpu:
    """A GPU's figures: a `tech/gpu/*.yaml` file (`version: 2`). Each number is a
    `{value, source}` entry; the sources are kept in `sources`."""

    name: Annotated[str, declare("the GPU, as its datasheet names it")]
    dtype: Annotated[Literal[tuple(DTYPE_BYTES)], declare(
        "data type the peak is for and the weights are stored in")]
    peak_tflops: Annotated[float, declare("dense peak of the data type (tensor cores)",
                                          ge=0.001, le=1e6, unit="TFLOP/s")]
    memory_gb_per_s: Annotated[float, declare("peak memory bandwidth", ge=0.001, le=1e6,
                                              unit="GB/s")]
    board_power_w: Annotated[float, declare("board power (TDP): no regime draws more",
                                            ge=0.001, le=1e5, unit="W")]
    bandwidth_efficiency: Annotated[float, declare(
        "achieved fraction of the peak bandwidth on memory-bound operations (a measured "
        "batch-1 decode)", ge=0.01, le=1.0)]
    compute_efficiency: Annotated[float, declare(
        "achieved fraction of the peak compute on compute-bound operations (a measured long "
        "prefill)", ge=0.01, le=1.0)]
    memory_bound_power_w: Annotated[float, declare(
        "power drawn by the board while memory-bound operations run (batch-1 decode)",
        ge=0.001, le=1e5, unit="W")]
    compute_bound_power_w: Annotated[float, declare(
        "power drawn by the board while compute-bound operations run (prefill)",
        ge=0.001, le=1e5, unit="W")]
    source: str = ""
    sources: dict[str, str] | None = None


_NUMBERS = tuple(numeric_bounds(Gpu))


def load_gpu(path: str | Path) -> Gpu:
    """Load and validate a GPU file: `version: 2`, `name`, `dtype`, `source` and a
    `{value, source}` entry for each number of `Gpu`."""
    r = Reader(path)
    top = ("version", "name", "dtype", "source", *_NUMBERS)
    d = r.mapping(read_yaml(path), "", top, required=top[:2] + top[2:3] + _NUMBERS)
    if "version" in d:
        r.version(d, (2,))
    name = r.take(d, "", "name", str, default="")
    dtype = r.take(d, "", "dtype", str, choices=tuple(DTYPE_BYTES), default="fp16")
    bounds = numeric_bounds(Gpu)
    values: dict[str, float] = {}
    sources: dict[str, str] = {}
    for key in _NUMBERS:
        entry = r.mapping(d.get(key, {}), key, ("value", "source"),
                          required=("value", "source"))
        low, high = bounds[key]
        values[key] = r.take(entry, key, "value", float, minimum=low, maximum=high,
                             default=1.0)
        sources[key] = r.take(entry, key, "source", str, default="")
        if "source" in entry and not sources[key].strip():
            r.error(join(key, "source"), "say where the value comes from (paper and table, "
                    "or the measurement it is set from)")
    for key in ("memory_bound_power_w", "compute_bound_power_w"):
        if key in values and values[key] > values.get("board_power_w", float("inf")):
            r.error(join(key, "value"), f"{values[key]:g} W is above board_power_w = "
                    f"{values['board_power_w']:g} W")
    r.finish()
    return Gpu(name=name, dtype=dtype, source=str(d.get("source", "")), sources=sources,
               **values)


def _figures(op: Op, tokens: int, eb: int, rank: int | None) -> tuple[float, float]:
    """(flops, bytes) of one operation over `tokens` tokens."""
    if op.kind == "static_linear":
        weights = op.d_in * op.d_out + (rank * (op.d_in + op.d_out) if rank else 0)
        return 2 * tokens * weights, eb * (weights + tokens * (op.d_in + op.d_out))
    if op.kind == "attention":  # fused: Q K^T, softmax and P V in one kernel
        d_v = op.d_out // op.heads
        flops = 2 * tokens * op.heads * op.n * (op.k + d_v) + tokens * op.heads * op.n
        moved = tokens * (op.d_in + op.d_out) + op.groups * op.n * (op.k + d_v)
        return flops, eb * moved
    if op.kind == "dynamic_matmul":
        flops = 2 * tokens * op.heads * op.k * op.n
        return flops, eb * (tokens * op.heads * (op.k + op.n) + op.groups * op.k * op.n)
    inputs = len(op.inputs)
    return tokens * op.d_out * inputs, eb * tokens * op.d_out * (inputs + 1)


def estimate(gpu: Gpu, workload: Workload, *, lora_rank: int | None = None,
             lora_applies: Any = None, attention: str = "fused",
             tensor_parallel: int = 1, lora_rank_of: Any = None) -> dict[str, Any]:
    """The roofline estimate of `workload` on `gpu` (see the module docstring). With
    `lora_rank`, static layers `lora_applies(role)` selects carry the LoRA branch; with
    `lora_rank_of(op)` (a rank or None), each static layer the rank it gives.
    `attention`: fused (the default) or unfused. `tensor_parallel` GPUs share every op's
    weights, heads and work evenly but the residual stream's adds and norms, which each runs
    whole (`REPLICATED`; Megatron-style; the all-reduces between them are not counted: a
    lower bound of the time), and each draws its power. The result's `ops` is a
    DataFrame (`GPU_OP_COLUMNS`, per GPU but `energy_pj`, of them all)."""
    if attention not in ATTENTION:
        raise ValueError(f"attention must be one of {', '.join(ATTENTION)}, got {attention!r}")
    if tensor_parallel < 1:
        raise ValueError(f"tensor_parallel must be >= 1, got {tensor_parallel}")
    eb = DTYPE_BYTES[gpu.dtype]
    compute = gpu.peak_tflops * 1e12 * gpu.compute_efficiency  # flop/s
    bandwidth = gpu.memory_gb_per_s * 1e9 * gpu.bandwidth_efficiency  # B/s
    work = fuse_attention(workload, workload.context or workload.tokens) \
        if attention == "fused" else workload
    rows = []
    for op in work.ops:
        if op.kind != "static_linear":
            rank = None
        elif lora_rank_of is not None:
            rank = lora_rank_of(op)
        else:
            rank = lora_rank if (lora_rank and (lora_applies is None
                                                or lora_applies(op.role))) else None
        tokens = work.rows(op)
        flops, moved = _figures(op, tokens, eb, rank)
        if not (op.kind == "elementwise" and op.function in REPLICATED):
            flops, moved = flops / tensor_parallel, moved / tensor_parallel
        compute_ns, memory_ns = flops / compute * 1e9, moved / bandwidth * 1e9
        bound = "compute" if compute_ns >= memory_ns else "memory"
        latency_ns = max(compute_ns, memory_ns)
        power = gpu.compute_bound_power_w if bound == "compute" else gpu.memory_bound_power_w
        rows.append((op.name, op.kind, tokens, flops, moved, compute_ns, memory_ns, latency_ns,
                     bound, tensor_parallel * power * latency_ns * 1e3))
    ops = pd.DataFrame(rows, columns=list(GPU_OP_COLUMNS))
    latency_ns = float(ops.latency_ns.sum())
    energy_pj = float(ops.energy_pj.sum())
    return {
        "gpu": gpu.name,
        "estimate": f"roofline at measured efficiencies ({gpu.bandwidth_efficiency:.0%} of "
                    f"peak bandwidth, {gpu.compute_efficiency:.0%} of peak compute), {attention} "
                    "attention, no launch overhead: an estimate, not a simulation",
        "attention": attention,
        "latency_ns": latency_ns,
        "energy_pj": energy_pj,
        "per_token_pj": energy_pj / workload.tokens,
        "tensor_parallel": tensor_parallel,
        "average_power_w": energy_pj / latency_ns / 1e3 / tensor_parallel if latency_ns
        else 0.0,
        "flops": float(ops.flops.sum()) * tensor_parallel,  # (of every GPU)
        "bytes": float(ops["bytes"].sum()) * tensor_parallel,
        "compute_bound_ops": int((ops.bound == "compute").sum()),
        "n_ops": len(ops),
        "ops": ops,
    }




def reference(gpu: Gpu, workload: Workload, lora: Any, mode: str) -> dict[str, Any]:
    """The estimate a run in `mode` is compared with: in hybrid mode with the architecture's
    adapters (`lora`: its `lora` section), in AIMC-only mode without."""
    if mode != "hybrid":
        return estimate(gpu, workload)
    return estimate(gpu, workload, lora_rank_of=lambda op: lora.rank_of(op.block, op.role))


__all__ = ["ATTENTION", "GPU_OP_COLUMNS", "Gpu", "estimate", "load_gpu", "reference"]
