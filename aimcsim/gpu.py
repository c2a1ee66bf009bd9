"""A GPU reference: a roofline ESTIMATE of a workload on a GPU, for energy-per-token comparisons.

Not a simulation. Each operation of the trace takes the longer of its arithmetic at the GPU's
published peak and its memory traffic at the published bandwidth; operations run one after
another with no launch overhead and no overlap; energy is the board power over that time.
The figures are as good as those assumptions (a real GPU rarely reaches its peak on
transformer layers of a few hundred tokens): every printed figure says "estimate".

Per operation (eb bytes per element, in the file's data type):
- static_linear: 2 T d_in d_out flops (hybrid: + 2 T r (d_in + d_out) for the LoRA branch);
  bytes = the weights (d_in d_out [+ r (d_in + d_out)]) + T (d_in + d_out) activations.
- dynamic_matmul: 2 T H k n flops; bytes = T H (k + n) + H k n.
- elementwise: T width inputs flops; bytes = T width (inputs + 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from aimcsim.spec._reader import Reader, read_yaml
from aimcsim.spec.fields import keys, read_fields, required, spec
from aimcsim.spec.units import DTYPE_BYTES
from aimcsim.spec.workload import Workload


@dataclass(frozen=True, kw_only=True)
class Gpu:
    """A GPU's published peak figures: a `gpu/*.yaml` file. Each field is declared once."""

    name: Annotated[str, spec("the GPU, as its datasheet names it")]
    peak_tflops: Annotated[float, spec("dense peak of the data type below (tensor cores)",
                                       ge=0.001, le=1e6, unit="TFLOP/s")]
    dtype: Annotated[Literal[tuple(DTYPE_BYTES)], spec(
        "data type the peak is for and the weights are stored in")]
    memory_gb_per_s: Annotated[float, spec("memory bandwidth", ge=0.001, le=1e6,
                                           unit="GB/s")]
    board_power_w: Annotated[float, spec("board power (TDP) drawn while it runs",
                                         ge=0.001, le=1e5, unit="W")]
    source: Annotated[str, spec("where the figures come from")]


def load_gpu(path: str | Path) -> Gpu:
    """Load and validate a GPU file (`version: 1` and the fields of `Gpu`)."""
    r = Reader(path)
    d = r.mapping(read_yaml(path), "", ("version", *keys(Gpu)[:-1]),
                  required=("version", *required(Gpu)))
    if "version" in d:
        r.version(d, (1,))
    values = read_fields(r, Gpu, d, "")
    r.finish()
    return Gpu(**values)


def _op_figures(op: Any, tokens: int, rank: int | None) -> tuple[float, float]:
    """(flops, elements moved) of one operation."""
    if op.kind == "static_linear":
        weights = op.d_in * op.d_out + (rank * (op.d_in + op.d_out) if rank else 0)
        flops = 2 * tokens * weights
        return flops, weights + tokens * (op.d_in + op.d_out)
    if op.kind == "dynamic_matmul":
        flops = 2 * tokens * op.heads * op.k * op.n
        return flops, tokens * op.heads * (op.k + op.n) + op.heads * op.k * op.n
    inputs = len(op.inputs)
    return tokens * op.d_out * inputs, tokens * op.d_out * (inputs + 1)


def estimate(gpu: Gpu, workload: Workload, *, lora_rank: int | None = None,
             lora_applies: Any = None) -> dict[str, Any]:
    """The roofline estimate of `workload` on `gpu` (see the module docstring). With
    `lora_rank`, static layers `lora_applies(role)` selects carry the LoRA branch."""
    eb = DTYPE_BYTES[gpu.dtype]
    peak = gpu.peak_tflops * 1e12
    bandwidth = gpu.memory_gb_per_s * 1e9
    seconds = compute_bound = 0.0
    flops_total = 0.0
    for op in workload.ops:
        rank = lora_rank if (lora_rank and op.kind == "static_linear"
                             and (lora_applies is None or lora_applies(op.role))) else None
        flops, elements = _op_figures(op, workload.tokens, rank)
        t_compute, t_memory = flops / peak, elements * eb / bandwidth
        seconds += max(t_compute, t_memory)
        compute_bound += t_compute >= t_memory
        flops_total += flops
    energy_pj = gpu.board_power_w * seconds * 1e12
    return {
        "gpu": gpu.name,
        "estimate": "roofline (peak compute or memory bandwidth per op, no overlap, board "
                    "power): an estimate, not a simulation",
        "latency_ns": seconds * 1e9,
        "energy_pj": energy_pj,
        "per_token_pj": energy_pj / workload.tokens,
        "flops": flops_total,
        "compute_bound_ops": int(compute_bound),
        "ops": len(workload.ops),
    }


__all__ = ["Gpu", "estimate", "load_gpu"]
