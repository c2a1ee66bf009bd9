"""The interconnect's parameters: what an architecture file's `interconnect` section declares.
Topologies are registered in `topology.TOPOLOGIES`; their names are the allowed values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from aimcsim.hw.interconnect.topology import TOPOLOGIES
from aimcsim.params.fields import Custom, declare, keys, read_fields, required
from aimcsim.params.reader import Reader, join
from aimcsim.params.units import Clocked, clock


def topology_names() -> tuple[str, ...]:
    """The topologies registered in `aimcsim.hw.interconnect`, sorted."""
    return tuple(sorted(TOPOLOGIES))


@dataclass(frozen=True, kw_only=True)
class Interconnect(Clocked):
    """Links carrying activations between tiles and clusters: the `interconnect` section of an
    architecture file. Each field is declared once, below; a topology's behaviour is in its
    module (see `aimcsim.hw.interconnect`)."""

    topology: Annotated[str, declare(
        "how tiles and clusters are wired: a topology registered in aimcsim.hw.interconnect "
        "(point-to-point: a link per source/destination pair; shared-bus: one link for all; "
        "mesh: 2D mesh, XY routing; ring: bidirectional ring)",
        schema={"enum": list(topology_names())}), Custom()]
    freq_mhz: Annotated[int, declare("link clock", ge=1, le=100_000, unit="MHz")] = 1000
    bytes_per_cycle: Annotated[int, declare("link width", ge=1, le=1 << 20, unit="bytes/cycle")]
    latency_cycles: Annotated[int, declare("head latency per transfer", ge=0, le=1_000_000,
                                           unit="cycles")] = 0
    hop_latency_cycles: Annotated[int, declare("topologies of hops (mesh, ring): router and wire "
                                               "latency per hop", ge=0, le=1_000_000,
                                               unit="cycles")] = 1
    mesh_columns: Annotated[int, declare("mesh width in nodes (0: the smallest square that holds "
                                         "every node)", ge=0, le=65_536)] = 0


#: The keys of the `interconnect` section.
NOC_KEYS = keys(Interconnect)


def read_interconnect(r: Reader, data: Any) -> Interconnect:
    """The `interconnect` section (errors go to `r`)."""
    p = "interconnect"
    d = r.mapping(data, p, NOC_KEYS, required=required(Interconnect))
    noc = Interconnect(topology=r.take(d, p, "topology", str, choices=topology_names()),
                       **read_fields(r, Interconnect, d, p))
    clock(r, join(p, "freq_mhz"), noc.freq_mhz)
    return noc
