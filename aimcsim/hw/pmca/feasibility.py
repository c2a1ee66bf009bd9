"""TCDM feasibility of a placement: every op's blocks in flight beside its cluster's resident
LoRA weights, and the largest block size that fits when they do not."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aimcsim.errors import CapacityError
from aimcsim.hw.pmca.model import PmcaModel
from aimcsim.hw.pmca.programs import block_program, lora_weight_bytes

if TYPE_CHECKING:
    from aimcsim.spec.arch import Arch, Pipeline
    from aimcsim.spec.workload import Op, Workload


def resident_bytes(arch: Arch, workload: Workload, placements: dict[str, Any]) -> list[int]:
    """TCDM bytes each cluster holds for the whole run (LoRA weights)."""
    clusters = 1 + max(p.pmca for p in placements.values())
    resident = [0] * clusters
    for op in workload.ops:
        p = placements[op.name]
        if p.rank is not None:
            resident[p.pmca] += lora_weight_bytes(op, p.rank, arch.lora.element_bytes)
    return resident


def check_tcdm(
    arch: Arch,
    workload: Workload,
    placements: dict[str, Any],
    model: PmcaModel,
    settings: dict[str, Pipeline] | None = None,
) -> list[int]:
    """Check every op's blocks in flight fit beside its cluster's resident weights.

    `settings` gives an op's own pipeline (default: the architecture's). Returns the resident
    bytes per cluster; raises `CapacityError` naming the op, the bytes it needs, the capacity
    and the largest `pipeline.parallel_tokens` that would fit.
    """
    resident = resident_bytes(arch, workload, placements)
    capacity = arch.pmca.tcdm_bytes
    eb = arch.lora.element_bytes
    for op in workload.ops:
        p = placements[op.name]
        pipe = (settings or {}).get(op.name, arch.pipeline)
        block = min(pipe.parallel_tokens, workload.tokens)
        in_flight = pipe.blocks_in_flight
        prog = block_program(model, op, block, eb=eb, tile=p.tile, rank=p.rank,
                             tile_output=pipe.tile_output)
        need = resident[p.pmca] + in_flight * prog.tcdm_bytes
        if need <= capacity:
            continue
        best = _largest_block(arch, op, p, model, capacity - resident[p.pmca], pipe, block)
        hint = (f"parallel_tokens <= {best} fits" if best else
                "no block size fits: lower lora.rank or raise pmca.tcdm_bytes")
        raise CapacityError(
            f"{arch.source}: pipeline.parallel_tokens = {block} needs {need} bytes of TCDM on "
            f"cluster {p.pmca} for {op.name!r} ({in_flight} block(s) of "
            f"{prog.tcdm_bytes} bytes + {resident[p.pmca]} bytes of resident LoRA "
            f"weights), above pmca.tcdm_bytes = {capacity}; {hint}",
            needed_bytes=need,
            capacity_bytes=capacity,
        )
    return resident


def _largest_block(
    arch: Arch, op: Op, p: Any, model: PmcaModel, budget: int, pipe: Pipeline, upper: int
) -> int:
    """Largest block size whose working sets in flight fit in `budget` bytes (0: none)."""
    in_flight = pipe.blocks_in_flight
    eb = arch.lora.element_bytes
    lo, hi = 0, upper
    while lo < hi:  # footprints grow with the block size
        mid = (lo + hi + 1) // 2
        prog = block_program(model, op, mid, eb=eb, tile=p.tile, rank=p.rank,
                             tile_output=pipe.tile_output)
        if in_flight * prog.tcdm_bytes <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo
