"""The results folder of `aimcsim run`, `search` and `sweep` as one type, `RunFolder`: the
files it holds, each declared once (`FolderFile`: its name, the kinds of folder that hold it,
a table's columns), which kind of folder it is (`RunFolder.kind`), every file read back
checked, and a run's and a search's files written with the inputs they used.

A folder carries its own inputs, as the command used them: `arch.yaml`, the architecture
resolved (its `extends` chain merged, its name kept) with the technology file it names
copied beside it as `technology.yaml`, and the run settings file as `settings.yaml`. A report
embeds only those, and a figure that needs the architecture loads only that: a path read from
a results file is never opened (a folder made elsewhere, or by someone else, names files of
another machine; `summary.json` naming `/etc/passwd` must not put it in a page meant to be
mailed). A sweep folder also records its sweep file as `sweep.yaml`. The recorded files must
be regular files inside the folder (no symbolic link out of it), and the recorded
architecture may name no other file than its recorded technology.

Every table and document of a folder is read through `read_table` and `read_summary`:
bounded like every input (`aimcsim.params.files`), and checked for the columns (and their
kinds) or keys its readers use, so a malformed file is one `SpecError` naming it, the column
or key, and what was found, never a traceback.

A sweep writes its own files as its points finish and consolidates them
(`aimcsim.explore.sweep.store`, a layer below, which declares their names); the folder reads
them by those names.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from aimcsim.errors import SpecError, SpecIssue
from aimcsim.explore.search import SEARCH_COLUMNS, SearchResult
from aimcsim.explore.sweep.store import (
    LAYERS_CSV,
    LAYERS_TABLE,
    MANIFEST,
    PARTS,
    POINTS_CSV,
    POINTS_TABLE,
)
from aimcsim.params.files import (
    FLAG,
    NUMBER,
    TEXT,
    digest,
    load_json,
    read_bytes,
    read_table,
    read_text,
)
from aimcsim.params.reader import read_yaml
from aimcsim.results import (
    LAYER_KINDS,
    TIMELINE_COLUMNS,
    write_json,
    write_layers_csv,
)
from aimcsim.spec.arch import MODES, Arch, load_arch, read_arch_doc
from aimcsim.spec.overrides import set_values
from aimcsim.spec.workload import Workload

#: the kinds of results folder: which command wrote it
KINDS = ("run", "search", "sweep", "serve")

#: the kind of each column a reader of a folder's tables relies on (`read_table`)
LAYERS = LAYER_KINDS
TIMELINE = {c: NUMBER if c.endswith("_ns") else TEXT for c in TIMELINE_COLUMNS}
CRITICAL = {"mode": TEXT, "layer": TEXT, "latency_ns": NUMBER}
SEARCH = {c: TEXT if c in ("strategy", "tile_output", "rating") else
          FLAG if c in ("feasible", "pareto", "fastest", "best") else NUMBER
          for c in SEARCH_COLUMNS}
POINTS = {"point": TEXT, "index": NUMBER, "workload": TEXT, "status": TEXT, "error": TEXT}
#: columns of a sweep's points table that only some sweeps have (by their modes)
POINT_FIGURES = {f"{figure}_{mode}": NUMBER
                 for figure in ("latency_ns", "tcdm_peak_bytes", "energy_pj", "edp_pj_s")
                 for mode in (m.replace("-", "_") for m in MODES)} | dict.fromkeys(
    ("overhead", "energy_overhead", "static_overhead_min", "static_overhead_median",
     "static_overhead_max"), NUMBER)


@dataclass(frozen=True)
class FolderFile:
    """One file of a results folder: its name inside the folder, the kinds of folder that
    hold it, and for a table the kind of each column its readers rely on (`optional`: the
    columns only some folders have)."""

    name: str
    kinds: tuple[str, ...]
    columns: Mapping[str, str] | None = None
    optional: Mapping[str, str] | None = None


# ---- every file of a folder, declared once ------------------------------------------------
#: a run's layers table (a sweep's, with its points' ids, as CSV on request)
LAYERS_FILE = FolderFile(LAYERS_CSV, ("run", "sweep"), LAYERS)
SUMMARY_FILE = FolderFile("summary.json", ("run", "search", "serve"))
TIMELINE_FILE = FolderFile("timeline.parquet", ("run",), TIMELINE)
CRITICAL_FILE = FolderFile("critical_path.csv", ("run",), CRITICAL)
SEARCH_FILE = FolderFile("search.csv", ("search",), SEARCH)
POINTS_FILE = FolderFile(POINTS_TABLE, ("sweep",), POINTS, POINT_FIGURES)
POINT_LAYERS_FILE = FolderFile(LAYERS_TABLE, ("sweep",), {"point": TEXT, **LAYERS})
POINTS_CSV_FILE = FolderFile(POINTS_CSV, ("sweep",))
MANIFEST_FILE = FolderFile(MANIFEST, ("sweep",))
PARTS_FOLDER = FolderFile(PARTS, ("sweep",))
COMPARE_FILE = FolderFile("compare.csv", ("sweep",))  # `aimcsim compare`
# `aimcsim serve`: a request per row (one load), or a row per offered load and its figure
REQUESTS_FILE = FolderFile("requests.csv", ("serve",), {
    "request": NUMBER, "arrival_ns": NUMBER, "ttft_ns": NUMBER, "tpot_ns": NUMBER})
LOAD_FILE = FolderFile("load.csv", ("serve",), {
    "rate_per_s": NUMBER, **{f"{v}_ns_p{q}": NUMBER for v in ("ttft", "tpot") for q in (50, 99)}})
LOAD_FIGURE = FolderFile("load.png", ("serve",))
REPORT_FILE = FolderFile("report.html", KINDS)  # `aimcsim report`'s default page
# the inputs a folder records (see the module docstring)
ARCH_FILE = FolderFile("arch.yaml", KINDS)
TECHNOLOGY_FILE = FolderFile("technology.yaml", KINDS)
SETTINGS_FILE = FolderFile("settings.yaml", ("run",))
SWEEP_FILE = FolderFile("sweep.yaml", ("sweep",))
#: the recorded inputs by their role (the keys of `summary.json`'s `inputs`)
RECORDED = {"arch": ARCH_FILE, "technology": TECHNOLOGY_FILE, "settings": SETTINGS_FILE,
            "sweep": SWEEP_FILE}
FILES = (LAYERS_FILE, SUMMARY_FILE, TIMELINE_FILE, CRITICAL_FILE, SEARCH_FILE, POINTS_FILE,
         POINT_LAYERS_FILE, POINTS_CSV_FILE, MANIFEST_FILE, PARTS_FOLDER, COMPARE_FILE,
         REQUESTS_FILE, LOAD_FILE, LOAD_FIGURE, REPORT_FILE, *RECORDED.values())
#: the file that tells each kind of folder, in the order they are told apart (a sweep's
#: folder may hold a layers table as CSV too)
MARKS = (("sweep", POINTS_FILE), ("search", SEARCH_FILE), ("run", LAYERS_FILE),
         ("serve", REQUESTS_FILE), ("serve", LOAD_FILE))


class RunFolder:
    """A results folder at `path`: which kind it is, its files read (each table read and
    checked once, when first asked for) and a run's or a search's files written."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def folder(self) -> Path:
        """The folder's path (the name figure code has used)."""
        return self.path

    def file(self, declared: FolderFile) -> Path:
        """Where the folder holds a declared file (whether it exists or not)."""
        return self.path / declared.name

    @cached_property
    def kind(self) -> str:
        """run, search, sweep or serve: which command wrote the folder (ValueError when none
        did)."""
        for kind, mark in MARKS:
            if self.file(mark).exists():
                return kind
        marks: dict[str, list[str]] = {}
        for kind, mark in reversed(MARKS):
            marks.setdefault(kind, []).insert(0, mark.name)
        named = [f"{kind} ({' or '.join(names)})" for kind, names in
                 sorted(marks.items(), key=lambda m: KINDS.index(m[0]))]
        raise ValueError(f"{self.path} holds no results of {', '.join(named[:-1])} or "
                         f"{named[-1]}")

    # ---- reading --------------------------------------------------------------------------
    def read(self, declared: FolderFile, needs: Mapping[str, str] | None = None
             ) -> pd.DataFrame:
        """A table of the folder, checked for its declared columns and the columns `needs`
        (more that a reader relies on)."""
        return read_table(self.file(declared), {**(declared.columns or {}), **(needs or {})},
                          declared.optional)

    def _optional(self, declared: FolderFile) -> pd.DataFrame | None:
        return self.read(declared) if self.file(declared).exists() else None

    def summary(self, needs: Mapping[str, type | tuple[type, ...]]) -> dict[str, Any]:
        """`summary.json`, checked to hold at every dotted key of `needs` a value of its type
        (`read_summary`)."""
        return read_summary(self.path, needs)

    @cached_property
    def layers(self) -> pd.DataFrame:
        """A run's layers table; a sweep's of every point (column `point`)."""
        return self.read(POINT_LAYERS_FILE if self.kind == "sweep" else LAYERS_FILE)

    def point_layers(self, point: str | None) -> pd.DataFrame:
        """A run's layers, or one sweep point's (the first when `point` is None)."""
        layers = self.layers
        if self.kind != "sweep":
            return layers
        point = point or layers["point"].iloc[0]
        chosen = layers[layers["point"] == point]
        if chosen.empty:
            raise ValueError(f"no point {point!r} in {self.path}")
        return chosen

    @cached_property
    def timeline(self) -> pd.DataFrame | None:
        return self._optional(TIMELINE_FILE) if self.kind == "run" else None

    @cached_property
    def critical(self) -> pd.DataFrame | None:
        return self._optional(CRITICAL_FILE) if self.kind == "run" else None

    @cached_property
    def points(self) -> pd.DataFrame:
        return self.read(POINTS_FILE)

    @cached_property
    def has_layers(self) -> bool:
        """Whether the folder has layers rows: a run's always, a sweep's unless its points
        are of another kind (a `serve` section: a row each, no layers)."""
        inputs = self.manifest.get("inputs")  # (empty but in a sweep's folder)
        return not (isinstance(inputs, dict) and any(
            k not in ("arch", "workloads", "modes") for k in inputs))

    @cached_property
    def search(self) -> pd.DataFrame:
        return self.read(SEARCH_FILE)

    @cached_property
    def manifest(self) -> dict[str, Any]:
        """A sweep's manifest as far as it is a JSON object (empty when it is missing or
        not one); `aimcsim.explore.sweep.store.read_manifest` checks one to resume."""
        path = self.file(MANIFEST_FILE)
        doc = load_json(path) if path.exists() else {}
        return doc if isinstance(doc, dict) else {}

    @cached_property
    def modes(self) -> tuple[str, ...]:
        """A run's modes, in the order it ran them."""
        if self.kind != "run":
            return ()
        return tuple(self.summary({"modes.*.total_latency_ns": (int, float)})["modes"])

    # ---- the recorded inputs --------------------------------------------------------------
    def recorded_file(self, declared: FolderFile) -> Path | None:
        """A recorded input (None when the folder has none), checked to be a regular file
        inside the folder (`recorded_file`)."""
        return recorded_file(self.path, declared.name)

    def recorded_text(self, declared: FolderFile) -> str | None:
        """The text of a recorded input, or None."""
        path = self.recorded_file(declared)
        return None if path is None else read_text(path, "yaml")

    @cached_property
    def arch(self) -> Arch:
        """The architecture the folder recorded (never a path a results file names)."""
        return recorded_arch(self.path)

    @cached_property
    def has_arch(self) -> bool:
        return self.recorded_file(ARCH_FILE) is not None

    def record_inputs(self, arch: Arch, arch_file: str | Path,
                      settings_file: str | Path | None = None,
                      sets: Sequence[tuple[str, Any]] = ()) -> dict[str, str]:
        """Write the inputs a command used into the folder (see the module docstring), the
        values `--set` changed (`sets`) in the architecture; returns what was recorded, by
        role, as names inside it (for `summary.json`)."""
        doc, _ = read_arch_doc(arch_file)
        set_values(doc, sets)
        doc = {"version": doc.get("version", 1), "name": arch.name,
               **{k: v for k, v in doc.items() if k not in ("version", "name", "technology")}}
        recorded = {"arch": ARCH_FILE.name}
        if arch.technology is not None:
            self.file(TECHNOLOGY_FILE).write_text(read_text(arch.technology.file, "yaml"),
                                                  encoding="utf-8")
            doc["technology"] = recorded["technology"] = TECHNOLOGY_FILE.name
        changed = (f" with --set {', '.join(path for path, _ in sets)}" if sets else "")
        header = (f"# {arch_file} as aimcsim resolved it (extends merged){changed}; the "
                  f"technology file it names is copied beside it\n")
        self.file(ARCH_FILE).write_text(header + yaml.safe_dump(doc, sort_keys=False,
                                                                width=100), encoding="utf-8")
        if settings_file is not None:
            self.file(SETTINGS_FILE).write_text(read_text(settings_file, "yaml"),
                                                encoding="utf-8")
            recorded["settings"] = SETTINGS_FILE.name
        return recorded

    def record_sweep(self, spec_file: str | Path, arch: Arch,
                     sets: Sequence[tuple[str, Any]] = ()) -> None:
        """Write a sweep's inputs into its folder: the sweep file as given, and its base
        architecture as `record_inputs` records one (with the values `--set` changed)."""
        self.file(SWEEP_FILE).write_text(read_text(spec_file, "yaml"), encoding="utf-8")
        self.record_inputs(arch, arch.source, sets=sets)

    # ---- writing --------------------------------------------------------------------------
    def write_run(self, results: Mapping[str, Any], summary: dict[str, Any], *, arch: Arch,
                  arch_file: Any, settings_file: Any, workload: Workload,
                  sets: Sequence[tuple[str, Any]] = ()) -> list[str]:
        """Write a run's folder: its recorded inputs, the layers table, `summary.json` (with
        the inputs as used), the timeline and the critical path; the recorded inputs' names."""
        self.path.mkdir(parents=True, exist_ok=True)
        recorded = self.record_inputs(arch, arch_file, settings_file, sets)
        summary["inputs"] = {**recorded, "workload": workload_record(workload)}
        write_layers_csv(pd.concat([r.layers for r in results.values()], ignore_index=True),
                         self.file(LAYERS_FILE))
        write_json(summary, self.file(SUMMARY_FILE))
        run_timeline(results).to_parquet(self.file(TIMELINE_FILE), index=False)
        pd.concat([r.critical for r in results.values()], ignore_index=True).to_csv(
            self.file(CRITICAL_FILE), index=False)
        return list(recorded.values())

    def write_search(self, result: SearchResult, *, arch: Arch, arch_file: str | Path,
                     workload: Workload, workload_file: str | Path, command: list[str],
                     objective: str, sets: Sequence[tuple[str, Any]] = ()) -> None:
        """Write a search's folder: the search table, its recorded inputs and `summary.json`
        (the inputs' names, the command that reproduces it, the objective as said, the best
        settings and the whole network at them)."""
        self.path.mkdir(parents=True, exist_ok=True)
        result.points.to_csv(self.file(SEARCH_FILE), index=False)
        recorded = self.record_inputs(arch, arch_file, sets=sets)
        write_json({"arch": str(arch_file), "workload": str(workload_file), "command": command,
                    "objective": objective, "best": result.best.to_dict(orient="records"),
                    "network": result.network,
                    "inputs": {**recorded, "workload": workload_record(workload)}},
                   self.file(SUMMARY_FILE))

    def write_table(self, declared: FolderFile, table: pd.DataFrame) -> Path:
        """Write a table the folder holds beside its results (such as `compare`'s) as CSV."""
        path = self.file(declared)
        table.to_csv(path, index=False)
        return path


def folder_kind(folder: str | Path) -> str:
    """run, search, sweep or serve: which command wrote `folder` (`RunFolder.kind`)."""
    return RunFolder(folder).kind


def recorded_file(folder: Path, name: str) -> Path | None:
    """The recorded input `name` of `folder` (None when the folder has none), checked to be a
    regular file inside it; a symbolic link or anything else is refused."""
    path = folder / name
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SpecError(str(path), [SpecIssue("", f"cannot read file: {exc.strerror}")]
                        ) from None
    if not stat.S_ISREG(info.st_mode):
        raise SpecError(str(path), [SpecIssue("", "a recorded input must be a regular file "
                                                  "inside the results folder (it is a "
                                                  "symbolic link or a special file)")])
    return path


def recorded_arch(folder: Path) -> Arch:
    """The architecture a folder recorded (`arch.yaml`), loaded from the folder alone: it may
    extend nothing and name no technology but the recorded one."""
    path = recorded_file(folder, ARCH_FILE.name)
    if path is None:
        raise SpecError(str(folder / ARCH_FILE.name), [SpecIssue("", "the folder records no "
                                                           "architecture (written by an "
                                                           "earlier aimcsim?): run the "
                                                           "command again")])
    doc = read_yaml(path)
    if isinstance(doc, Mapping):
        if "extends" in doc:
            raise SpecError(str(path), [SpecIssue("extends", "a recorded architecture is "
                                                             "resolved: it extends nothing")])
        technology = TECHNOLOGY_FILE.name
        if doc.get("technology", technology) != technology:
            raise SpecError(str(path), [SpecIssue("technology", "a recorded architecture "
                                                  f"names its recorded {technology} only")])
        if "technology" in doc and recorded_file(folder, technology) is None:
            raise SpecError(str(path), [SpecIssue("technology", f"{technology} is missing")])
    return load_arch(path)


def workload_record(workload: Workload) -> dict[str, Any]:
    """What `summary.json` records of the workload (a trace is not copied: its name, tokens
    and the SHA-256 of its file identify it; a trace made from a model for the run, of no
    file, by the SHA-256 of the model's configuration, tokens and context)."""
    if workload.config and not Path(workload.source).is_file():  # (traced for the run)
        made = json.dumps({"config": workload.config, "tokens": workload.tokens,
                           "context": workload.context}, sort_keys=True, default=str)
        return {"name": workload.name, "file": None, "model": workload.model,
                "tokens": workload.tokens, "digest": digest(made)}
    return {"name": workload.name, "file": workload.source, "tokens": workload.tokens,
            "digest": digest(read_bytes(workload.source, "yaml"))}


def read_summary(folder: Path, needs: Mapping[str, type | tuple[type, ...]]) -> dict[str, Any]:
    """A folder's `summary.json`, checked to hold at every dotted key of `needs` a value of
    its type (`modes.*.x`: x in every entry of `modes`)."""
    path = folder / SUMMARY_FILE.name
    doc = load_json(path)
    issues = []
    if not isinstance(doc, dict):
        issues.append(SpecIssue("", f"expected a JSON object, got a {type(doc).__name__}"))
    else:
        found = dict.fromkeys(p for key, kind in needs.items() for p in _check(doc, key, kind))
        issues += [SpecIssue(where, message) for where, message in found]
    if issues:
        raise SpecError(str(path), issues[:8])
    return doc


def _check(doc: Any, key: str, kind: type | tuple[type, ...], at: str = ""
           ) -> list[tuple[str, str]]:
    head, _, rest = key.partition(".")
    if head == "*":
        if not isinstance(doc, dict) or not doc:
            return [(at, "expected a non-empty mapping")]
        return [p for name, value in doc.items()
                for p in _check(value, rest, kind, f"{at}.{name}")]
    where = f"{at}.{head}" if at else head
    if not isinstance(doc, dict) or head not in doc:
        return [(where, "missing")]
    if rest:
        return _check(doc[head], rest, kind, where)
    value = doc[head]
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _types(kind)):
        names = " or ".join(t.__name__ for t in _types(kind))
        return [(where, f"expected {names}, got {type(value).__name__}")]
    return []


def _types(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def run_timeline(results: Mapping[str, Any]) -> Any:
    """Every mode's timeline, one table (column `mode`)."""
    return pd.concat([r.timeline.assign(mode=m) for m, r in results.items()],
                     ignore_index=True)


__all__ = ["ARCH_FILE", "COMPARE_FILE", "CRITICAL", "CRITICAL_FILE", "FILES", "FLAG", "KINDS",
           "LAYERS", "LAYERS_FILE", "LOAD_FIGURE", "LOAD_FILE", "MANIFEST_FILE", "MARKS",
           "NUMBER", "PARTS_FOLDER", "POINTS", "POINTS_CSV_FILE", "POINTS_FILE", "POINT_FIGURES",
           "POINT_LAYERS_FILE", "RECORDED", "REPORT_FILE", "REQUESTS_FILE", "SEARCH",
           "SEARCH_FILE", "SETTINGS_FILE", "SUMMARY_FILE", "SWEEP_FILE", "TECHNOLOGY_FILE",
           "TEXT", "TIMELINE", "TIMELINE_FILE", "FolderFile", "RunFolder", "folder_kind",
           "read_summary", "read_table", "recorded_arch", "recorded_file", "run_timeline",
           "workload_record"]
