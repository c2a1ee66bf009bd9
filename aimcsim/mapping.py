"""Placement of a workload's operations on tiles and clusters (the TCDM budget check of a
placement is the cluster's: `aimcsim.sim.feasibility`).

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

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from aimcsim.errors import SpecError, SpecIssue
from aimcsim.hw.aimc_tile import TileMapping, grid
from aimcsim.hw.engines import engine
from aimcsim.hw.lanes import UnitId
from aimcsim.identity import Carried, Same
from aimcsim.spec.arch import Arch, Lora
from aimcsim.spec.workload import INPUT, Op, Workload


@dataclass(frozen=True)
class Placement:
    pmca: int  # cluster index
    tile: TileMapping | None  # static ops only
    rank: int | None  # LoRA rank when the op carries an adapter in this mode
    out_unit: UnitId  # where the op's output is produced
    cim: bool = False  # its LoRA branch runs on units beside the tile (lora.engine: sram-cim)
    # attention spread over clusters (pipeline.attention_clusters): (cluster, part) per slice,
    # part = heads (dynamic_matmul) or values per token (element-wise) of the slice; the first
    # slice's cluster is `pmca`. gather: slices send their outputs to `pmca` after each block
    slices: tuple[tuple[int, int], ...] = ()
    gather: bool = False

    @property
    def clusters(self) -> tuple[int, ...]:
        """The clusters the op runs on: its own, then its slices' (the first is its own)."""
        return (self.pmca, *(c for c, _ in self.slices))

    @property
    def whole(self) -> int:
        """What the slices' parts add up to (the op's heads or values per token)."""
        return sum(part for _, part in self.slices)


tile_unit, pmca_unit = UnitId.tile, UnitId.cluster  # (unit ids: `aimcsim.hw.lanes`)


def place(arch: Arch, workload: Workload, mode: str) -> dict[str, Placement]:
    """Place every op; raises `SpecError` (naming the arch file) for unknown LoRA roles, or
    more tiles than the chip has. A copy of `placed`'s dict (the placements are frozen)."""
    return dict(placed(arch, workload, mode))


def placed(arch: Arch, workload: Workload, mode: str) -> Mapping[str, Placement]:
    """`place`, memoised (per process, the last 64) by the workload and what of the
    architecture a placement reads: the points of a sweep over timings place their workload
    again and again (it took about a tenth of a MobileBERT run); the key holds the crossbar's
    shape, the whole `lora` section, the attention spread and the mode. The dict is shared: read it,
    do not change it (the same object for the same case, so what derives from it can be
    memoised by its identity, `aimcsim.identity.Same`)."""
    placements = _place(Same(workload), arch.aimc.rows, arch.aimc.cols, arch.lora,
                        arch.pipeline.attention_clusters, mode, Carried(arch))
    check_tiles(arch, workload, placements)
    return placements


@lru_cache(maxsize=64)
def _place(same: Same, rows: int, cols: int, lora: Lora, attention_clusters: int, mode: str,
           arch: Carried) -> dict[str, Placement]:
    (workload,) = same.objects
    check_lora_roles(arch.value, workload)  # (a refusal is not memoised: it names the file)
    feeds_digital = {op.inputs[0].src for op in workload.ops if op.kind != "static_linear"}
    placements: dict[str, Placement] = {}
    next_pmca = 0
    for op in workload.ops:
        if op.kind == "static_linear":
            tile = grid(op.d_in, op.d_out, rows, cols)
            rank = lora.rank_of(op.block, op.role) if mode == "hybrid" else None
            adapted = rank is not None
            pmca = next_pmca
            next_pmca += 1
            digital_out = adapted or tile.row_splits > 1 or op.name in feeds_digital
            out = pmca_unit(pmca) if digital_out else tile_unit(op.name)
            placements[op.name] = Placement(pmca, tile, rank, out,
                                            cim=adapted and engine(lora.engine).beside_tile)
        else:
            src = op.inputs[0].src
            if src == INPUT:  # nothing holds the network input: a cluster of its own
                pmca = next_pmca
                next_pmca += 1
            else:
                pmca = placements[src].pmca
            placements[op.name] = Placement(pmca, None, None, pmca_unit(pmca))
    if attention_clusters > 1:
        _spread(attention_clusters, workload, placements, next_pmca)
    return placements


def _split(total: int, parts: int) -> list[int]:
    """`total` in `parts` near-equal whole shares, the larger first."""
    base, extra = divmod(total, parts)
    return [base + (i < extra) for i in range(parts)]


def _spread(k: int, workload: Workload, placements: dict[str, Placement], clusters: int) -> None:
    """Spread each attention matmul over `k` clusters by groups of heads, and the element-wise
    op that reads it (softmax) the same way; mark the slices whose consumers are not spread
    alike for gathering."""
    for op in workload.ops:
        p = placements[op.name]
        first = placements.get(op.inputs[0].src)
        if op.kind in ("dynamic_matmul", "attention"):
            ways = min(k, op.groups, clusters)
            if first is not None and first.slices and len(first.slices) == ways:
                homes = [c for c, _ in first.slices]
            else:
                homes = [(p.pmca + i) % clusters for i in range(ways)]
            if ways < 2:
                continue
            per_group = op.heads // op.groups
            parts = [g * per_group for g in _split(op.groups, ways)]
            placements[op.name] = replace(p, slices=tuple(zip(homes, parts, strict=True)))
        elif op.kind == "elementwise" and first is not None and first.slices:
            src = workload.op(op.inputs[0].src)
            shares = [part * op.d_out for _, part in first.slices]
            if any(s % src.heads for s in shares) or len(op.inputs) > 1:
                continue  # not a per-head split of this op
            parts = [s // src.heads for s in shares]
            placements[op.name] = replace(p, slices=tuple(
                (c, w) for (c, _), w in zip(first.slices, parts, strict=True)))
    consumers: dict[str, list[str]] = {}
    for op in workload.ops:
        for edge in op.inputs:
            consumers.setdefault(edge.src, []).append(op.name)
    for name, p in placements.items():
        if p.slices:
            mine = [c for c, _ in p.slices]
            alike = all([c for c, _ in placements[c_name].slices] == mine
                        for c_name in consumers.get(name, []))
            placements[name] = replace(p, pmca=p.slices[0][0], gather=not alike,
                                       out_unit=pmca_unit(p.slices[0][0]))


def parts(op: Op, p: Placement) -> list[tuple[int, Op]]:
    """Where `op` runs and what of it: each slice's cluster and share, or its one cluster."""
    return [(c, slice_op(op, part)) for c, part in p.slices] or [(p.pmca, op)]


def slice_op(op: Op, part: int) -> Op:
    """The share of `op` one slice runs: `part` heads of a dynamic matmul, `part` values per
    token of an element-wise op."""
    if op.kind in ("dynamic_matmul", "attention"):
        groups = part // (op.heads // op.groups)
        return replace(op, heads=part, kv_heads=groups if op.kv_heads else 0,
                       d_in=part * op.k, d_out=op.d_out // op.heads * part)
    return replace(op, d_in=part, d_out=part)


def check_tiles(arch: Arch, workload: Workload, placements: dict[str, Placement]) -> None:
    """Raise `SpecError` (arch file, `chip.tiles`) when the static layers need more tiles than
    the chip has: every weight is programmed once."""
    if arch.chip is None:
        return
    need = sum(p.tile.tiles for p in placements.values() if p.tile is not None)
    if need > arch.chip.tiles:
        raise SpecError(arch.source, [SpecIssue("chip.tiles", (
            f"workload {workload.name!r} needs {need} tiles of {arch.aimc.rows} x "
            f"{arch.aimc.cols} weights, the chip has {arch.chip.tiles}; raise chip.tiles, use "
            "larger tiles or a smaller model"))])


def check_lora_roles(arch: Arch, workload: Workload) -> None:
    """Raise `SpecError` (arch file, `lora.layers[i]`) for roles the workload does not have,
    and (`lora.rank`) for a rank above the smaller side of a layer that carries an adapter:
    A B of rank r <= min(d_in, d_out) can already be any matrix, so a larger r only adds work."""
    issues = []
    if arch.lora.layers is not None:
        known = workload.roles
        issues = [
            SpecIssue(f"lora.layers[{i}]", f"no static layer of workload {workload.name!r} has "
                      f"role {role!r}; allowed: all, or a list of {', '.join(known)}")
            for i, role in enumerate(arch.lora.layers)
            if role not in known
        ]
    lora = arch.lora
    ranked = [(op, rank) for op in workload.ops if op.kind == "static_linear"
              and (rank := lora.rank_of(op.block, op.role)) is not None]
    wide = [(op, rank) for op, rank in ranked if rank > min(op.d_in, op.d_out)]
    if wide:
        op, rank = min(wide, key=lambda pair: min(pair[0].d_in, pair[0].d_out))
        key, fix = (("lora.adapter", f"lower r or rank_pattern in {lora.adapter.file}")
                    if lora.adapter is not None
                    else ("lora.rank", "lower lora.rank or leave the layer out of lora.layers"))
        said = f"{rank}" if lora.adapter is None else f"rank {rank}"
        issues.append(SpecIssue(key, f"{said} is above min(d_in, d_out) = "
                                f"{min(op.d_in, op.d_out)} of {op.name!r} (a rank-r adapter of a "
                                f"d_in x d_out layer needs r <= min(d_in, d_out)); {fix}"))
    if lora.adapter is not None and not ranked:
        issues.append(SpecIssue("lora.adapter", f"{lora.adapter.file} selects no static layer "
                                f"of workload {workload.name!r} (its roles: "
                                f"{', '.join(workload.roles)})"))
    if issues:
        raise SpecError(arch.source, issues)


def __getattr__(name: str) -> Any:
    if name == "fuse_attention":  # (moved: a workload's rewriting, not its placement)
        warnings.warn("aimcsim.mapping.fuse_attention is now aimcsim.spec.fusion.fuse_attention",
                      DeprecationWarning, stacklevel=2)
        from aimcsim.spec.fusion import fuse_attention

        return fuse_attention
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
