"""Technology files (`tech/*.yaml`): what one event costs, what leaks and how much area each
part takes, in one stated node.

Every value carries its source: `{value: 0.2, source: "Le Gallo et al., Nature Electronics
2023, Methods"}`; a value without a published figure says `assumed: <why>`. An architecture
names its technology file (`technology: ../tech/x.yaml`); the energy of a run is its event
counters (the `layers` columns) times the prices the architecture's geometry gets from this file
(`aimcsim.cost.prices`).

A file is in one node (`node_nm`). Its parts:

- `aimc`: the tile from its parts: the array's read (cell conductance x read voltage^2 x the
  time an input pulse is on, so it follows the integration time), the input lines (their
  capacitance x swing^2 per pulse, so they follow the columns they cross), the ADCs
  (a measured converter, or the survey fit `aimcsim.hw.converters` at the bits and rate the
  architecture declares), the cells' and converters' area, static power;
- `pmca`: the cluster's logic (MACs, element-wise results, the DMA engine, the TCDM
  interconnect, the cores' area and leakage), each logic value at the node of its source
  (`node_nm` in the entry) and scaled to the file's node by `logic_scaling`;
- `sram`: CACTI's figures of single-ported banks over sizes and word widths
  (`aimcsim.hw.sram`, written by `tools/techgen/cacti_grid.py`), with the factors that bring
  them to the file's node where CACTI does not reach it; TCDM and L2 banks are priced from it;
- `interconnect`: one link; `sram_cim`: the SRAM-CIM LoRA engine; `memory`: off-chip memory.

Each field is declared once, below, with its unit and bounds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import numpy as np

from aimcsim.hw.engines import tech_sections
from aimcsim.hw.sram import FIGURES, SramGrid
from aimcsim.params.fields import Custom, declare, keys, numeric_bounds, required, units
from aimcsim.params.reader import Reader, join, read_yaml
from aimcsim.params.units import DTYPE_BYTES

SUPPORTED_VERSIONS = (2,)
_PJ = 1e6  # bound of any energy per event: a microjoule
_MM2 = 1e4  # bound of any area: one square decimetre
_MW = 1e6  # bound of any leakage: a kilowatt
_NODE = (1.0, 1000.0)  # nm
ADC_MODELS = ("survey", "measured")


@dataclass(frozen=True, kw_only=True)
class TileTech:
    """One AIMC tile from its parts: the `aimc` section."""

    read_voltage_v: Annotated[float, declare("voltage across a cell while its input pulse is on",
                                             ge=0, le=10, unit="V")]
    weight_conductance_us: Annotated[float, declare(
        "mean conductance one programmed weight presents (all its devices, both polarities)",
        ge=0, le=1e6, unit="uS")]
    input_duty: Annotated[float, declare("mean fraction of the integration time an input pulse "
                                         "is on (pulse-width inputs)", ge=0, le=1, unit="")]
    line_ff_per_column: Annotated[float, declare("capacitance an input line adds per column it "
                                                 "crosses (wire and cell coupling)", ge=0, le=1e6,
                                                 unit="fF")]
    driver_ff: Annotated[float, declare("an input line driver's own capacitance", ge=0, le=1e6,
                                        unit="fF")]
    input_swing_v: Annotated[float, declare("voltage swing of an input line per pulse", ge=0,
                                            le=10, unit="V")]
    weight_area_um2: Annotated[float, declare("one weight's unit cell (its devices and access "
                                              "transistors)", ge=0, le=1e6, unit="um^2")]
    input_area_um2: Annotated[float, declare("one input line's driver", ge=0, le=1e6,
                                             unit="um^2")]
    adc_pj: Annotated[float, declare("adc_model measured: one conversion of that converter",
                                     ge=0, le=_PJ, unit="pJ")] = float("nan")
    adc_area_um2: Annotated[float, declare("adc_model measured: one converter", ge=0, le=1e8,
                                           unit="um^2")] = float("nan")
    adc_bits: Annotated[float, declare("adc_model measured: the converter's resolution", ge=1,
                                       le=24, unit="bit")] = float("nan")
    adc_static_share: Annotated[float, declare("adc_model survey: the share of a converter's "
                                               "energy at its rate that is static (leaks whether "
                                               "it converts or not)", ge=0, le=1, unit="")] = 0.0
    adc_leakage_uw: Annotated[float, declare("adc_model measured: static power of one converter",
                                             ge=0, le=1e6, unit="uW")] = 0.0
    leakage_mw: Annotated[float, declare("static power of the rest of one tile (drivers, bias)",
                                         ge=0, le=_MW, unit="mW")] = 0.0
    adc_model: Annotated[str, Custom(), declare("survey (the fit of aimcsim.hw.converters at the "
                                                "architecture's bits and rate) or measured")] = \
        "survey"


@dataclass(frozen=True, kw_only=True)
class ClusterTech:
    """One cluster's logic (cores, DMA engine, TCDM interconnect): the `pmca` section; its
    memories are priced from `sram`. Values at the file's node (scaled where their entry names
    another node)."""

    mac_pj: Annotated[tuple[tuple[str, float], ...], Custom(), declare(
        "one multiply-accumulate, by data type (lora.dtype needs an entry)", unit="pJ")]
    element_op_pj: Annotated[float, declare("one element-wise result (add, norm, softmax "
                                            "element)", ge=0, le=_PJ, unit="pJ")]
    interconnect_pj_per_byte: Annotated[float, declare(
        "one byte of a word between a port and a TCDM bank (the logarithmic interconnect)",
        ge=0, le=_PJ, unit="pJ/byte")]
    dma_pj_per_byte: Annotated[float, declare("the DMA engine and its wires, per byte moved (the "
                                              "memories it reads and writes are priced apart)",
                                              ge=0, le=_PJ, unit="pJ/byte")]
    core_area_mm2: Annotated[float, declare("one compute core with its FPU", ge=0, le=_MM2,
                                            unit="mm^2")]
    core_leakage_mw: Annotated[float, declare("static power of one core", ge=0, le=_MW,
                                              unit="mW")]
    dma_area_mm2: Annotated[float, declare("the DMA engine (and the core that programs it)",
                                           ge=0, le=_MM2, unit="mm^2")]
    crosspoint_area_um2: Annotated[float, declare("the TCDM interconnect per port x bank "
                                                  "crosspoint", ge=0, le=1e6, unit="um^2")]
    engine_area_mm2_per_fma: Annotated[float, declare("the matrix engine (RedMulE) per FMA unit",
                                                      ge=0, le=_MM2, unit="mm^2")] = 0.0

    def mac(self, dtype: str) -> float:
        return dict(self.mac_pj)[dtype]


@dataclass(frozen=True, kw_only=True)
class LinkTech:
    """One link of the interconnect: the `interconnect` section."""

    pj_per_byte: Annotated[float, declare("one byte over one link (a hop of a mesh or ring)",
                                          ge=0, le=_PJ, unit="pJ/byte")]
    area_mm2: Annotated[float, declare("one link with its router or interface", ge=0, le=_MM2,
                                       unit="mm^2")]
    leakage_mw: Annotated[float, declare("static power of one link", ge=0, le=_MW, unit="mW")]


@dataclass(frozen=True, kw_only=True)
class CimTech:
    """The SRAM compute-in-memory LoRA engine: the optional `sram_cim` section."""

    mac_pj: Annotated[float, declare("one MAC of input_bits x weight_bits (its bit-serial "
                                     "cycles, adder tree and accumulation)", ge=0, le=_PJ,
                                     unit="pJ")]
    area_mm2: Annotated[float, declare("one macro", ge=0, le=_MM2, unit="mm^2")]
    leakage_mw: Annotated[float, declare("static power of one macro", ge=0, le=_MW, unit="mW")]


@dataclass(frozen=True, kw_only=True)
class MemoryTech:
    """Memory beyond the clusters: the optional `memory` section."""

    offchip_pj_per_byte: Annotated[float, declare("reading one byte from off-chip memory",
                                                  ge=0, le=_PJ, unit="pJ/byte")]


@dataclass(frozen=True)
class LogicScaling:
    """Relative energy and area of logic by node (`logic_scaling`): a value given at node a is
    worth value x factor(b) / factor(a) at node b."""

    nodes_nm: tuple[float, ...]
    energy: tuple[float, ...]
    area: tuple[float, ...]
    source: str

    def ratio(self, kind: str, from_nm: float, to_nm: float) -> float:
        table = dict(zip(self.nodes_nm, getattr(self, kind), strict=True))
        return table[to_nm] / table[from_nm]


@dataclass(frozen=True)
class Technology:
    """A technology file, validated (logic values already in its node)."""

    name: str
    node_nm: float
    aimc: TileTech
    pmca: ClusterTech
    interconnect: LinkTech
    sram: SramGrid
    file: str = "<memory>"
    sources: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    sram_cim: CimTech | None = None
    memory: MemoryTech | None = None
    logic_scaling: LogicScaling | None = field(default=None, hash=False, compare=False)
    #: each LoRA engine's section (`aimcsim.hw.engines`: `sram_cim` and plug-ins'), by name
    engines: tuple[tuple[str, CimTech], ...] = ()

    def engine_tech(self, section: str) -> CimTech | None:
        """The section `section` of a LoRA engine's units (None when the file has none)."""
        return dict(self.engines).get(section)


_SECTIONS: dict[str, type] = {"aimc": TileTech, "pmca": ClusterTech, "interconnect": LinkTech}
_OPTIONAL: dict[str, type] = {"memory": MemoryTech}  # (and each LoRA engine's: `_optional`)
_TOP = ("version", "name", "source", "node_nm", "logic_scaling", *_SECTIONS, "sram",
        *_OPTIONAL)
#: Logic values whose entries may name the node of their source (`node_nm`), and the scaling
#: each takes: energies scale as energy, areas as area.
_SCALED = {"pmca.mac_pj": "energy", "pmca.element_op_pj": "energy",
           "pmca.interconnect_pj_per_byte": "energy", "pmca.dma_pj_per_byte": "energy",
           "pmca.core_area_mm2": "area", "pmca.dma_area_mm2": "area",
           "pmca.crosspoint_area_um2": "area", "pmca.engine_area_mm2_per_fma": "area"}
_SRAM_KEYS = ("generator", "source", "node_nm", "transistor", "ports", "bank_bytes",
              "width_bits", *FIGURES, "scale")


class _Entries:
    """Reads `{value, source[, node_nm]}` entries, scaling logic values to the file's node."""

    def __init__(self, r: Reader, node_nm: float, scaling: LogicScaling | None) -> None:
        self.r, self.node_nm, self.scaling = r, node_nm, scaling
        self.sources: dict[str, str] = {}

    def cost(self, data: dict[str, Any], path: str, key: str, low: float | None,
             high: float | None, unit: str, scaled: str = "") -> float:
        r, at = self.r, join(path, key)
        allowed = ("value", "source", "node_nm") if scaled else ("value", "source")
        entry = r.mapping(data.get(key, {}), at, allowed, required=("value", "source"))
        value = r.take(entry, at, "value", float, minimum=low, maximum=high, unit=unit)
        source = r.take(entry, at, "source", str, default="")
        if "source" in entry and not source.strip():
            r.error(join(at, "source"), "say where the value comes from (paper and table), or "
                    "'assumed: <why>'")
        given = r.take(entry, at, "node_nm", float, default=self.node_nm, minimum=_NODE[0],
                       maximum=_NODE[1], unit="nm")
        if given != self.node_nm:
            value, source = self._scale(at, value, source, given, scaled)
        self.sources[at] = source
        return value

    def _scale(self, at: str, value: float, source: str, given: float, kind: str
               ) -> tuple[float, str]:
        s = self.scaling
        if s is None or given not in s.nodes_nm or self.node_nm not in s.nodes_nm:
            nodes = ", ".join(f"{n:g}" for n in s.nodes_nm) if s else "none"
            self.r.error(join(at, "node_nm"), f"{given:g} nm is not the file's node "
                         f"({self.node_nm:g} nm) and logic_scaling does not take it there "
                         f"(its nodes: {nodes})")
            return value, source
        ratio = s.ratio(kind, given, self.node_nm)
        scaled = value * ratio
        return scaled, (f"{source}; scaled from {given:g} nm to {self.node_nm:g} nm by the "
                        f"{kind} factor {ratio:.4g} of logic_scaling: {value:g} x {ratio:.4g} "
                        f"= {scaled:.4g}")


def _logic_scaling(r: Reader, data: Any) -> LogicScaling | None:
    if data is None:
        return None
    p = "logic_scaling"
    d = r.mapping(data, p, ("nodes_nm", "energy", "area", "source"),
                  required=("nodes_nm", "energy", "area", "source"))
    rows = {}
    for key in ("nodes_nm", "energy", "area"):
        items = r.sequence(d.get(key, []), join(p, key))
        values = []
        for i, item in enumerate(items):
            values.append(r.take({"v": item}, join(join(p, key), i), "v", float,
                                 minimum=1e-9, maximum=1e9))
        rows[key] = tuple(values)
    source = r.take(d, p, "source", str, default="")
    if len({len(v) for v in rows.values()}) != 1:
        r.error(p, "nodes_nm, energy and area need one value per node each")
        return None  # (the refusal is recorded: nothing is scaled by a broken table)
    if len(set(rows["nodes_nm"])) != len(rows["nodes_nm"]):
        r.error(join(p, "nodes_nm"), "a node appears twice")
        return None
    return LogicScaling(rows["nodes_nm"], rows["energy"], rows["area"], source)


def _grid(r: Reader, data: Any, node_nm: float, sources: dict[str, str]) -> SramGrid:
    p = "sram"
    d = r.mapping(data, p, _SRAM_KEYS, required=(
        "source", "node_nm", "transistor", "bank_bytes", "width_bits", *FIGURES))
    grid_node = r.take(d, p, "node_nm", float, minimum=_NODE[0], maximum=_NODE[1], unit="nm")
    transistor = r.take(d, p, "transistor", str, default="")
    source = r.take(d, p, "source", str, default="")
    if r.take(d, p, "ports", int, default=1, minimum=1, maximum=1) != 1:
        pass  # (reported by take: banks are single-ported)
    axes = {}
    for key, low, high in (("bank_bytes", 1, 1 << 40), ("width_bits", 1, 1 << 16)):
        items = r.sequence(d.get(key, []), join(p, key))
        axes[key] = tuple(r.take({"v": v}, join(join(p, key), i), "v", int, minimum=low,
                                 maximum=high) for i, v in enumerate(items))
        if list(axes[key]) != sorted(set(axes[key])) or not axes[key]:
            r.error(join(p, key), "needs increasing values, at least one")
    figures: dict[str, np.ndarray] = {}
    shape = (len(axes["bank_bytes"]), len(axes["width_bits"]))
    for name in FIGURES:
        rows = r.sequence(d.get(name, []), join(p, name))
        table = np.full(shape, np.nan)
        if len(rows) != shape[0]:
            r.error(join(p, name), f"needs {shape[0]} rows (one per bank_bytes), got "
                    f"{len(rows)}")
        for i, row in enumerate(rows[:shape[0]]):
            at = join(join(p, name), i)
            row = r.sequence(row, at)
            if len(row) != shape[1]:
                r.error(at, f"needs {shape[1]} values (one per width_bits), got {len(row)}")
                continue
            for j, v in enumerate(row):
                if v is not None:  # (null: a point CACTI could not organise)
                    table[i, j] = r.take({"v": v}, join(at, j), "v", float, minimum=0,
                                         maximum=1e9)
        figures[name] = table
    scale: dict[str, float] = {}
    if "scale" in d:
        sd = r.mapping(d["scale"], join(p, "scale"), tuple(FIGURES))
        entries = _Entries(r, node_nm, None)
        for name in sd:
            scale[name] = entries.cost(sd, join(p, "scale"), name, 0, 1e3, "")
        sources.update(entries.sources)
    if grid_node != node_nm and not scale:
        r.error(join(p, "node_nm"), f"the grid is at {grid_node:g} nm, the file at "
                f"{node_nm:g} nm: give sram.scale (read_pj, write_pj, leakage_mw, area_mm2: "
                "factors with their sources) to bring it there")
    sources[p] = source
    return SramGrid(grid_node, transistor, axes["bank_bytes"], axes["width_bits"],
                    tuple((name, tuple(map(tuple, table.tolist())))
                          for name, table in figures.items()),
                    source, tuple(scale.items()))


def parse_technology(doc: Any, file: str = "<memory>") -> Technology:
    """Validate a parsed technology document (see the module docstring)."""
    r = Reader(file)
    top = r.mapping(doc, "", (*_TOP, *tech_sections()),
                    required=("version", "node_nm", *_SECTIONS, "sram"))
    if "version" in top:
        if top["version"] == 1:
            r.error("version", "version 1 technology files priced the TCDM per operand byte "
                    "and the tile by one cell figure; version 2 prices banks by their "
                    "geometry (sram) and the tile from its parts: see tech/pcm14.yaml")
        else:
            r.version(top, SUPPORTED_VERSIONS)
    name = r.take(top, "", "name", str, default=Path(file).stem)
    node_nm = r.take(top, "", "node_nm", float, minimum=_NODE[0], maximum=_NODE[1], unit="nm")
    scaling = _logic_scaling(r, top.get("logic_scaling"))
    entries = _Entries(r, node_nm, scaling)
    sections: dict[str, Any] = {}
    optional = _optional()
    present = {k: c for k, c in optional.items() if top.get(k) is not None}
    for section, cls in {**_SECTIONS, **present}.items():
        data = r.mapping(top.get(section, {}), section, keys(cls)[:-1], required=required(cls))
        unit = units(cls)
        values: dict[str, Any] = {
            key: entries.cost(data, section, key, low, high, unit[key],
                              _SCALED.get(join(section, key), ""))
            for key, (low, high) in numeric_bounds(cls).items() if key in data
            or key in required(cls)}
        if cls is ClusterTech:
            table = r.mapping(data.get("mac_pj", {}), "pmca.mac_pj", tuple(DTYPE_BYTES))
            if "mac_pj" in data and isinstance(data["mac_pj"], dict) and not table:
                r.error("pmca.mac_pj", "needs at least one data type, e.g. fp16")
            values["mac_pj"] = tuple(
                (dtype, entries.cost(table, "pmca.mac_pj", dtype, 0, _PJ, "pJ", "energy"))
                for dtype in DTYPE_BYTES if dtype in table)
        if cls is TileTech:
            values["adc_model"] = r.take(data, section, "adc_model", str, default="survey",
                                         choices=ADC_MODELS)
            if values["adc_model"] == "measured":
                for key in ("adc_pj", "adc_area_um2", "adc_bits"):
                    if key not in data:
                        r.error(join(section, key), f"adc_model measured needs {key}")
        sections[section] = values
    grid = _grid(r, top.get("sram", {}), node_nm, entries.sources)
    r.finish()
    engines = tuple((key, CimTech(**sections[key])) for key in tech_sections()
                    if key in sections)
    cim = dict(engines).get("sram_cim")
    memory = MemoryTech(**sections["memory"]) if "memory" in sections else None
    return Technology(name, node_nm, TileTech(**sections["aimc"]),
                      ClusterTech(**sections["pmca"]), LinkTech(**sections["interconnect"]),
                      grid, file, entries.sources, cim, memory, scaling, engines)


def _optional() -> dict[str, type]:
    """The optional sections: memory, and each registered LoRA engine's units."""
    return {**_OPTIONAL, **dict.fromkeys(tech_sections(), CimTech)}


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



def __getattr__(name: str) -> Any:  # (moved to aimcsim.spec.schema; kept working)
    if name == "technology_schema":
        from importlib import import_module

        return import_module("aimcsim.spec.schema").technology_schema
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ADC_MODELS",
    "CimTech",
    "ClusterTech",
    "LinkTech",
    "LogicScaling",
    "MemoryTech",
    "Technology",
    "TileTech",
    "load_technology",
    "parse_technology",
]
