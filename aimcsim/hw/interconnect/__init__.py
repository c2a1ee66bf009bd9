"""The interconnect between tiles and clusters: topologies (one module each, registered by name
in `topology.TOPOLOGIES`, the built-ins on first use) and the links they are booked on
(`links.Links`).

A new topology is one module defining a class with `name`, `exclusive`, `path` and
`component`, decorated with `@register`, and one name in `builtin.py`.
"""

from aimcsim.hw.interconnect.links import Links, serialization_cycles, transfer_cycles
from aimcsim.hw.interconnect.topology import TOPOLOGIES, Fabric, Topology, register, topology_of

__all__ = ["TOPOLOGIES", "Fabric", "Links", "Topology", "register", "serialization_cycles",
           "topology_of", "transfer_cycles"]
