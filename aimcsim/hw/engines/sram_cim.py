"""SRAM compute-in-memory macros beside each tile as the LoRA engine (`lora.engine: sram-cim`,
as HaLoRA): the macro model is `aimcsim.hw.sram_cim`; its sections are `sram_cim` in the
architecture file (the macro) and in the technology file (its MAC energy, area, leakage)."""

from __future__ import annotations

from typing import Any

from aimcsim.hw import sram_cim as macro
from aimcsim.hw.engines.base import register
from aimcsim.params.fields import section_schema


@register
class SramCimEngine:
    name = "sram-cim"
    description = ("SRAM compute-in-memory macros beside each tile, as HaLoRA: the `sram_cim` "
                   "section; the cluster only adds U to the tile output")
    beside_tile = True
    section = "sram_cim"
    tech_section = "sram_cim"
    label = "SRAM-CIM"

    def read(self, r: Any, data: Any) -> macro.SramCim:
        return macro.read_sram_cim(r, data)

    def section_schema(self) -> dict[str, Any]:
        return section_schema(macro.SramCim, "sram_cim")

    def resident_bytes(self, op: Any, rank: int, eb: int) -> int:
        return 0  # A and B live in the macros

    def units(self, params: macro.SramCim, d_in: int, d_out: int, rank: int) -> int:
        return macro.macros(params, d_in, d_out, rank)

    def branch_ps(self, params: macro.SramCim, tokens: int) -> int:
        return macro.branch_ps(params, tokens)

    def branch_macs(self, d_in: int, d_out: int, rank: int, tokens: int) -> int:
        return macro.branch_macs(d_in, d_out, rank, tokens)
