"""Memory beyond the clusters: the `memory` section of an architecture file (optional).

Today it holds the off-chip memory that keeps the adapters of tasks not loaded
(`aimcsim.reload`): its bandwidth, shared by every cluster that reads from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from aimcsim.spec._reader import Reader
from aimcsim.spec.fields import keys, read_fields, required, spec


@dataclass(frozen=True, kw_only=True)
class Memory:
    """The `memory` section."""

    offchip_gb_per_s: Annotated[float, spec("off-chip memory bandwidth, shared by the "
                                            "clusters (1 GB/s is one byte per ns)", ge=0.001,
                                            le=1e6, unit="GB/s")]


MEMORY_KEYS = keys(Memory)


def read_memory(r: Reader, data: Any) -> Memory:
    """The `memory` section (errors go to `r`)."""
    d = r.mapping(data, "memory", MEMORY_KEYS, required=required(Memory))
    return Memory(**read_fields(r, Memory, d, "memory"))


__all__ = ["MEMORY_KEYS", "Memory", "read_memory"]
