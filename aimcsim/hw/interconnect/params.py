"""The interconnect's parameters: what an architecture file's `interconnect` section declares.
Topologies are registered in `topology.TOPOLOGIES`; their names are the allowed values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aimcsim.hw.interconnect.topology import TOPOLOGIES
from aimcsim.spec._reader import Reader, join
from aimcsim.spec.units import PS_PER_US, clock

#: The keys of the `interconnect` section.
NOC_KEYS = ("topology", "freq_mhz", "bytes_per_cycle", "latency_cycles", "hop_latency_cycles",
            "mesh_columns", "source")


@dataclass(frozen=True)
class Interconnect:
    """Links carrying activations between tiles and clusters.

    topology: a name registered in `aimcsim.hw.interconnect` (`point-to-point`, a dedicated
    link per source/destination pair; `shared-bus`, one link all transfers contend for;
    `mesh`, 2D mesh with XY routing, a node per cluster and its tile group; see each module).
    freq_mhz: link clock. bytes_per_cycle: link width. latency_cycles: head latency per transfer.
    hop_latency_cycles: topologies of hops: router and wire latency per hop. mesh_columns: mesh
    width in nodes (0: the smallest square that holds every node).
    """

    topology: str
    freq_mhz: int
    bytes_per_cycle: int
    latency_cycles: int
    hop_latency_cycles: int = 1
    mesh_columns: int = 0

    @property
    def period_ps(self) -> int:
        return PS_PER_US // self.freq_mhz


def topology_names() -> tuple[str, ...]:
    """The topologies registered in `aimcsim.hw.interconnect`, sorted."""
    return tuple(sorted(TOPOLOGIES))


def read_interconnect(r: Reader, data: Any) -> Interconnect:
    """The `interconnect` section (errors go to `r`)."""
    p = "interconnect"
    d = r.mapping(data, p, NOC_KEYS, required=("topology", "bytes_per_cycle"))
    noc = Interconnect(
        topology=r.take(d, p, "topology", str, choices=topology_names()),
        freq_mhz=r.take(d, p, "freq_mhz", int, default=1000, minimum=1, unit="MHz"),
        bytes_per_cycle=r.take(d, p, "bytes_per_cycle", int, minimum=1, unit="bytes/cycle"),
        latency_cycles=r.take(d, p, "latency_cycles", int, default=0, minimum=0, unit="cycles"),
        hop_latency_cycles=r.take(d, p, "hop_latency_cycles", int, default=1, minimum=0,
                                  unit="cycles"),
        mesh_columns=r.take(d, p, "mesh_columns", int, default=0, minimum=0),
    )
    clock(r, join(p, "freq_mhz"), noc.freq_mhz)
    return noc
