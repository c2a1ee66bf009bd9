"""A toy LoRA engine, whole in this one file: look-up-table units beside each tile, each
holding `weights` of A and B, a fixed time per token (tests/test_engines.py registers it by
importing this)."""

from dataclasses import dataclass
from math import ceil
from typing import Annotated, Any

from aimcsim.hw.engines.base import register
from aimcsim.params.fields import declare, read_section, section_schema


@dataclass(frozen=True, kw_only=True)
class LutMacro:
    weights: Annotated[int, declare("weights of A and B one unit holds", ge=1, le=1 << 20)]
    ns_per_token: Annotated[int, declare("time of one token's X A B", ge=1, le=10_000,
                                         unit="ns")]


@register
class LutEngine:
    name = "lut-macro"
    description = "look-up-table units beside each tile, a fixed time per token"
    beside_tile = True
    section = "lut_macro"
    tech_section = "lut_macro"
    label = "LUT"

    def read(self, r: Any, data: Any) -> LutMacro:
        return read_section(r, LutMacro, data, "lut_macro")

    def section_schema(self) -> dict[str, Any]:
        return section_schema(LutMacro, "lut_macro")

    def resident_bytes(self, op: Any, rank: int, eb: int) -> int:
        return 0  # A and B live in the units

    def units(self, params: LutMacro, d_in: int, d_out: int, rank: int) -> int:
        return ceil(rank * (d_in + d_out) / params.weights)

    def branch_ps(self, params: LutMacro, tokens: int) -> int:
        return (tokens + 1) * params.ns_per_token * 1000  # (a token to fill the pipeline)

    def branch_macs(self, d_in: int, d_out: int, rank: int, tokens: int) -> int:
        return tokens * rank * (d_in + d_out)
