"""The LoRA-engine protocol and registry (see `aimcsim.hw.engines`)."""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

from aimcsim.params.registry import Registry


class LoraEngine(Protocol):
    name: ClassVar[str]
    description: ClassVar[str]
    beside_tile: ClassVar[bool]
    section: ClassVar[str | None]
    tech_section: ClassVar[str | None]
    label: ClassVar[str]

    def read(self, r: Any, data: Any) -> Any:
        """The architecture file's section (`section`), validated (errors go to `r`)."""
        ...

    def section_schema(self) -> dict[str, Any] | None:
        """The JSON Schema of that section."""
        ...

    def resident_bytes(self, op: Any, rank: int, eb: int) -> int:
        """TCDM bytes an adapted layer's branch keeps on its cluster for the whole run."""
        ...

    def units(self, params: Any, d_in: int, d_out: int, rank: int) -> int:
        """Units (macros) one layer's A and B take."""
        ...

    def branch_ps(self, params: Any, tokens: int) -> int:
        """Time of U = (X A) B for a block of `tokens` tokens."""
        ...

    def branch_macs(self, d_in: int, d_out: int, rank: int, tokens: int) -> int:
        """MACs of the branch for `tokens` tokens."""
        ...


#: every registered engine, by its `lora.engine` name (built-ins: `aimcsim.hw.engines`, imported
#: when the registry is first read)
ENGINES = Registry("LoRA engine", "aimcsim.hw.engines")
register = ENGINES.register
engine = ENGINES.get


def engine_names() -> tuple[str, ...]:
    return ENGINES.names()


def sections() -> dict[str, LoraEngine]:
    """The architecture-file sections of the registered engines, by section."""
    return {e.section: e for e in ENGINES.values() if e.section}


def tech_sections() -> dict[str, LoraEngine]:
    """The technology-file sections of the registered engines, by section."""
    return {e.tech_section: e for e in ENGINES.values() if e.tech_section}


def described() -> str:
    return "; ".join(f"{e.name}: {e.description}" for e in ENGINES.values())
