"""Architecture files: YAML -> validated, frozen `Arch`.

Each component's parameters (meaning, unit, checks) live with the component: `aimc` in
`aimcsim.hw.aimc_tile`, `pmca` in `aimcsim.hw.pmca.params`, `interconnect` in
`aimcsim.hw.interconnect.params`; the run settings (`pipeline`, `lora`) and the file as a whole
are here. `arch/*.yaml` repeat the meaning next to the value with the source of the number.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import WithJsonSchema

from aimcsim.errors import SettingWarning, SpecError, SpecIssue
from aimcsim.hw.aimc_tile import AIMC_KEYS, AimcTile, read_aimc
from aimcsim.hw.chip import CHIP_KEYS, Chip
from aimcsim.hw.engines import ENGINES, engine_names
from aimcsim.hw.engines import described as described_engines
from aimcsim.hw.engines import sections as engine_sections
from aimcsim.hw.interconnect.params import NOC_KEYS, Interconnect, read_interconnect, topology_names
from aimcsim.hw.memory import MEMORY_KEYS, Memory
from aimcsim.hw.pmca.params import (
    DATAFLOWS,
    ELEMENTWISE_FUNCTIONS,
    ENGINE_ORIENTATIONS,
    PMCA_KEYS,
    TIMINGS,
    MatrixEngine,
    Pmca,
    read_pmca,
)
from aimcsim.hw.sram_cim import CIM_KEYS, SramCim
from aimcsim.params.fields import (
    Custom,
    choices,
    declare,
    keys,
    read_fields,
    read_section,
)
from aimcsim.params.reader import Reader, join, kind_of, read_yaml, relative_file, shown
from aimcsim.params.registry import STRATEGIES as _STRATEGIES
from aimcsim.params.units import DTYPE_BYTES, PS_PER_US, ns_to_ps
from aimcsim.spec.adapter import Adapter, read_adapter_at
from aimcsim.spec.tech import Technology, load_technology

SUPPORTED_VERSIONS = (1,)
MODES = ("hybrid", "aimc-only")


@dataclass(frozen=True)
class Pipeline:
    """How the tile and the cluster share a layer's token blocks: the `pipeline` section (run
    settings). Each field is declared once, below."""

    strategy: Annotated[str, declare(
        "a pipeline strategy registered in aimcsim.sim.strategies: " + "; ".join(
            f"{s.name}: {s.description}" for s in _STRATEGIES.values()),
        schema={"enum": list(_STRATEGIES.names())}), Custom()] = "overlapped"
    parallel_tokens: Annotated[int, declare("tokens per block on the cluster (and granularity of "
                                            "streaming edges)", ge=1, le=1 << 20)] = 16
    between_layers: Annotated[Literal["streaming", "layer-by-layer"], declare(
        "streaming: a consumer starts on block i once its producers finished block i, as the "
        "trace's edges say; layer-by-layer: one op at a time in trace order, each with the chip "
        "to itself (its latency is its own, as in a per-layer study)")] = "streaming"
    tile_output: Annotated[Literal["in-place", "separate"], declare(
        "where a block's tile output lands in the TCDM in hybrid mode. in-place (what "
        "hand-written LoRA kernels do): in the LoRA output buffer, and T B accumulates onto it "
        "(C += A B), so T B waits for the tile output; separate: a buffer of its own, T B runs "
        "before the tile output arrives and a final add joins the two")] = "in-place"
    attention_clusters: Annotated[int, declare(
        "clusters that share each attention matmul and its softmax, by heads (groups of query "
        "heads with grouped-query attention): the cluster beside the query layer and the next "
        "ones; each runs its heads' share, outputs gathered back to the first (1: the first "
        "runs every head)", ge=1, le=1024)] = 1
    output_chunk: Annotated[int, declare(
        "output columns of a static layer's block the cluster pulls from the tiles and reduces "
        "at a time (its row slices' partial sums and, with LoRA, C += T B for those columns): "
        "0 takes the whole block output at once, held in the TCDM; > 0 holds one chunk's "
        "partial sums, one chunk after the other (each pulled over the tile's link, then "
        "reduced), the tiles keeping the rest until asked", ge=0, le=1 << 24)] = 0
    attention_key_chunk: Annotated[int, declare(
        "0: attention as the trace's separate kernels (scores, softmax, context), each "
        "cluster holding a block's whole score matrix and one group's K (or V) in its TCDM; "
        "> 0: fused attention tiled over keys, as FlashAttention-style kernels do: K and V "
        "come from the cluster's L2 by DMA in chunks of this many keys, a running max and sum "
        "rescale the output, so any context fits the TCDM", ge=0, le=1 << 20)] = 0

    @cached_property
    def blocks_in_flight(self) -> int:
        """The strategy's (read once per pipeline: a run reads it per op)."""
        return _STRATEGIES.get(self.strategy).blocks_in_flight


#: The role of a decoder's language-model head (hidden -> vocabulary), which `lora.layers: all`
#: leaves out (PEFT's `all-linear` does too)
LM_HEAD = "lm_head"


@dataclass(frozen=True)
class Lora:
    """Low-rank adapters computed digitally in hybrid mode: the `lora` section (run settings)."""

    rank: Annotated[int, declare("r of A (d_in x r) and B (r x d_out)", ge=1, le=65_536)] = 8
    dtype: Annotated[Literal[tuple(DTYPE_BYTES)], declare(
        "data type of all digital compute (needs an entry in pmca.macs_per_cycle)")] = "fp16"
    layers: Annotated[tuple[str, ...] | None, Custom(), WithJsonSchema({
        "description": "all (every static-layer role but the LM head, lm_head, as PEFT's "
                       "all-linear), or the static-layer roles that carry adapters (e.g. "
                       "query, value, lm_head)",
        "anyOf": [{"const": "all"}, {"type": "array", "items": {"type": "string"}}]})] = None
    engine: Annotated[str, declare(
        "where the branch X A B runs, an engine registered in aimcsim.hw.engines: "
        + described_engines(), schema={"enum": list(engine_names())}), Custom()] = "pmca"
    adapter: Annotated[Adapter | None, Custom(), WithJsonSchema({
        "description": "a PEFT LoRA adapter_config.json (relative to this file): its r, "
                       "target_modules, exclude_modules, rank_pattern and layers_to_transform "
                       "say which static layers carry an adapter and of what rank, matched "
                       "as PEFT matches them, in place of rank and layers",
        "type": "string"})] = None

    @property
    def element_bytes(self) -> int:
        return DTYPE_BYTES[self.dtype]

    def applies_to(self, role: str) -> bool:
        """Whether layers of `role` carry an adapter (in some block, with `adapter`): listed,
        or (all) any but the LM head."""
        if self.adapter is not None:
            return any(self.adapter.rank_of(block, role) for block in range(
                1 + max(self.adapter.layers or (1,))))
        return role != LM_HEAD if self.layers is None else role in self.layers

    def rank_of(self, block: int, role: str) -> int | None:
        """The rank of the adapter on the static layer of `role` in transformer block `block`
        (None: it carries none): the adapter file's, else `rank` on the roles `layers`
        selects."""
        if self.adapter is not None:
            return self.adapter.rank_of(block, role)
        return self.rank if self.applies_to(role) else None


@dataclass(frozen=True)
class Arch:
    """A whole architecture, as loaded from one file."""

    name: str
    mode: str
    aimc: AimcTile
    pmca: Pmca
    interconnect: Interconnect
    pipeline: Pipeline
    lora: Lora
    source: str = "<memory>"
    technology: Technology | None = None  # energy, area and leakage (None: no energy figures)
    sram_cim: SramCim | None = None  # the sram_cim section (the macro), when given
    #: the section of the engine `lora.engine` names (`aimcsim.hw.engines`; None: it has none)
    branch: Any = None
    chip: Chip | None = None  # the tile budget (None: unbounded)
    memory: Memory | None = None  # memory beyond the clusters (off-chip adapters)
    #: the document it was read from (`extends` merged; not part of its value: read only)
    document: Any = field(default=None, compare=False, repr=False)


_BASE_TOP = ("version", "name", "mode", "source", "technology", "aimc", "pmca",
             "interconnect", "pipeline", "lora", "chip", "memory")
_TOP = (*_BASE_TOP, *engine_sections())  # (the engines registered at import)
STRATEGIES = _STRATEGIES.names()  # (the built-in ones and those registered before this import)
BETWEEN_LAYERS = choices(Pipeline, "between_layers")
TILE_OUTPUTS = choices(Pipeline, "tile_output")
_PIPE = keys(Pipeline)[:-1]  # run settings carry no citation
_LORA = keys(Lora)[:-1]
#: The keys each section of an architecture file recognises (sweep axes are checked against it).
SECTION_KEYS: dict[str, tuple[str, ...]] = {
    "aimc": AIMC_KEYS, "pmca": PMCA_KEYS, "interconnect": NOC_KEYS, "pipeline": _PIPE,
    "lora": _LORA, "sram_cim": CIM_KEYS, "chip": CHIP_KEYS, "memory": MEMORY_KEYS,
}


def load_arch(path: str | Path) -> Arch:
    """Load and validate an architecture YAML file (with the files it `extends`).

    Raises `SpecError` listing every problem, each with the file the value came from and its
    YAML dot-path.
    """
    doc, origin = read_arch_doc(path)
    return parse_with_origin(doc, origin, str(path))


def parse_with_origin(doc: Any, origin: dict[str, str], file: str) -> Arch:
    """`parse_arch`, naming on each issue the file its value came from (`origin`: YAML
    dot-path -> file, for values another file than `file` set)."""
    try:
        return parse_arch(doc, file)
    except SpecError as exc:
        issues = [SpecIssue(i.path, i.message, i.file or _origin(origin, i.path))
                  for i in exc.issues]
        raise SpecError(file, issues) from None


def overlay_file(base: dict[str, Any], origin: dict[str, str], top: dict[str, Any],
                 file: str) -> dict[str, Any]:
    """`top`, read from `file`, over `base` as `extends` overlays (mappings merge key by key,
    other values replace); `origin` then names `file` for every value `top` set."""
    merged = _overlay(base, top, origin, "")
    origin.update(_leaves(top, file))
    return merged


#: files an architecture's `extends` chain may hold (a base, its overlays and theirs)
MAX_EXTENDS = 16


def read_arch_doc(path: str | Path, _chain: tuple[Path, ...] = ()) -> tuple[Any, dict[str, str]]:
    """An architecture file's document with what it `extends` merged in, and where each value
    came from (YAML dot-path -> file, for the values a base file set).

    `extends: other.yaml` (relative to the file) takes every value of the other file (itself
    possibly extending another) and overlays this file's: mappings merge key by key, any other
    value replaces the base's. `name` is never inherited (a file is named by itself or its
    stem).
    """
    path = Path(path)
    doc = read_yaml(path)
    for where in (("technology",), ("lora", "adapter")):
        node = doc
        for key in where[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(where[-1]), str) and node[where[-1]]:
            try:  # relative to the file that names it, also when another file extends this one
                node[where[-1]] = str(relative_file(path, node[where[-1]]))
            except ValueError as exc:
                raise SpecError(str(path), [SpecIssue(".".join(where), str(exc))]) from None
    if not isinstance(doc, dict) or "extends" not in doc:
        return doc, {}
    base_rel = doc.pop("extends")
    try:
        if not isinstance(base_rel, str):
            raise ValueError(f"expected the path of an architecture file, got {shown(base_rel)}")
        base_path = relative_file(path, base_rel)
    except ValueError as exc:
        raise SpecError(str(path), [SpecIssue("extends", str(exc))]) from None
    try:
        chain = (*_chain, path.resolve())
    except (RuntimeError, OSError) as exc:  # (a symlink loop: read_yaml named it already)
        raise SpecError(str(path), [SpecIssue("", f"cannot resolve the path ({exc})")]) from None
    if len(chain) == MAX_EXTENDS:
        raise SpecError(str(path), [SpecIssue("extends", f"{shown(base_rel)}: more than "
                                              f"{MAX_EXTENDS} files extend one another")])
    if base_path in chain:
        loop = " -> ".join(str(p) for p in (*chain, base_path))
        raise SpecError(str(path), [SpecIssue("extends", f"files extend each other: {loop}")])
    try:
        base, origin = read_arch_doc(base_path, chain)
    except SpecError as exc:
        raise SpecError(str(path), [SpecIssue("extends", f"{base_rel}: {i.message}", i.file)
                                    for i in exc.issues]) from None
    if not isinstance(base, dict):
        raise SpecError(str(path), [SpecIssue("extends", f"{base_path}: expected a mapping "
                                              f"of sections; the file holds {kind_of(base)}")])
    base.pop("name", None)
    # what the base inherited keeps its own file; the rest of its values are its own
    origin = {**_leaves(base, str(base_path)), **origin}
    return _overlay(base, doc, origin, ""), origin


def _leaves(doc: dict[str, Any], file: str, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in doc.items():
        path = join(prefix, str(key))
        if isinstance(value, dict):
            out.update(_leaves(value, file, path))
        else:
            out[path] = file
    return out


def _overlay(base: dict[str, Any], top: dict[str, Any], origin: dict[str, str],
             prefix: str) -> dict[str, Any]:
    """`top` over `base` (see `read_arch_doc`); forget the origin of what `top` sets."""
    merged = dict(base)
    for key, value in top.items():
        path = join(prefix, str(key))
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _overlay(merged[key], value, origin, path)
        else:
            merged[key] = value
            for known in [p for p in origin if p == path or p.startswith(path + ".")]:
                del origin[known]
    return merged


def _origin(origin: dict[str, str], path: str) -> str | None:
    """The base file that set the value at `path` (or below it), if one did."""
    if path in origin:
        return origin[path]
    below = {f for p, f in origin.items() if p.startswith(path + ".")}
    if not below and "[" in path:  # (an item of a list a file or --set gave whole)
        return _origin(origin, path[:path.index("[")])
    return below.pop() if len(below) == 1 else None


def parse_arch(doc: Any, file: str = "<memory>") -> Arch:
    """Validate an already parsed architecture document (see `load_arch`)."""
    r = Reader(file)
    engines = engine_sections()  # (read when asked: a plug-in imported late included)
    top = r.mapping(doc, "", (*_BASE_TOP, *engines),
                    required=("version", "aimc", "pmca", "interconnect"))
    if "version" in top:
        r.version(top, SUPPORTED_VERSIONS)
    name = r.take(top, "", "name", str, default=Path(file).stem)
    mode = r.take(top, "", "mode", str, default="hybrid", choices=MODES)
    aimc = read_aimc(r, top.get("aimc", {}))
    pmca = read_pmca(r, top.get("pmca", {}))
    noc = read_interconnect(r, top.get("interconnect", {}))
    pipe = _pipeline(r, top.get("pipeline", {}))
    lora = _lora(r, top.get("lora", {}), pmca)
    params = {key: eng.read(r, top[key]) for key, eng in engines.items()
              if top.get(key) is not None}
    cim = params.get("sram_cim")
    chosen = ENGINES[lora.engine] if lora.engine in ENGINES else None  # (else refused)
    if chosen is not None and chosen.section and chosen.section not in params:
        r.error(chosen.section, f"lora.engine: {lora.engine} needs the {chosen.section} section "
                f"({', '.join(chosen.section_schema()['properties'])})")
    tech = _technology(r, top, lora)
    if (tech is not None and chosen is not None and chosen.tech_section
            and tech.engine_tech(chosen.tech_section) is None):
        r.error("technology", f"{tech.file}: lora.engine: {lora.engine} needs a "
                f"{chosen.tech_section} section (mac_pj, area_mm2, leakage_mw)")
    chip, memory = (read_section(r, cls, top[key], key) if top.get(key) is not None else None
                    for key, cls in (("chip", Chip), ("memory", Memory)))
    r.finish()
    return Arch(name, mode, aimc, pmca, noc, pipe, lora, source=file, technology=tech,
                sram_cim=cim, chip=chip, memory=memory,
                branch=params.get(chosen.section) if chosen is not None and chosen.section
                else None, document=doc)


def _technology(r: Reader, top: dict[str, Any], lora: Lora) -> Technology | None:
    """The technology file the architecture names (its errors reported at `technology`)."""
    if "technology" not in top:
        return None
    path = r.take(top, "", "technology", str)
    if not path:
        return None
    try:
        tech = load_technology(path)
    except SpecError as exc:
        for issue in exc.issues:
            r.error("technology", f"{exc.file}: {issue}")
        return None
    if lora.dtype not in dict(tech.pmca.mac_pj):
        r.error("technology", f"{tech.file}: pmca.mac_pj has no {lora.dtype!r} (lora.dtype); it "
                f"has: {', '.join(dict(tech.pmca.mac_pj)) or 'nothing'}")
    return tech


def _pipeline(r: Reader, data: Any) -> Pipeline:
    p = "pipeline"
    return read_pipeline(r, r.mapping(data, p, _PIPE), p)


def read_pipeline(r: Reader, d: dict[str, Any], path: str) -> Pipeline:
    """A `pipeline` mapping (its keys checked) as a `Pipeline`: the declared fields and the
    strategy, one of those registered (`aimcsim.sim.strategies`)."""
    name = r.take(d, path, "strategy", str, choices=_STRATEGIES.names(), default="overlapped")
    return Pipeline(strategy=name, **read_fields(r, Pipeline, d, path))


def _lora(r: Reader, data: Any, pmca: Pmca) -> Lora:
    p = "lora"
    d = r.mapping(data, p, _LORA)
    values = read_fields(r, Lora, d, p)
    values["engine"] = r.take(d, p, "engine", str, choices=engine_names(), default="pmca")
    dtype = values["dtype"]
    layers: tuple[str, ...] | None = None
    raw = d.get("layers", "all")
    if raw != "all":
        items = r.sequence(raw, join(p, "layers"))
        for i, item in enumerate(items):
            if not isinstance(item, str):
                r.error(join(join(p, "layers"), i),
                        f"expected a layer role (string), got {shown(item)}")
        layers = tuple(i for i in items if isinstance(i, str))
    adapter = read_adapter_at(r, d, p)
    if adapter is not None:
        given = {k: v for k, v in (("rank", values["rank"]), ("layers", layers))
                 if k in d and v != (adapter.rank if k == "rank" else None)}
        if given:
            warnings.warn(SettingWarning(
                f"{r.file}: lora.adapter {adapter.file} says which layers carry an adapter and "
                f"of what rank (r {adapter.rank}); {' and '.join(f'lora.{k}' for k in given)} "
                f"beside it {'is' if len(given) == 1 else 'are'} not used"), stacklevel=4)
        values["rank"], layers = adapter.rank, None
    known = dict(pmca.macs_per_cycle)
    if known and dtype not in known:
        r.error(
            join(p, "dtype"),
            f"{dtype!r} has no entry in pmca.macs_per_cycle (it has: {', '.join(known)})",
        )
    return Lora(layers=layers, adapter=adapter, **values)




def __getattr__(name: str) -> Any:  # (moved to aimcsim.spec.schema; kept working)
    if name in ("ArchField", "arch_field", "arch_schema", "arch_value"):
        from importlib import import_module

        return getattr(import_module("aimcsim.spec.schema"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DATAFLOWS",
    "DTYPE_BYTES",
    "ELEMENTWISE_FUNCTIONS",
    "ENGINE_ORIENTATIONS",
    "MODES",
    "PS_PER_US",
    "SECTION_KEYS",
    "STRATEGIES",
    "TIMINGS",
    "AimcTile",
    "Arch",
    "Interconnect",
    "Lora",
    "MatrixEngine",
    "Pipeline",
    "Pmca",
    "load_arch",
    "ns_to_ps",
    "parse_arch",
    "read_arch_doc",
    "topology_names",
]
