"""Placement of a workload's operations on tiles and clusters, and the TCDM budget check.

Policy (the study's: one cluster per tile group):
- every static_linear op gets its own tile group (ceil(d_in/rows) x ceil(d_out/cols) crossbars)
  and a cluster paired with it; the cluster runs the op's LoRA branch and partial-sum reduction;
- a digital op runs on the cluster that holds its first input: the paired cluster of a static
  producer, or the cluster of a digital producer (so attention runs beside the query layer);
  one that reads the network input gets a cluster of its own;
- a tile sends each output block to its paired cluster as the block completes whenever the
  cluster needs it: for the LoRA add, for partial sums, or because a digital consumer runs
  there; in both modes, so the same data moves in both;
- the network input is present at every consumer at time 0 (embeddings are not simulated).
"""

from __future__ import annotations

from dataclasses import dataclass

from aimcsim.errors import CapacityError, SpecError, SpecIssue
from aimcsim.hw.aimc_tile import TileMapping, map_matrix
from aimcsim.hw.pmca import PmcaModel
from aimcsim.hw.pmca.programs import block_program, lora_weight_bytes
from aimcsim.spec.arch import Arch, Pipeline
from aimcsim.spec.workload import INPUT, Op, Workload


@dataclass(frozen=True)
class Placement:
    pmca: int  # cluster index
    tile: TileMapping | None  # static ops only
    rank: int | None  # LoRA rank when the op carries an adapter in this mode
    out_unit: str  # where the op's output is produced


def tile_unit(name: str) -> str:
    return f"tile:{name}"


def pmca_unit(index: int) -> str:
    return f"pmca:{index}"


def place(arch: Arch, workload: Workload, mode: str) -> dict[str, Placement]:
    """Place every op; raises `SpecError` (naming the arch file) for unknown LoRA roles."""
    check_lora_roles(arch, workload)
    feeds_digital = {op.inputs[0].src for op in workload.ops if op.kind != "static_linear"}
    placements: dict[str, Placement] = {}
    next_pmca = 0
    for op in workload.ops:
        if op.kind == "static_linear":
            tile = map_matrix(op.d_in, op.d_out, arch.aimc)
            rank = arch.lora.rank if mode == "hybrid" and arch.lora.applies_to(op.role) else None
            pmca = next_pmca
            next_pmca += 1
            digital_out = rank is not None or tile.row_splits > 1 or op.name in feeds_digital
            out = pmca_unit(pmca) if digital_out else tile_unit(op.name)
            placements[op.name] = Placement(pmca, tile, rank, out)
        else:
            src = op.inputs[0].src
            if src == INPUT:  # nothing holds the network input: a cluster of its own
                pmca = next_pmca
                next_pmca += 1
            else:
                pmca = placements[src].pmca
            placements[op.name] = Placement(pmca, None, None, pmca_unit(pmca))
    return placements


def check_lora_roles(arch: Arch, workload: Workload) -> None:
    """Raise `SpecError` (arch file, `lora.layers[i]`) for roles the workload does not have."""
    if arch.lora.layers is None:
        return
    known = workload.roles
    issues = [
        SpecIssue(f"lora.layers[{i}]", f"no static layer of workload {workload.name!r} has role "
                  f"{role!r}; allowed: all, or a list of {', '.join(known)}")
        for i, role in enumerate(arch.lora.layers)
        if role not in known
    ]
    if issues:
        raise SpecError(arch.source, issues)


def resident_bytes(arch: Arch, workload: Workload, placements: dict[str, Placement]) -> list[int]:
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
    placements: dict[str, Placement],
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
    arch: Arch, op: Op, p: Placement, model: PmcaModel, budget: int, pipe: Pipeline, upper: int
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
