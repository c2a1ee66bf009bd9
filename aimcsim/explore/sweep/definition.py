"""The sweep file: its schema, axes, sampling and constraints (`load_sweep`)."""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aimcsim.errors import SpecError
from aimcsim.explore.axes import SEQ_LEN_AXIS, Axis, axis_field, read_axis
from aimcsim.params.files import digest, read_bytes
from aimcsim.params.reader import Reader, get_path, join, read_yaml, relative_file, shown
from aimcsim.params.registry import SWEEP_KINDS
from aimcsim.spec.arch import MODES, Arch, parse_with_origin, read_arch_doc
from aimcsim.spec.overrides import set_values
from aimcsim.spec.schema import arch_field, arch_value
from aimcsim.spec.workload import load_workload
from aimcsim.traces import TRACES, for_model

SUPPORTED_VERSIONS = (1,)
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
    ">": operator.gt, "<": operator.lt,
}
_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(>=|<=|==|!=|>|<)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Constraint:
    path: str
    op: str
    value: float | str | bool

    def holds(self, arch: Arch) -> bool:
        """Whether the validated `arch` (defaults filled in) meets it; False where the path
        lies in an optional section the point does not have."""
        found = arch_value(arch, self.path)
        return found is not None and _OPS[self.op](found, self.value)

    def __str__(self) -> str:
        value = self.value  # (numbers are compared as floats: shown as the file wrote them)
        shown_value = f"{value:g}" if isinstance(value, float) and value.is_integer() else value
        return f"{self.path} {self.op} {shown_value}"


@dataclass(frozen=True)
class SweepSpec:
    name: str
    file: str
    arch_file: str
    arch_doc: dict[str, Any] = field(hash=False, compare=False)
    workloads: tuple[str, ...] = ()
    modes: tuple[str, ...] = MODES
    axes: tuple[Axis, ...] = ()
    samples: int | None = None  # None: the whole grid
    seed: int = 0
    constraints: tuple[Constraint, ...] = ()
    max_points: int = 100_000  # points (x workloads) a sweep may have unless raised
    #: content digests of the base architecture (as resolved: extends merged, the technology
    #: file's content in place of its path) and of each workload file, in order
    arch_digest: str = ""
    workload_digests: tuple[str, ...] = ()
    #: a section naming another kind of point (`SWEEP_KINDS`: `serve`), its options as read
    #: (its axes are `<kind>.<option>`); empty: points are runs of the workloads
    kind: str = ""
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def grid_size(self) -> int:
        """Points of the axes' grid per workload, counted without building it."""
        return math.prod(len(values) for _, values in self.axes)

    @property
    def size(self) -> int:
        """Points the sweep will build: the grid or its sample, for every workload."""
        per = self.grid_size if self.samples is None else min(self.samples, self.grid_size)
        return per * len(self.workloads)


@dataclass(frozen=True)
class Point:
    """One design point, validated, ready to run anywhere (picklable)."""

    id: str
    index: int
    workload_file: str
    params: tuple[tuple[str, Any], ...]
    arch: Arch
    modes: tuple[str, ...]
    seq_len: int | None
    kind: str = ""  # (`SweepSpec.kind`: its point runs there, with `options`)
    options: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Invalid:
    index: int
    workload_file: str
    params: tuple[tuple[str, Any], ...]
    reason: str


#: the keys of a sweep file: (type, bounds, default, meaning); the reference page is made
#: from this table and `load_sweep` reads these keys alone
SWEEP_KEYS: dict[str, tuple[str, str, str, str]] = {
    "version": ("integer", "1", "required", "version of the sweep file format"),
    "name": ("string", "", "the file's stem", "the sweep's name (folder and report titles)"),
    "arch": ("string", "", "required", "the base architecture file, relative to this one; "
             "each point changes it by the axes' values"),
    "workloads": ("list of strings", "at least one", "required (but with serve)", "workload "
                  "traces, relative to this file; every point runs on each (no trace twice)"),
    "serve": ("mapping", "its keys: the serving reference", "none", "each point serves a "
              "request stream (aimcsim serve) instead of running workloads; its options "
              "(serve.rate, serve.adapters, serve.cache, serve.branch, ...) can be axes"),
    "modes": ("list of aimc-only, hybrid", "at least one", "both", "the modes each point runs in"),
    "axes": ("mapping of dotted path to list", "", "required", "the architecture values to "
             "vary (a dotted path of an architecture field, such as aimc.integration_time_ns, "
             "or workload.seq_len), each value checked against that field's declaration"),
    "sampling": ("grid or {random: {samples, seed}}", "samples 1 to 1e9, seed 0 to 2^63-1",
                 "grid", "the whole grid, or `samples` points drawn from it without "
                 "replacement by `seed`"),
    "constraints": ("list of 'path OP value'", "OP one of >=, <=, ==, !=, >, <", "none",
                    "a point that fails a constraint is not run"),
    "max_points": ("integer", "1 to 1e9", "100000", "a sweep of more points is refused "
                   "before it runs"),
}
_TOP = tuple(SWEEP_KEYS)


def identity(doc: dict[str, Any], technologies: dict[str, str]) -> str:
    """A digest of everything an architecture document decides (resolved: `extends` merged;
    the technology file's content in place of its path). `technologies` memoises the
    technology files' digests by path."""
    doc = dict(doc)
    tech = doc.get("technology")
    if isinstance(tech, str):
        if tech not in technologies:
            try:
                technologies[tech] = digest(read_bytes(tech, "yaml"))
            except SpecError:  # (the architecture's own check names the problem)
                technologies[tech] = "unreadable"
        doc["technology"] = {"content": technologies[tech]}
    return digest(json.dumps(doc, sort_keys=True, default=str))


def load_sweep(path: str | Path, sets: Sequence[tuple[str, Any]] = ()) -> SweepSpec:
    """Load and validate a sweep file; every error names the file and its YAML path. `sets`
    (`aimcsim.spec.overrides.parse_sets`: `--set`) change the base architecture's values
    before the axes do (errors on them name `--set`)."""
    path = Path(path)
    r = Reader(path)
    doc = read_yaml(path)
    kinds = SWEEP_KINDS.names()
    kind = next((k for k in kinds if isinstance(doc, dict) and k in doc), "")
    d = r.mapping(doc, "", (*_TOP, *kinds),
                  required=("version", "arch", "axes", *(() if kind else ("workloads",))))
    if kind and "workloads" in d:
        r.error("workloads", f"a sweep with a {kind} section runs its own model: give no "
                "workloads")
    if "version" in d:
        r.version(d, SUPPORTED_VERSIONS)
    name = r.take(d, "", "name", str, default=path.stem)
    arch_rel = r.take(d, "", "arch", str)
    arch_file = ""
    arch_doc: dict[str, Any] = {}
    if arch_rel:
        try:
            arch_file = str(relative_file(path, arch_rel))
            arch_doc, origin = read_arch_doc(arch_file)
            set_values(arch_doc, sets, origin)
            parse_with_origin(arch_doc, origin, arch_file)
        except (SpecError, ValueError) as exc:
            r.error("arch", f"the base architecture is not valid: {exc}")
    workloads, digests = _workloads(r, d, path)
    if isinstance(d.get("workloads"), list) and not d["workloads"]:
        r.error("workloads", "needs at least one workload trace")
    raw_modes = r.sequence(d.get("modes", list(MODES)), "modes")
    if isinstance(d.get("modes"), list) and not raw_modes:
        r.error("modes", f"needs at least one of {', '.join(MODES)}")
    modes = tuple(r.take({i: m}, "modes", i, str, choices=MODES)
                  for i, m in enumerate(raw_modes))
    max_points = r.take(d, "", "max_points", int, default=100_000, minimum=1, maximum=10**9)
    options: tuple[tuple[str, Any], ...] = ()
    if kind:
        options = SWEEP_KINDS.get(kind).read(r, d[kind], path)
        workloads, digests = [SWEEP_KINDS.get(kind).workload(dict(options))], [
            digest(json.dumps(options, default=str))]
        if "modes" in d:
            r.error("modes", f"a {kind} sweep runs in hybrid mode: give no modes")
        modes = ("hybrid",)
    axes = _axes(r, d.get("axes", {}), arch_doc, max_points, kind)
    samples, seed = _sampling(r, d.get("sampling", "grid"))
    constraints = _constraints(r, d.get("constraints", []))
    r.finish()
    spec = SweepSpec(name, str(path), arch_file, arch_doc, tuple(workloads), modes, axes,
                     samples, seed, constraints, max_points, identity(arch_doc, {}),
                     tuple(digests), kind, options)
    if spec.size > spec.max_points:
        r.error("axes", f"{spec.size} points ({spec.grid_size} per workload"
                f"{'' if samples is None else f', {samples} sampled'} x {len(workloads)} "
                f"workload(s)) is above max_points = {max_points}: sample the grid "
                "(sampling: {random: ...}) or raise max_points")
        r.finish()
    return spec


def _workloads(r: Reader, d: dict[str, Any], path: Path) -> tuple[list[str], list[str]]:
    """The sweep's workload files (relative to it, resolved) and their content digests, each
    read and checked (a trace twice, or one the sequence-length axis cannot regenerate, is
    an issue on `r`)."""
    workloads: list[str] = []
    digests: list[str] = []
    seen: dict[str, int] = {}
    seq_len_swept = isinstance(d.get("axes"), dict) and SEQ_LEN_AXIS in d["axes"]
    for i, item in enumerate(r.sequence(d.get("workloads", []), "workloads")):
        at = join("workloads", i)
        if not isinstance(item, str):
            r.error(at, f"expected a path to a workload YAML, got {shown(item)}")
            continue
        try:
            wpath = relative_file(path, item)
            content = read_bytes(wpath, "yaml")
            workload = load_workload(wpath) if seq_len_swept else None
        except ValueError as exc:
            r.error(at, str(exc))
            continue
        except SpecError as exc:
            r.error(at, "; ".join(str(issue) for issue in exc.issues) if exc.file == str(wpath)
                    else str(exc))
            continue
        key = digest(content)
        if key in seen:
            r.error(at, f"the same trace as workloads[{seen[key]}] (identical content): every "
                    "point would run twice")
            continue
        seen[key] = i
        if workload is not None and (for_model(workload.model) is None or not workload.config):
            models = ", ".join(g.model for g in TRACES.values())
            r.error(join("axes", SEQ_LEN_AXIS), f"{wpath} is not a generated trace (its model "
                    f"{shown(workload.model)} with its config; one of {models}): "
                    f"{SEQ_LEN_AXIS} cannot regenerate it at another length")
        workloads.append(str(wpath))
        digests.append(key)
    return workloads, digests


def _axes(r: Reader, raw: Any, arch_doc: dict[str, Any], max_points: int, kind: str = ""
          ) -> tuple[Axis, ...]:
    """Each axis's values, checked against the declaration of the value it sets (type,
    bounds, choices) and against the base architecture (the section it sets must be there);
    `<kind>.<option>` axes by the kind of point (`SWEEP_KINDS`)."""
    if not isinstance(raw, dict) or not raw:
        r.error("axes", "expected a mapping of YAML dot-paths to value lists or ranges")
        return ()
    axes = []
    for key, spec in raw.items():
        p = join("axes", str(key))
        values = _values(r, spec, p, max_points)
        if kind and str(key).startswith(f"{kind}."):
            axis = SWEEP_KINDS.get(kind).axis(r, p, str(key), values)
            if axis is not None:
                axes.append(axis)
            continue
        try:
            field = axis_field(str(key))
        except ValueError as exc:
            r.error(p, f"{exc} (or {SEQ_LEN_AXIS})")
            continue
        if field is not None:
            section = str(key).rsplit(".", 1)[0]
            missing = [k for k in field.section_required if f"{section}.{k}" not in raw]
            if get_path(arch_doc, section) is None and missing:
                r.error(p, f"the architecture has no {section} section, and the axes do not "
                        f"give its {', '.join(missing)}: add the section to the "
                        "architecture (an axis changes one value)")
                continue
        axis = read_axis(r, p, str(key), values, twice="every grid point would run twice",
                         as_given=True)
        if axis is not None:
            axes.append(axis)
    return tuple(axes)


def _values(r: Reader, spec: Any, p: str, max_points: int) -> tuple[Any, ...]:
    if isinstance(spec, list):
        if not spec:
            r.error(p, "an axis needs at least one value")
        return tuple(spec)
    if isinstance(spec, dict) and len(spec) >= 1 and set(spec) <= {"linear", "log", "round"}:
        kind = "linear" if "linear" in spec else "log" if "log" in spec else None
        if kind is None:
            r.error(p, "a range needs linear: [start, stop, count] or log: [start, stop, count]")
            return ()
        args, at = spec[kind], join(p, kind)
        if not isinstance(args, list) or len(args) != 3:
            r.error(at, f"expected [start, stop, count], got {shown(args)}")
            return ()
        start = r.take({0: args[0]}, at, 0, float)  # type: ignore[dict-item]
        stop = r.take({1: args[1]}, at, 1, float)  # type: ignore[dict-item]
        num = r.take({2: args[2]}, at, 2, int, minimum=1, maximum=max_points)  # type: ignore
        if kind == "log" and not (start > 0 and stop > 0):
            r.error(at, "a log range needs start and stop above 0")
        rounding = r.take(spec, p, "round", bool, default=False)
        if any(i.path.startswith(at) or i.path == join(p, "round") for i in r.issues):
            return ()
        grid = (np.linspace(start, stop, num) if kind == "linear"
                else np.geomspace(start, stop, num))
        if rounding:
            return tuple(dict.fromkeys(round(float(v)) for v in grid))
        return tuple(float(v) for v in grid)
    r.error(p, "expected a list of values, or {linear: [start, stop, count]} or "
            "{log: [start, stop, count]} (optionally with round: true)")
    return ()


def _sampling(r: Reader, raw: Any) -> tuple[int | None, int]:
    if raw == "grid":
        return None, 0
    if not isinstance(raw, dict):
        r.error("sampling", f"expected grid or {{random: {{samples: N, seed: S}}}}, got "
                f"{shown(raw)}")
        return None, 0
    d = r.mapping(raw, "sampling", ("random",), required=("random",))
    rnd = r.mapping(d.get("random", {}), "sampling.random", ("samples", "seed"),
                    required=("samples", "seed"))
    return (r.take(rnd, "sampling.random", "samples", int, minimum=1, maximum=10**9),
            r.take(rnd, "sampling.random", "seed", int, minimum=0, maximum=2**63 - 1))


def _constraints(r: Reader, raw: Any) -> tuple[Constraint, ...]:
    """Each constraint, its path and value checked against the declaration of the value it
    compares (a number for numbers; one of the choices, with == or !=, for choices)."""
    out = []
    for i, text in enumerate(r.sequence(raw, "constraints")):
        at = join("constraints", i)
        m = _CONSTRAINT.match(text) if isinstance(text, str) else None
        if not m:
            r.error(at, f"expected 'dot.path OP value' with OP one of {', '.join(_OPS)}, got "
                    f"{shown(text)}")
            continue
        path, op, raw_value = m.groups()
        try:
            field = arch_field(path)
        except ValueError as exc:
            r.error(at, str(exc))
            continue
        value: float | str | bool
        if field.kind in (int, float):
            try:
                value = float(raw_value)
            except ValueError:
                r.error(at, f"{path} is a number; {shown(raw_value)} is not one (write it out, "
                        "e.g. 65536)")
                continue
        elif field.kind in (str, bool) and op in ("==", "!="):
            value = raw_value if field.kind is str else raw_value.lower() == "true"
            allowed = field.choices or ((True, False) if field.kind is bool else None)
            if field.kind is bool and raw_value.lower() not in ("true", "false"):
                r.error(at, f"{path} is true or false, got {shown(raw_value)}")
                continue
            if allowed is not None and value not in allowed:
                r.error(at, f"{shown(raw_value)} is not a value of {path}; allowed values: "
                        f"{', '.join(map(str, allowed))}")
                continue
        else:
            what = "a list" if field.kind is None else (
                "a choice" if field.kind is str else "true or false")
            r.error(at, f"{path} is {what}: compare it with == or != only"
                    if field.kind is not None else f"{path} is {what}: it cannot be compared")
            continue
        out.append(Constraint(path, op, value))
    return tuple(out)
