"""`point-to-point`: a dedicated link per source/destination pair (the study's pairing)."""

from __future__ import annotations

from aimcsim.hw.interconnect.topology import Fabric, Key, register
from aimcsim.hw.lanes import UnitId


@register
class PointToPoint:
    name = "point-to-point"
    exclusive = True
    uniform = True

    def path(self, src: str, dst: str, fabric: Fabric) -> tuple[list[Key], bool]:
        return [(src, dst)], False

    @staticmethod
    def key(src: str, dst: str) -> Key:
        """The key of the link of its own from `src` to `dst` (`uniform`: its path's only)."""
        return src, dst

    def component(self, key: Key, src: str, dst: str) -> UnitId:
        return UnitId.link(src, dst)
