"""Everything a run derives from its inputs, once: `prepare(arch, workload, mode, model)`.

The simulation (`aimcsim.simulator.simulate`), the sweep's pre-check of each point and the
search's feasibility of each setting all call it, so what one accepts the others run: the
workload with attention fused as `pipeline.attention_key_chunk` says, the placements (tiles
checked against the chip), the KV operands each cluster's L2 holds (checked against
`memory.l2_bytes`), every op's blocks in flight within its cluster's TCDM beside the resident
LoRA weights, each op's pipeline settings and block sizes. Refusals are `CapacityError` or
`SpecError`, naming the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from aimcsim.hw.aimc_tile import mvm_events
from aimcsim.hw.engines import engine
from aimcsim.hw.pmca import PmcaModel
from aimcsim.hw.pmca.programs import block_sizes
from aimcsim.identity import Same
from aimcsim.mapping import Placement, placed
from aimcsim.sim.feasibility import check_l2, checked_tcdm
from aimcsim.spec.arch import Arch, Pipeline
from aimcsim.spec.fusion import fuse_attention
from aimcsim.spec.workload import Workload


@dataclass(frozen=True)
class Case:
    """What a run reads of its workload and placements alone (`case`)."""

    names: list[str]  # the ops, in trace order
    tile_events: dict[str, tuple[int, int, int, int]]  # per static op: `mvm_events`
    weights: dict[str, int]  # per op, in trace order: its LoRA weights resident in TCDM
    cims: list[str]  # the ops whose branch runs on SRAM-CIM macros


@lru_cache(maxsize=64)
def case(same: Same, eb: int, engine_name: str = "pmca") -> Case:
    """Memoised by the identities of the workload and the placements (`aimcsim.identity.Same`) and
    the element bytes: the points of a sweep over timings share it. Read only."""
    workload, placements = same.objects
    branch = engine(engine_name)
    events: dict[tuple, tuple[int, int, int, int]] = {}  # (layers repeat a few shapes)
    tile_events = {}
    for op in workload.ops:
        if op.kind == "static_linear":
            tile = placements[op.name].tile
            shape = (tile, op.d_in, op.d_out)
            if shape not in events:
                events[shape] = mvm_events(tile, op.d_in, op.d_out)
            tile_events[op.name] = events[shape]
    return Case(
        [op.name for op in workload.ops], tile_events,
        {op.name: branch.resident_bytes(op, p.rank, eb) if p.rank is not None else 0
         for op in workload.ops for p in (placements[op.name],)},
        [name for name, p in placements.items() if p.cim])


@dataclass(frozen=True, eq=False)
class Prepared:
    """A run's inputs and what derives from them (read only: `placements` and `case` are
    shared with other runs of the same case)."""

    arch: Arch
    workload: Workload  # attention fused as `pipeline.attention_key_chunk` says
    mode: str
    model: PmcaModel
    placements: Mapping[str, Placement]
    case: Case
    #: each op's pipeline (the architecture's, or its override)
    settings: dict[str, Pipeline]
    #: every op runs the architecture's pipeline (no overrides)
    uniform: bool
    #: bytes each cluster's L2 holds for the run (K and V of its attention)
    l2_held: list[int]
    #: TCDM bytes each cluster holds for the whole run (resident LoRA weights)
    resident: list[int]
    #: each op's token blocks, in order
    blocks: dict[str, list[int]]
    #: tokens before an op's first (an op of the last tokens only: the LM head of a prefill)
    skipped: dict[str, int]


def prepare(arch: Arch, workload: Workload, mode: str, model: PmcaModel,
            settings: dict[str, Pipeline] | None = None) -> Prepared:
    """Everything a run of `workload` on `arch` in `mode` derives from its inputs (see the
    module docstring); `settings` gives single ops (by name) their own pipeline. Raises
    `CapacityError` when the L2 or a TCDM is too small, `SpecError` for roles or tiles the
    architecture refuses, ValueError for settings of ops the workload does not have."""
    # with pipeline.attention_key_chunk, each attention chain runs as one fused op
    chunk = arch.pipeline.attention_key_chunk
    workload = _fused(Same(workload), chunk) if chunk else workload
    shared = placed(arch, workload, mode)
    the_case = case(Same(workload, shared), arch.lora.element_bytes, arch.lora.engine)
    names = the_case.names
    unknown = sorted(set(settings) - set(names)) if settings else ()
    if unknown:
        raise ValueError(f"pipeline settings for operations not in the workload: {unknown[:5]}")
    uniform = not settings
    per_op = (dict.fromkeys(names, arch.pipeline) if uniform
              else {name: settings.get(name, arch.pipeline) for name in names})
    l2_held = check_l2(arch, workload, shared)
    resident = checked_tcdm(arch, workload, shared, model, settings)
    sizes: dict[int, list[int]] = {}  # (ops of one block size share their list)
    for s in (arch.pipeline,) if uniform else {*per_op.values()}:
        sizes[s.parallel_tokens] = block_sizes(workload.tokens,
                                               min(s.parallel_tokens, workload.tokens))
    block = sizes[arch.pipeline.parallel_tokens] if uniform else None
    blocks = ({name: block for name in names} if block is not None
              else {name: sizes[s.parallel_tokens] for name, s in per_op.items()})
    skipped: dict[str, int] = {}
    for op in workload.ops:
        if op.last_tokens:
            rows = workload.rows(op)
            skipped[op.name] = workload.tokens - rows
            pt = per_op[op.name].parallel_tokens
            blocks[op.name] = block_sizes(rows, min(pt, rows))
    return Prepared(arch, workload, mode, model, shared, the_case, per_op, uniform, l2_held,
                    resident, blocks, skipped)


@lru_cache(maxsize=64)
def _fused(same: Same, chunk: int) -> Workload:
    """`fuse_attention`, memoised by the workload's identity (the same fused workload for
    the same case: what derives from it is memoised by its identity too)."""
    (workload,) = same.objects
    return fuse_attention(workload, chunk)


__all__ = ["Case", "Prepared", "case", "prepare"]
