"""The built-in topologies: importing this module registers each (`topology.TOPOLOGIES`
imports it the first time it is read). A new topology is one module with a class decorated
with `@register`, and one name below (or its own import, before a file naming it is read)."""

from aimcsim.hw.interconnect import mesh, point_to_point, ring, shared_bus

__all__ = ["mesh", "point_to_point", "ring", "shared_bus"]
