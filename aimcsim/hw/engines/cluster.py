"""The cluster as the LoRA engine (`lora.engine: pmca`): its cores (or matrix engine) run
T = X A and U = T B on each block, A and B resident in its TCDM (the block programs:
`aimcsim.hw.pmca.programs`)."""

from __future__ import annotations

from typing import Any

from aimcsim.hw.engines.base import register
from aimcsim.hw.pmca.programs import lora_weight_bytes


@register
class ClusterEngine:
    name = "pmca"
    description = ("the cluster's cores or matrix engine, A and B resident in its TCDM")
    beside_tile = False
    section = None
    tech_section = None
    label = "cluster"

    def read(self, r: Any, data: Any) -> None:
        return None

    def section_schema(self) -> None:
        return None

    def resident_bytes(self, op: Any, rank: int, eb: int) -> int:
        return lora_weight_bytes(op, rank, eb)  # A and B

    def units(self, params: Any, d_in: int, d_out: int, rank: int) -> int:
        return 0

    def branch_ps(self, params: Any, tokens: int) -> int:
        raise NotImplementedError("the cluster's branch is its block programs' kernels")

    def branch_macs(self, d_in: int, d_out: int, rank: int, tokens: int) -> int:
        return 0
