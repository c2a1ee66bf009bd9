"""A search's space: the values it tries (`SearchSpace`, a `version: 1` YAML file read by
`load_space`, each value checked against the architecture field it sets), the variants of an
architecture they make, and a layer alone as the search runs it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

from aimcsim.explore.axes import Axis, read_axis
from aimcsim.params.reader import Reader, read_yaml
from aimcsim.sim.strategies import strategy_names
from aimcsim.spec.arch import TILE_OUTPUTS, Arch, Pipeline
from aimcsim.spec.workload import INPUT, Edge, Op, Workload

GROUP = ["d_in", "d_out", "rank", "integration_time_ns", "cores"]


@dataclass(frozen=True)
class SearchSpace:
    """Values to try; None takes the architecture's own value (one point)."""

    strategies: tuple[str, ...] = field(default_factory=strategy_names)  # all registered
    parallel_tokens: tuple[int, ...] | None = None  # None: powers of two up to tokens, + tokens
    tile_output: tuple[str, ...] | None = TILE_OUTPUTS
    output_chunk: tuple[int, ...] | None = None  # None: the architecture's own
    cores: tuple[int, ...] | None = None
    integration_time_ns: tuple[float, ...] | None = (128.0, 256.0, 512.0)
    rank: tuple[int, ...] | None = None
    # keys per chunk of fused attention, chosen for the whole network (attention is not a
    # static layer): None: the architecture's own
    attention_key_chunk: tuple[int, ...] | None = None

    def axes(self) -> tuple[Axis, ...]:
        """The dimensions the space gives values for, as the architecture paths they set
        (those left None take the architecture's own value)."""
        return tuple(Axis(SPACE_FIELDS[name], values) for name, values in (
            (f.name, getattr(self, f.name)) for f in dataclasses.fields(self))
            if values is not None)


#: The architecture value each dimension of a search space sets (its values are checked
#: against that value's declaration: type, bounds, choices, whole picoseconds).
SPACE_FIELDS = {"strategies": "pipeline.strategy", "parallel_tokens": "pipeline.parallel_tokens",
                "tile_output": "pipeline.tile_output", "output_chunk": "pipeline.output_chunk",
                "cores": "pmca.cores",
                "integration_time_ns": "aimc.integration_time_ns", "rank": "lora.rank",
                "attention_key_chunk": "pipeline.attention_key_chunk"}


def load_space(path: str | Path) -> SearchSpace:
    """A search-space YAML file: `version: 1` and lists for any of the space's fields."""
    r = Reader(path)
    d = r.mapping(read_yaml(path), "", ("version", *SPACE_FIELDS), required=("version",))
    if "version" in d:
        r.version(d, (1,))
    values: dict[str, Any] = {}
    for key, arch_path in SPACE_FIELDS.items():
        if key not in d:
            continue
        items = r.sequence(d[key], key)
        if not items and isinstance(d[key], list):
            r.error(key, "expected a non-empty list")
        axis = read_axis(r, key, arch_path, items, twice="the search would try it twice")
        if axis is not None:
            values[key] = axis.values
    r.finish()
    return SearchSpace(**values)


def _variant(arch: Arch, integration_time_ns: float, cores: int, rank: int) -> Arch:
    """`arch` with another integration time, cluster size and LoRA rank."""
    return dataclasses.replace(
        arch,
        aimc=dataclasses.replace(arch.aimc, integration_time_ns=float(integration_time_ns)),
        pmca=dataclasses.replace(arch.pmca, cores=int(cores)),
        lora=dataclasses.replace(arch.lora, rank=int(rank)),
    )


def _variants(arch: Arch, space: SearchSpace) -> list[Arch]:
    if space.rank and arch.lora.adapter is not None:
        raise ValueError(f"search space: rank with lora.adapter ({arch.lora.adapter.file}): "
                         "the adapter gives each layer its rank; search without one of them")
    return [_variant(arch, t_int, cores, rank) for t_int, cores, rank in product(
        space.integration_time_ns or (arch.aimc.integration_time_ns,),
        space.cores or (arch.pmca.cores,), space.rank or (arch.lora.rank,))]


def _alone(op: Op, tokens: int) -> Workload:
    """`op` alone, its input produced on another cluster (as in the network); in its own
    block, so that an adapter's per-layer selection (`lora.adapter`) still applies to it."""
    source = Op("source", 0, "elementwise", "source", op.d_in, op.d_in,
                (Edge(INPUT, "streaming"),), function="norm")
    single = dataclasses.replace(op, name="layer", inputs=(Edge("source", "streaming"),),
                                 last_tokens=0)
    return Workload("layer", tokens, op.d_in, (source, single))


def _layer_by_layer(arch: Arch, pipe: Pipeline) -> Arch:
    return dataclasses.replace(arch, pipeline=dataclasses.replace(
        pipe, between_layers="layer-by-layer"))
