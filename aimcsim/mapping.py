"""Placement of a workload's operations on tiles and clusters (the TCDM budget check of a
placement is the cluster's: `aimcsim.hw.pmca.feasibility`).

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

from aimcsim.errors import SpecError, SpecIssue
from aimcsim.hw.aimc_tile import TileMapping, map_matrix
from aimcsim.spec.arch import Arch
from aimcsim.spec.workload import INPUT, Workload


@dataclass(frozen=True)
class Placement:
    pmca: int  # cluster index
    tile: TileMapping | None  # static ops only
    rank: int | None  # LoRA rank when the op carries an adapter in this mode
    out_unit: str  # where the op's output is produced
    cim: bool = False  # its LoRA branch runs on SRAM-CIM macros beside the tile (lora.engine)


def tile_unit(name: str) -> str:
    return f"tile:{name}"


PMCA_PREFIX = "pmca:"


def pmca_unit(index: int) -> str:
    return f"{PMCA_PREFIX}{index}"


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
            placements[op.name] = Placement(pmca, tile, rank, out, cim=rank is not None
                                            and arch.lora.engine == "sram-cim")
        else:
            src = op.inputs[0].src
            if src == INPUT:  # nothing holds the network input: a cluster of its own
                pmca = next_pmca
                next_pmca += 1
            else:
                pmca = placements[src].pmca
            placements[op.name] = Placement(pmca, None, None, pmca_unit(pmca))
    check_tiles(arch, workload, placements)
    return placements


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
    adapted = [op for op in workload.ops
               if op.kind == "static_linear" and arch.lora.applies_to(op.role)]
    narrow = min(adapted, key=lambda op: min(op.d_in, op.d_out), default=None)
    if narrow is not None and arch.lora.rank > min(narrow.d_in, narrow.d_out):
        issues.append(SpecIssue("lora.rank", f"{arch.lora.rank} is above min(d_in, d_out) = "
                                f"{min(narrow.d_in, narrow.d_out)} of {narrow.name!r} (a rank-r "
                                "adapter of a d_in x d_out layer needs r <= min(d_in, d_out)); "
                                "lower lora.rank or leave the layer out of lora.layers"))
    if issues:
        raise SpecError(arch.source, issues)
