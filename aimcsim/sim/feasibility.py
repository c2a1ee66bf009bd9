"""TCDM feasibility of a placement: every op's blocks in flight beside its cluster's resident
LoRA weights, and the largest block size that fits when they do not."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache
from typing import Any

from aimcsim.errors import CapacityError
from aimcsim.hw.engines import engine
from aimcsim.hw.pmca.model import PmcaModel, ThroughputPmca
from aimcsim.hw.pmca.programs import block_program, op_shape
from aimcsim.identity import Carried, Same
from aimcsim.mapping import parts
from aimcsim.spec.arch import Arch, Pipeline
from aimcsim.spec.workload import Op, Workload


def resident_bytes(arch: Arch, workload: Workload, placements: dict[str, Any]) -> list[int]:
    """TCDM bytes each cluster holds for the whole run (LoRA weights)."""
    clusters = 1 + max(p.pmca for p in placements.values())
    resident = [0] * clusters
    for op in workload.ops:
        p = placements[op.name]
        if p.rank is not None:  # (the engine's: on macros beside the tile, none)
            resident[p.pmca] += engine(arch.lora.engine).resident_bytes(
                op, p.rank, arch.lora.element_bytes)
    return resident


def check_l2(arch: Arch, workload: Workload, placements: Any) -> list[int]:
    """Bytes each cluster's L2 holds for the run: the held operands of its attention matmuls
    (K and V, a k x n matrix per group of heads; a spread op's slices their share). Raises
    `CapacityError` naming the cluster when `memory.l2_bytes` is set and they do not fit.
    (The bytes are memoised by the identities of the workload and the placements.)"""
    held = list(_held(Same(workload, placements), arch.lora.element_bytes))
    limit = arch.memory.l2_bytes if arch.memory is not None else 0
    if limit and max(held) > limit:
        worst = max(range(len(held)), key=held.__getitem__)
        raise CapacityError(
            f"{arch.source}: cluster {worst} holds {held[worst]} bytes of attention operands "
            f"(K and V of {workload.context or workload.tokens} keys) in its L2, above "
            f"memory.l2_bytes = {limit}; raise it or spread attention "
            "(pipeline.attention_clusters)", needed_bytes=held[worst], capacity_bytes=limit)
    return held


@lru_cache(maxsize=64)
def _held(same: Same, eb: int) -> tuple[int, ...]:

    workload, placements = same.objects
    held = [0] * (1 + max(p.pmca for p in placements.values()))
    for op in workload.ops:
        if op.kind not in ("dynamic_matmul", "attention"):
            continue
        # a matmul holds K (or V) of each group; fused attention both, by chunks into TCDM
        width = op.k * op.n + (op.n * op.d_out // op.heads if op.kind == "attention" else 0)
        if op.window and workload.tokens > op.window:  # (a prefill: each query attends to a
            width = width * workload.tokens // op.window  # window, K and V span every token)
        for cluster, part_op in parts(op, placements[op.name]):
            if cluster >= len(held):
                held.extend([0] * (cluster + 1 - len(held)))
            held[cluster] += part_op.groups * width * eb
    return tuple(held)


def checked_tcdm(arch: Arch, workload: Workload, placements: Any, model: PmcaModel,
                 settings: dict[str, Pipeline] | None = None) -> list[int]:
    """`check_tcdm`, memoised (per process, the last 64) when every op runs the
    architecture's pipeline: by the identities of the workload and the placements (shared by
    `aimcsim.mapping.placed`) and what of the architecture the check reads (the cluster, LoRA,
    the pipeline). The points of a sweep over timings check the same budget again and again,
    refusals too: a memoised refusal is raised again naming this architecture's file."""
    if settings:
        return check_tcdm(arch, workload, placements, model, settings)
    found = _checked(Same(workload, placements), model, arch.pmca, arch.lora, arch.pipeline,
                     Carried(arch))
    if isinstance(found, _Refusal):
        raise _Refused(arch.source, found)
    return list(found)


class _Refusal:
    """A memoised `CapacityError`: its message without the file it named, its bytes, and
    what it says of the whole run (`_for_the_run`, worked out when first read: the search
    counts refusals without reading them)."""

    def __init__(self, reason: str, needed_bytes: int, capacity_bytes: int,
                 for_the_run: Callable[[], str]) -> None:
        self.reason, self.needed_bytes, self.capacity_bytes = reason, needed_bytes, capacity_bytes
        self._for_the_run: Callable[[], str] | None = for_the_run
        self._run_text = ""

    @property
    def run_text(self) -> str:
        if self._for_the_run is not None:
            self._run_text, self._for_the_run = self._for_the_run(), None
        return self._run_text


class _Refused(CapacityError):
    """A memoised refusal raised again, naming the architecture's file; its text ends with
    what it says of the whole run."""

    def __init__(self, source: str, refusal: _Refusal) -> None:
        super().__init__(f"{source}: {refusal.reason}", needed_bytes=refusal.needed_bytes,
                         capacity_bytes=refusal.capacity_bytes)
        self._refusal = refusal

    def __str__(self) -> str:
        return super().__str__() + self._refusal.run_text

    def __reduce__(self) -> tuple:  # (to another process: a CapacityError of the whole text)
        return _capacity_error, (str(self), self.needed_bytes, self.capacity_bytes)


def _capacity_error(message: str, needed_bytes: int, capacity_bytes: int) -> CapacityError:
    return CapacityError(message, needed_bytes=needed_bytes, capacity_bytes=capacity_bytes)


@lru_cache(maxsize=64)
def _checked(same: Same, model: PmcaModel, pmca: Any, lora: Any, pipeline: Pipeline,
             arch: Carried) -> tuple[int, ...] | _Refusal:
    workload, placements = same.objects
    try:
        return tuple(check_tcdm(arch.value, workload, placements, model))
    except CapacityError as exc:
        value = arch.value
        return _Refusal(str(exc).removeprefix(f"{value.source}: "), exc.needed_bytes,
                        exc.capacity_bytes,
                        lambda: _for_the_run(value, workload, placements, model))


def largest_block(arch: Arch, workload: Workload, placements: Any, model: PmcaModel) -> int:
    """The largest `pipeline.parallel_tokens` up to the architecture's at which every op's
    blocks in flight fit its cluster's TCDM (0: none does), by `check_tcdm` itself (footprints
    grow with the block size: a bisection)."""
    def fits(tokens: int) -> bool:
        trial = replace(arch, pipeline=replace(arch.pipeline, parallel_tokens=tokens))
        try:
            check_tcdm(trial, workload, placements, model)
        except CapacityError:
            return False
        return True

    return _bisect(arch.pipeline.parallel_tokens, fits)


def _bisect(upper: int, fits: Callable[[int], bool]) -> int:
    """The largest block size up to `upper` that `fits` (0: none), `fits` holding for every
    size below one it holds for (footprints grow with the block size)."""
    lo, hi = 0, upper
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _for_the_run(arch: Arch, workload: Workload, placements: Any, model: PmcaModel) -> str:
    """What a refusal adds for the whole run: the largest block size every op fits, and that
    a search gives each op a block size of its own."""
    best = largest_block(arch, workload, placements, model)
    if not best:  # (the op refused fits no block size either)
        return ""
    return (f"; parallel_tokens <= {best} fits every op of the run (`aimcsim search` gives "
            "each op a block size of its own)")


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
    # Two passes: the footprints without the kernels' row padding, in closed form, refuse what
    # cannot fit before any cycle-level kernel runs (a 65536-rank adapter is refused in
    # milliseconds); then the exact footprints, padding included.
    floor = ThroughputPmca(arch.pmca, arch.lora.dtype)

    # what to check, once per distinct case (layers repeat a few shapes), in trace order
    cases: dict[tuple, tuple[Op, Any, Pipeline]] = {}
    for op in workload.ops:
        p = placements[op.name]
        pipe = (settings or {}).get(op.name, arch.pipeline)
        for cluster, part_op in parts(op, p):
            key = (op_shape(part_op), p.tile, p.rank, p.cim, pipe, resident[cluster])
            if key not in cases:
                part_p = p if part_op is op else replace(p, pmca=cluster, slices=())
                cases[key] = (part_op, part_p, pipe)
    for footprint in (floor, model):
        for part_op, part_p, pipe in cases.values():
            _check_op(arch, workload, part_op, part_p, footprint, floor, model, pipe, resident)
    return resident


def _check_op(arch: Arch, workload: Workload, op: Op, p: Any, footprint: PmcaModel,
              floor: PmcaModel, model: PmcaModel, pipe: Pipeline, resident: list[int]) -> None:
    """Raise `CapacityError` when the op's blocks in flight, as `footprint` counts their
    bytes (`floor`: without padding, a lower bound; `model`: exact), do not fit."""
    capacity = arch.pmca.tcdm_bytes
    block = min(pipe.parallel_tokens, workload.rows(op))
    in_flight = pipe.blocks_in_flight
    budget = capacity - resident[p.pmca]
    prog = None
    if budget >= 0:
        prog = block_program(footprint, op, block, eb=arch.lora.element_bytes, tile=p.tile,
                             rank=p.rank, tile_output=pipe.tile_output, cim=p.cim,
                             output_chunk=pipe.output_chunk)
        if in_flight * prog.tcdm_bytes <= budget:
            return
    # the largest block that fits: below the closed-form bound, confirmed by the exact model
    # (its kernels run only at block sizes whose bound fits)
    best = _largest_block(arch, op, p, floor, budget, pipe, block) if budget > 0 else 0
    if best and model is not floor:
        best = _largest_block(arch, op, p, model, budget, pipe, best)
    bound = prog is None or (footprint is floor and model is not floor)
    chunkable = op.kind == "static_linear" and not pipe.output_chunk
    pull = ["pull the output in chunks (pipeline.output_chunk)"] if chunkable else []
    if p.rank is not None:
        remedies = ["lower lora.rank", *pull]
    elif op.kind == "static_linear":
        remedies = [*pull, "use taller tiles (aimc.rows: fewer partial sums)"]
    elif op.kind == "dynamic_matmul":
        remedies = ["fuse attention over key chunks (pipeline.attention_key_chunk)"]
    elif op.kind == "attention":
        remedies = ["lower pipeline.attention_key_chunk"]
    else:
        remedies = []
    remedy = ", ".join(remedies) + (" or " if remedies else "") + "raise pmca.tcdm_bytes"
    hint = f"parallel_tokens <= {best} fits it" if best else f"no block size fits it: {remedy}"
    if best and op.kind == "dynamic_matmul":
        hint += ", or fuse attention over key chunks (pipeline.attention_key_chunk)"
    elif best and chunkable and p.tile is not None and p.tile.row_splits > 1:
        hint += ", or pull the output in chunks (pipeline.output_chunk)"
    blocks = (f"{in_flight} block(s) of {prog.tcdm_bytes} bytes + " if prog is not None
              else "")
    need = resident[p.pmca] + (in_flight * prog.tcdm_bytes if prog is not None else 0)
    raise CapacityError(
        f"{arch.source}: pipeline.parallel_tokens = {pipe.parallel_tokens}"
        + (f" (blocks of the workload's {block} tokens)" if block < pipe.parallel_tokens
           else "") + f" needs {'at least ' if bound else ''}{need} bytes of TCDM on "
        f"cluster {p.pmca} for {op.name!r} ({blocks}{resident[p.pmca]} bytes of resident "
        f"LoRA weights), above pmca.tcdm_bytes = {capacity}; {hint}",
        needed_bytes=need,
        capacity_bytes=capacity,
    )


def _largest_block(
    arch: Arch, op: Op, p: Any, model: PmcaModel, budget: int, pipe: Pipeline, upper: int
) -> int:
    """Largest block size whose working sets in flight fit in `budget` bytes (0: none)."""
    in_flight = pipe.blocks_in_flight
    eb = arch.lora.element_bytes
    return _bisect(upper, lambda size: in_flight * block_program(
        model, op, size, eb=eb, tile=p.tile, rank=p.rank, tile_output=pipe.tile_output,
        cim=p.cim, output_chunk=pipe.output_chunk).tcdm_bytes <= budget)
