"""`shared-bus`: one link every transfer contends for."""

from __future__ import annotations

from aimcsim.hw.interconnect.topology import Fabric, Key, register


@register
class SharedBus:
    name = "shared-bus"
    exclusive = False
    uniform = False

    def path(self, src: str, dst: str, fabric: Fabric) -> tuple[list[Key], bool]:
        return [("bus",)], False

    def component(self, key: Key, src: str, dst: str) -> str:
        return "link:bus"
