"""JSON Schemas of the architecture and technology files, from their declarations, and the
dot-paths of an architecture file (what sweep axes, constraints and search spaces name).

The schemas list the registries' names (topologies, pipeline strategies, LoRA engines) as
they are when asked for; `arch_field` reads a value's declaration (type, bounds, choices,
unit) from the schema, `arch_value` a validated architecture's value at a path.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from aimcsim.hw.aimc_tile import AimcTile
from aimcsim.hw.chip import Chip
from aimcsim.hw.engines import engine_names
from aimcsim.hw.engines import sections as engine_sections
from aimcsim.hw.interconnect.params import Interconnect, topology_names
from aimcsim.hw.memory import Memory
from aimcsim.hw.pmca.params import MatrixEngine, Pmca
from aimcsim.hw.sram_cim import SramCim
from aimcsim.params.fields import (
    descriptions,
    numeric_bounds,
    required,
    section_schema,
    units,
)
from aimcsim.params.reader import Reader, join
from aimcsim.params.registry import STRATEGIES as _STRATEGIES
from aimcsim.params.units import DTYPE_BYTES
from aimcsim.spec.arch import MODES, SECTION_KEYS, SUPPORTED_VERSIONS, Arch, Lora, Pipeline
from aimcsim.spec.tech import (
    _NODE,
    _PJ,
    _SCALED,
    _SECTIONS,
    ADC_MODELS,
    FIGURES,
    ClusterTech,
    TileTech,
    _optional,
)
from aimcsim.spec.tech import SUPPORTED_VERSIONS as TECH_VERSIONS


def arch_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of an architecture file, from the fields' declarations."""
    sections = {"aimc": (AimcTile, "aimc"), "pmca": (Pmca, "pmca"),
                "interconnect": (Interconnect, "interconnect"),
                "pipeline": (Pipeline, "pipeline"), "lora": (Lora, "lora"),
                "sram_cim": (SramCim, "sram_cim"), "chip": (Chip, "chip"),
                "memory": (Memory, "memory")}
    properties: dict[str, Any] = {
        "version": {"enum": list(SUPPORTED_VERSIONS)},
        "extends": {"type": "string", "description": "an architecture file (relative to this "
                    "one) whose values this file overlays"},
        "name": {"type": "string"},
        "mode": {"enum": list(MODES), "description": "default mode of `aimcsim run`"},
        "source": {"type": "string"},
        "technology": {"type": "string", "description": "the technology file (tech/*.yaml, "
                       "relative to this one): energy per event, area and leakage"},
    }
    complete: dict[str, Any] = {}  # what a file that extends nothing must also give
    for key, (cls, title) in sections.items():
        schema = section_schema(cls, title)
        if cls in (Pipeline, Lora):
            del schema["properties"]["source"]
        required_keys = schema.pop("required")
        if key not in ("sram_cim", "chip", "memory"):  # optional sections
            complete[key] = {"required": required_keys}
        else:
            schema["required"] = required_keys
        properties[key] = schema
    for key, eng in engine_sections().items():  # the plug-in engines' sections
        if key not in properties:
            properties[key] = eng.section_schema()
    # the registries' names as they are now (a plug-in imported after this module included)
    for path, names in _REGISTERED.items():
        section, key = path.split(".")
        properties[section]["properties"][key]["enum"] = list(names())
    engine = section_schema(MatrixEngine, "matrix_engine")
    properties["pmca"]["properties"]["matrix_engine"] = {"anyOf": [engine, {"type": "null"}]}
    properties["pmca"].pop("$defs", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "aimcsim architecture file",
        "type": "object",
        "properties": properties,
        "required": ["version"],
        "additionalProperties": False,
        # a file that extends another gives only what differs
        "if": {"not": {"required": ["extends"]}},
        "then": {"required": ["version", "aimc", "pmca", "interconnect"],
                 "properties": complete},
    }


@cache
def _schema() -> dict[str, Any]:
    return arch_schema()


_SCHEMA_KINDS = {"integer": int, "number": float, "boolean": bool, "string": str}


@dataclass(frozen=True)
class ArchField:
    """What one value of an architecture file accepts, from its declaration (a sweep axis, a
    constraint or a search dimension is checked against it before any point is built)."""

    path: str
    kind: type | None  # int, float, bool or str; None: a structured value (a list)
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None
    unit: str = ""
    section_required: tuple[str, ...] = ()  # keys its section needs when the file lacks it

    def take(self, r: Reader, path: str, index: int, value: Any) -> Any:
        """`value` checked as this field (errors at `path[index]`)."""
        if self.kind is None:
            return value
        return r.take({index: value}, path, index, self.kind,  # type: ignore[dict-item]
                      minimum=self.minimum, maximum=self.maximum, choices=self.choices,
                      unit=self.unit)


def _object(node: dict[str, Any]) -> dict[str, Any] | None:
    if "properties" in node:
        return node
    return next((b for b in node.get("anyOf", ()) if "properties" in b), None)


#: values whose allowed choices are a registry's names, read when asked
_REGISTERED = {"pipeline.strategy": _STRATEGIES.names, "interconnect.topology": topology_names,
               "lora.engine": engine_names}


def arch_field(path: str) -> ArchField:
    """The declaration of the value at dot-path `path` of an architecture file (a field of a
    section, of `pmca.matrix_engine` or an entry of a per-type table); ValueError naming what
    the path's parent does have when there is no such value."""
    node: dict[str, Any] | None = {
        "properties": {k: v for k, v in _schema()["properties"].items() if k in SECTION_KEYS}}
    parent: dict[str, Any] = {}
    walked: list[str] = []
    for part in path.split("."):
        props = {k: v for k, v in (node or {}).get("properties", {}).items() if k != "source"}
        if part not in props:
            where = ".".join(walked)
            if node is None:
                raise ValueError(f"{path!r}: {where} is a value, not a section")
            raise ValueError(f"{path!r} is not a field of an architecture file; "
                             f"{where or 'its sections are'}"
                             f"{' has' if where else ''}: {', '.join(props)}")
        parent = node or {}
        node = props[part]
        walked.append(part)
        if _object(node) is not None:
            node = _object(node)
        else:
            leaf, node = node, None
    if node is not None:
        raise ValueError(f"{path!r} is a section; name one of its fields: "
                         f"{', '.join(k for k in node['properties'] if k != 'source')}")
    choices = tuple(leaf["enum"]) if "enum" in leaf else None
    if path in _REGISTERED:  # (what is registered now, a plug-in imported late included)
        choices = _REGISTERED[path]()
    kind = type(choices[0]) if choices else _SCHEMA_KINDS.get(leaf.get("type", ""))
    return ArchField(path, kind, leaf.get("minimum"), leaf.get("maximum"), choices,
                     str(leaf.get("unit", "")), tuple(parent.get("required", ())))


def arch_value(arch: Arch, path: str) -> Any:
    """The value at dot-path `path` of a validated architecture, defaults filled in (None where
    an optional section is absent)."""
    cur: Any = arch
    for part in path.split("."):
        if cur is None:
            return None
        cur = dict(cur).get(part) if isinstance(cur, tuple) else getattr(cur, part)
    return cur


def _entry_schema(low: float | None, high: float | None, unit: str, meaning: str,
                  scaled: bool = False) -> dict[str, Any]:
    value: dict[str, Any] = {"type": "number", "description": meaning}
    if unit:
        value["unit"] = unit
    if low is not None:
        value["minimum"] = low
    if high is not None:
        value["maximum"] = high
    props: dict[str, Any] = {"value": value, "source": {
        "type": "string", "pattern": r"\S",
        "description": "paper and table, a derivation, or 'assumed: <why>'"}}
    if scaled:
        props["node_nm"] = {"type": "number", "minimum": _NODE[0], "maximum": _NODE[1],
                            "description": "the node of the source (scaled by logic_scaling)"}
    return {"type": "object", "additionalProperties": False, "required": ["value", "source"],
            "properties": props}


def technology_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a technology file, from the fields' declarations."""
    number = {"type": "number"}
    properties: dict[str, Any] = {
        "version": {"enum": list(TECH_VERSIONS)}, "name": {"type": "string"},
        "source": {"type": "string"},
        "node_nm": {**number, "minimum": _NODE[0], "maximum": _NODE[1]},
        "logic_scaling": {"type": "object", "additionalProperties": False,
                          "required": ["nodes_nm", "energy", "area", "source"],
                          "properties": {"nodes_nm": {"type": "array", "items": number},
                                         "energy": {"type": "array", "items": number},
                                         "area": {"type": "array", "items": number},
                                         "source": {"type": "string"}}},
        "sram": {"type": "object", "additionalProperties": False,
                 "required": ["source", "node_nm", "transistor", "bank_bytes", "width_bits",
                              *FIGURES],
                 "description": "CACTI's figures of single-ported banks (aimcsim.hw.sram)",
                 "properties": {
                     "generator": {"type": "string"}, "source": {"type": "string"},
                     "node_nm": number, "transistor": {"type": "string"},
                     "ports": {"const": 1},
                     "bank_bytes": {"type": "array", "items": {"type": "integer"}},
                     "width_bits": {"type": "array", "items": {"type": "integer"}},
                     **{name: {"type": "array", "description": meaning, "items": {
                         "type": "array", "items": {"type": ["number", "null"]}}}
                        for name, meaning in FIGURES.items()},
                     "scale": {"type": "object", "additionalProperties": False,
                               "properties": {name: _entry_schema(0, 1e3, "", f"factor on "
                                                                  f"{name}")
                                              for name in FIGURES}}}},
    }
    for section, cls in {**_SECTIONS, **_optional()}.items():
        unit, meaning = units(cls), descriptions(cls)
        props = {key: _entry_schema(low, high, unit[key], meaning[key],
                                    join(section, key) in _SCALED)
                 for key, (low, high) in numeric_bounds(cls).items()}
        if cls is ClusterTech:
            props["mac_pj"] = {"type": "object", "additionalProperties": False,
                               "minProperties": 1, "description": meaning["mac_pj"],
                               "properties": {d: _entry_schema(0, _PJ, "pJ", f"one {d} MAC",
                                                               True)
                                              for d in DTYPE_BYTES}}
        if cls is TileTech:
            props["adc_model"] = {"enum": list(ADC_MODELS), "description": meaning["adc_model"]}
        properties[section] = {"type": "object", "additionalProperties": False,
                               "required": list(required(cls)), "properties": props,
                               "description": (cls.__doc__ or "").strip()}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "aimcsim technology file", "type": "object", "properties": properties,
            "required": ["version", "node_nm", *_SECTIONS, "sram"],
            "additionalProperties": False}




__all__ = ["ArchField", "arch_field", "arch_schema", "arch_value", "technology_schema"]
