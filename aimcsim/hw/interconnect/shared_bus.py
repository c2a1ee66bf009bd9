"""`shared-bus`: one link every transfer contends for."""

from __future__ import annotations

from aimcsim.hw.interconnect.topology import Fabric, Key, register
from aimcsim.hw.lanes import UnitId


@register
class SharedBus:
    name = "shared-bus"
    exclusive = False
    uniform = False

    def path(self, src: str, dst: str, fabric: Fabric) -> tuple[list[Key], bool]:
        return [("bus",)], False

    def component(self, key: Key, src: str, dst: str) -> UnitId:
        return UnitId.bus()
