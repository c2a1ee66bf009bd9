"""Points: the grid (or a seeded sample) of a sweep's axes, each built into an architecture
and validated before anything runs."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable
from functools import lru_cache
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np

from aimcsim.errors import AimcsimError, SpecError, SpecIssue
from aimcsim.explore.sweep.definition import (
    SEQ_LEN_AXIS,
    Invalid,
    Point,
    SweepSpec,
    identity,
)
from aimcsim.hw.pmca import ThroughputPmca
from aimcsim.params.files import code_digest
from aimcsim.params.registry import SWEEP_KINDS
from aimcsim.sim.prepare import prepare
from aimcsim.spec.arch import LM_HEAD, Arch, parse_arch
from aimcsim.spec.overrides import set_values
from aimcsim.spec.workload import Workload, load_workload, parse_workload
from aimcsim.traces import TRACES, for_model


def point_id(arch: str, workload: str, seq_len: int | None, modes: Iterable[str]) -> str:
    """A point's name: a digest of everything its result depends on: its architecture
    (`spec.identity` of its resolved document), its workload's content digest, the sequence
    length it is regenerated at, its modes, and aimcsim's code (`code_digest`), so no stored
    point is ever taken for another."""
    key = json.dumps({"arch": arch, "workload": workload, "seq_len": seq_len,
                      "modes": list(modes), "code": code_digest()})
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _combo(axes: list[tuple[Any, ...]], index: int) -> tuple[Any, ...]:
    """The `index`-th point of the grid in `itertools.product` order, without building it."""
    out = []
    for values in reversed(axes):
        index, digit = divmod(index, len(values))
        out.append(values[digit])
    return tuple(reversed(out))


def _sample(total: int, samples: int, seed: int) -> list[int]:
    """`samples` distinct grid indices, sorted. Grids up to ten million points draw as always
    (numpy's choice over the indices, so a seed keeps its sample); larger ones by Floyd's
    algorithm, in O(samples) memory."""
    rng = np.random.default_rng(seed)
    if total <= 10_000_000:
        return sorted(rng.choice(total, size=samples, replace=False).tolist())
    chosen: set[int] = set()
    for j in range(total - samples, total):
        t = int(rng.integers(0, j + 1))
        chosen.add(t if t not in chosen else j)
    return sorted(chosen)


def build_points(spec: SweepSpec) -> tuple[list[Point], list[Invalid]]:
    """Every point of the sweep, validated; invalid ones come back with their reason."""
    names = [name for name, _ in spec.axes]
    axes = [values for _, values in spec.axes]
    total = spec.grid_size
    if spec.size > spec.max_points:
        raise ValueError(f"{spec.file}: {spec.size} points is above max_points = "
                         f"{spec.max_points}")
    if spec.samples is not None and spec.samples < total:
        combos = [_combo(axes, i) for i in _sample(total, spec.samples, spec.seed)]
    else:
        combos = list(product(*axes))
    points, invalid = [], []
    fits: set[tuple] = set()
    technologies: dict[str, str] = {}
    index = 0
    kind = SWEEP_KINDS.get(spec.kind) if spec.kind else None
    for wfile, wdigest in zip(spec.workloads, spec.workload_digests, strict=True):
        for combo in combos:
            params = tuple(zip(names, combo, strict=True))
            seq_len = None
            options = dict(spec.options)
            sets = []
            for name, value in params:
                if name == SEQ_LEN_AXIS:
                    seq_len = value
                elif kind is not None and name.startswith(f"{spec.kind}."):
                    options[name.split(".", 1)[1]] = value
                else:
                    sets.append((name, value))
            # (only the mappings on the axes' paths are copied, the rest shared read only; a
            # kind's options may change the document anywhere: it gets a copy of its own)
            doc = set_values(spec.arch_doc, sets, copy_paths=True) if kind is None else \
                set_values(copy.deepcopy(spec.arch_doc), sets)
            if kind is not None:
                kind.apply(options, doc)  # (what of the architecture its options set)
                wdigest = hashlib.sha256(json.dumps(options, sort_keys=True, default=str)
                                         .encode()).hexdigest()
            reason = _validate(doc, spec, index, wfile, seq_len, fits)
            if isinstance(reason, Arch):
                pid = point_id(identity(doc, technologies), wdigest, seq_len, spec.modes)
                points.append(Point(pid, index, wfile, params, reason, spec.modes, seq_len,
                                    spec.kind, tuple(options.items())))
            else:
                invalid.append(Invalid(index, wfile, params, reason))
            index += 1
    return points, invalid


def _validate(
    doc: dict, spec: SweepSpec, index: int, wfile: str, seq_len: int | None, fits: set[tuple]
) -> Arch | str:
    """The point's validated architecture, or why it is invalid (a constraint it fails, an
    architecture error, a TCDM budget it exceeds).

    The check is the simulation's own preparation (`aimcsim.sim.prepare`: fused attention,
    placement, L2 and TCDM), so a point refused here would be refused by `simulate`, and one
    accepted runs. `fits` holds the keys already checked in this build: it depends only on the
    crossbar, the cluster, the pipeline, LoRA, the memory, the chip, the workload and the
    modes.
    """
    label = f"{spec.file} point {index} ({Path(spec.arch_file).name})"
    try:
        arch = parse_arch(doc, label)
        failed = [c for c in spec.constraints if not c.holds(arch)]
        if failed:
            return f"excluded by constraint {failed[0]}"
        if spec.kind:  # (its run checks the rest, and says so in the points table)
            return arch
        # what the preparation depends on; points that differ elsewhere share the check
        budget_key = (arch.aimc.rows, arch.aimc.cols, arch.pmca, arch.pipeline, arch.lora,
                      arch.memory, arch.chip, arch.sram_cim, arch.branch, wfile, seq_len,
                      spec.modes)
        if budget_key not in fits:
            workload = _workload(wfile, seq_len)
            model = ThroughputPmca(arch.pmca, arch.lora.dtype)  # footprints need no timing
            for mode in spec.modes:
                prepare(arch, workload, mode, model)
            fits.add(budget_key)
    except AimcsimError as exc:
        return str(exc).replace("\n", "; ")
    return arch


@lru_cache(maxsize=32)
def _workload(path: str, seq_len: int | None) -> Workload:
    """A workload, regenerated at `seq_len` tokens when asked (cached per process)."""
    workload = load_workload(path)
    if seq_len is None or seq_len == workload.tokens:
        return workload
    generator = for_model(workload.model)
    if generator is None or not workload.config:
        models = ", ".join(g.model for g in TRACES.values())
        raise SpecError(path, [SpecIssue("model", f"{SEQ_LEN_AXIS} needs a generated trace "
                                         f"(model: one of {models}, with its config)")])
    # (as traced: with its LM head or without)
    head = any(op.role == LM_HEAD for op in workload.ops)
    return parse_workload(generator.generate(seq_len, workload.config, lm_head=head), path)
