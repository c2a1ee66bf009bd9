"""Technology files (`tech/*.yaml`): energy per event, area and leakage per component.

Every value carries its source: `{value: 1.67, source: "ISAAC (Shafiee et al., ISCA 2016),
Table 6"}`; a value without a published figure says `assumed: <why>` in its source. An
architecture names its technology file (`technology: ../tech/x.yaml`); the energy of a run is
its event counters (the `layers` columns) times these costs (`aimcsim.cost`).

Each field is declared once, below, with its unit and bounds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from aimcsim.spec._reader import Reader, join, read_yaml
from aimcsim.spec.fields import Custom, keys, numeric_bounds, required, spec, units
from aimcsim.spec.units import DTYPE_BYTES

SUPPORTED_VERSIONS = (1,)
_PJ = 1e6  # bound of any energy per event: a microjoule
_MM2 = 1e4  # bound of any area: one square decimetre
_MW = 1e6  # bound of any leakage: a kilowatt


@dataclass(frozen=True, kw_only=True)
class TileTech:
    """One AIMC tile (crossbar, DACs, ADCs, drivers): the `aimc` section."""

    cell_pj: Annotated[float, spec("one weight's cell(s) in one MVM: array read and "
                                   "integration, per programmed weight taking part",
                                   ge=0, le=_PJ, unit="pJ")]
    dac_pj: Annotated[float, spec("one input conversion (DAC or pulse-width input)",
                                  ge=0, le=_PJ, unit="pJ")]
    adc_pj: Annotated[float, spec("one output conversion (ADC and readout)", ge=0, le=_PJ,
                                  unit="pJ")]
    area_mm2: Annotated[float, spec("one tile", ge=0, le=_MM2, unit="mm^2")]
    leakage_mw: Annotated[float, spec("static power of one tile", ge=0, le=_MW, unit="mW")]


@dataclass(frozen=True, kw_only=True)
class ClusterTech:
    """One cluster (cores, TCDM, DMA): the `pmca` section."""

    mac_pj: Annotated[tuple[tuple[str, float], ...], Custom(), spec(
        "one multiply-accumulate, by data type (lora.dtype needs an entry)", unit="pJ")]
    element_op_pj: Annotated[float, spec("one element-wise result (add, norm, softmax "
                                         "element)", ge=0, le=_PJ, unit="pJ")]
    tcdm_read_pj_per_byte: Annotated[float, spec("reading one byte of the TCDM", ge=0, le=_PJ,
                                                 unit="pJ/byte")]
    tcdm_write_pj_per_byte: Annotated[float, spec("writing one byte of the TCDM", ge=0,
                                                  le=_PJ, unit="pJ/byte")]
    dma_pj_per_byte: Annotated[float, spec("one byte the DMA brings from cluster L2 (the L2 "
                                           "read and the transfer)", ge=0, le=_PJ,
                                           unit="pJ/byte")]
    area_mm2: Annotated[float, spec("one cluster", ge=0, le=_MM2, unit="mm^2")]
    leakage_mw: Annotated[float, spec("static power of one cluster", ge=0, le=_MW, unit="mW")]

    def mac(self, dtype: str) -> float:
        return dict(self.mac_pj)[dtype]


@dataclass(frozen=True, kw_only=True)
class LinkTech:
    """One link of the interconnect: the `interconnect` section."""

    pj_per_byte: Annotated[float, spec("one byte over one link (a hop of a mesh or ring)",
                                       ge=0, le=_PJ, unit="pJ/byte")]
    area_mm2: Annotated[float, spec("one link with its router or interface", ge=0, le=_MM2,
                                    unit="mm^2")]
    leakage_mw: Annotated[float, spec("static power of one link", ge=0, le=_MW, unit="mW")]


@dataclass(frozen=True, kw_only=True)
class CimTech:
    """The SRAM compute-in-memory LoRA engine: the optional `sram_cim` section."""

    mac_pj: Annotated[float, spec("one MAC of input_bits x weight_bits (its bit-serial "
                                  "cycles, adder tree and accumulation)", ge=0, le=_PJ,
                                  unit="pJ")]
    area_mm2: Annotated[float, spec("one macro", ge=0, le=_MM2, unit="mm^2")]
    leakage_mw: Annotated[float, spec("static power of one macro", ge=0, le=_MW, unit="mW")]


@dataclass(frozen=True, kw_only=True)
class MemoryTech:
    """Memory beyond the clusters: the optional `memory` section."""

    offchip_pj_per_byte: Annotated[float, spec("reading one byte from off-chip memory",
                                               ge=0, le=_PJ, unit="pJ/byte")]


@dataclass(frozen=True)
class Technology:
    """A technology file, validated."""

    name: str
    aimc: TileTech
    pmca: ClusterTech
    interconnect: LinkTech
    file: str = "<memory>"
    sources: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    sram_cim: CimTech | None = None
    memory: MemoryTech | None = None


_SECTIONS: dict[str, type] = {"aimc": TileTech, "pmca": ClusterTech, "interconnect": LinkTech}
_OPTIONAL: dict[str, type] = {"sram_cim": CimTech, "memory": MemoryTech}
_TOP = ("version", "name", "source", *_SECTIONS, *_OPTIONAL)


def _cost(r: Reader, data: dict[str, Any], path: str, key: str, low: float | None,
          high: float | None, unit: str, sources: dict[str, str]) -> float:
    """A `{value: x, source: "..."}` entry."""
    at = join(path, key)
    entry = r.mapping(data.get(key, {}), at, ("value", "source"), required=("value", "source"))
    value = r.take(entry, at, "value", float, minimum=low, maximum=high, unit=unit)
    source = r.take(entry, at, "source", str, default="")
    if "source" in entry and not source.strip():
        r.error(join(at, "source"), "say where the value comes from (paper and table), or "
                "'assumed: <why>'")
    sources[at] = source
    return value


def parse_technology(doc: Any, file: str = "<memory>") -> Technology:
    """Validate a parsed technology document (see the module docstring)."""
    r = Reader(file)
    top = r.mapping(doc, "", _TOP, required=("version", *_SECTIONS))
    if "version" in top:
        r.version(top, SUPPORTED_VERSIONS)
    name = r.take(top, "", "name", str, default=Path(file).stem)
    sources: dict[str, str] = {}
    sections: dict[str, Any] = {}
    present = {k: c for k, c in _OPTIONAL.items() if top.get(k) is not None}
    for section, cls in {**_SECTIONS, **present}.items():
        data = r.mapping(top.get(section, {}), section, keys(cls)[:-1], required=required(cls))
        unit = units(cls)
        values: dict[str, Any] = {
            key: _cost(r, data, section, key, low, high, unit[key], sources)
            for key, (low, high) in numeric_bounds(cls).items() if key in data
            or key in required(cls)}
        if cls is ClusterTech:
            table = r.mapping(data.get("mac_pj", {}), "pmca.mac_pj", tuple(DTYPE_BYTES))
            if "mac_pj" in data and isinstance(data["mac_pj"], dict) and not table:
                r.error("pmca.mac_pj", "needs at least one data type, e.g. fp16")
            values["mac_pj"] = tuple(
                (dtype, _cost(r, table, "pmca.mac_pj", dtype, 0, _PJ, "pJ", sources))
                for dtype in DTYPE_BYTES if dtype in table)
        sections[section] = values
    r.finish()
    cim = CimTech(**sections["sram_cim"]) if "sram_cim" in sections else None
    memory = MemoryTech(**sections["memory"]) if "memory" in sections else None
    return Technology(name, TileTech(**sections["aimc"]), ClusterTech(**sections["pmca"]),
                      LinkTech(**sections["interconnect"]), file, sources, cim, memory)


def _entry_schema(low: float | None, high: float | None, unit: str, meaning: str
                  ) -> dict[str, Any]:
    value: dict[str, Any] = {"type": "number", "description": f"{meaning} ({unit})"}
    if low is not None:
        value["minimum"] = low
    if high is not None:
        value["maximum"] = high
    return {"type": "object", "additionalProperties": False, "required": ["value", "source"],
            "properties": {"value": value, "source": {
                "type": "string", "pattern": r"\S",
                "description": "paper and table, a derivation, or 'assumed: <why>'"}}}


def technology_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a technology file, from the fields' declarations."""
    from aimcsim.spec.fields import descriptions

    properties: dict[str, Any] = {"version": {"enum": list(SUPPORTED_VERSIONS)},
                                  "name": {"type": "string"}, "source": {"type": "string"}}
    for section, cls in {**_SECTIONS, **_OPTIONAL}.items():
        unit, meaning = units(cls), descriptions(cls)
        props = {key: _entry_schema(low, high, unit[key], meaning[key])
                 for key, (low, high) in numeric_bounds(cls).items()}
        if cls is ClusterTech:
            props["mac_pj"] = {"type": "object", "additionalProperties": False,
                               "minProperties": 1, "description": meaning["mac_pj"],
                               "properties": {d: _entry_schema(0, _PJ, "pJ", f"one {d} MAC")
                                              for d in DTYPE_BYTES}}
        properties[section] = {"type": "object", "additionalProperties": False,
                               "required": list(required(cls)), "properties": props,
                               "description": (cls.__doc__ or "").strip()}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "aimcsim technology file", "type": "object", "properties": properties,
            "required": ["version", *_SECTIONS], "additionalProperties": False}


def load_technology(path: str | Path) -> Technology:
    """Load and validate a technology file (memoised by path and modification time: the
    points of a sweep share one)."""
    path = Path(path)
    try:
        stamp = path.stat().st_mtime_ns
    except (OSError, ValueError):
        stamp = 0  # read_yaml names the problem
    return _load(str(path), stamp)


@lru_cache(maxsize=64)
def _load(path: str, _stamp: int) -> Technology:
    return parse_technology(read_yaml(path), path)


__all__ = [
    "CimTech",
    "ClusterTech",
    "LinkTech",
    "MemoryTech",
    "Technology",
    "TileTech",
    "load_technology",
    "parse_technology",
    "technology_schema",
]
