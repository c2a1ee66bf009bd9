"""The results folder of `aimcsim run`, `search` and `sweep`: the inputs it records, and every
file of it read back checked.

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
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from aimcsim.errors import SpecError, SpecIssue
from aimcsim.explore.search import SEARCH_COLUMNS
from aimcsim.gpu import reference
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
    overhead,
    overhead_stats,
    write_json,
    write_layers_csv,
)
from aimcsim.spec.arch import MODES, Arch, load_arch, read_arch_doc
from aimcsim.spec.workload import Workload

ARCH, TECHNOLOGY, SETTINGS, SWEEP = ("arch.yaml", "technology.yaml", "settings.yaml",
                                     "sweep.yaml")

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


def record_inputs(out: Path, arch: Arch, arch_file: str | Path,
                  settings_file: str | Path | None = None) -> dict[str, str]:
    """Write the inputs a command used into `out` (see the module docstring); returns what
    was recorded, by role, as names inside `out` (for `summary.json`)."""
    doc, _ = read_arch_doc(arch_file)
    doc = {"version": doc.get("version", 1), "name": arch.name,
           **{k: v for k, v in doc.items() if k not in ("version", "name", "technology")}}
    recorded = {"arch": ARCH}
    if arch.technology is not None:
        (out / TECHNOLOGY).write_text(read_text(arch.technology.file, "yaml"), encoding="utf-8")
        doc["technology"] = TECHNOLOGY
        recorded["technology"] = TECHNOLOGY
    header = (f"# {arch_file} as aimcsim resolved it (extends merged); the technology file "
              f"it names is copied beside it\n")
    (out / ARCH).write_text(header + yaml.safe_dump(doc, sort_keys=False, width=100),
                            encoding="utf-8")
    if settings_file is not None:
        (out / SETTINGS).write_text(read_text(settings_file, "yaml"), encoding="utf-8")
        recorded["settings"] = SETTINGS
    return recorded


def record_sweep(out: Path, spec_file: str | Path, arch: Arch) -> None:
    """Write a sweep's inputs into its folder: the sweep file as given, and its base
    architecture as `record_inputs` records one."""
    (out / SWEEP).write_text(read_text(spec_file, "yaml"), encoding="utf-8")
    record_inputs(out, arch, arch.source)


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


def recorded_text(folder: Path, name: str) -> str | None:
    """The text of a recorded input (see `recorded_file`), or None."""
    path = recorded_file(folder, name)
    return None if path is None else read_text(path, "yaml")


def recorded_arch(folder: Path) -> Arch:
    """The architecture a folder recorded (`arch.yaml`), loaded from the folder alone: it may
    extend nothing and name no technology but the recorded one."""
    path = recorded_file(folder, ARCH)
    if path is None:
        raise SpecError(str(folder / ARCH), [SpecIssue("", "the folder records no "
                                                           "architecture (written by an "
                                                           "earlier aimcsim?): run the "
                                                           "command again")])
    doc = read_yaml(path)
    if isinstance(doc, Mapping):
        if "extends" in doc:
            raise SpecError(str(path), [SpecIssue("extends", "a recorded architecture is "
                                                             "resolved: it extends nothing")])
        if doc.get("technology", TECHNOLOGY) != TECHNOLOGY:
            raise SpecError(str(path), [SpecIssue("technology", "a recorded architecture "
                                                  f"names its recorded {TECHNOLOGY} only")])
        if "technology" in doc and recorded_file(folder, TECHNOLOGY) is None:
            raise SpecError(str(path), [SpecIssue("technology", f"{TECHNOLOGY} is missing")])
    return load_arch(path)


def workload_record(workload: Workload) -> dict[str, Any]:
    """What `summary.json` records of the workload (a trace is not copied: its name, tokens
    and the SHA-256 of its file identify it)."""
    return {"name": workload.name, "file": workload.source, "tokens": workload.tokens,
            "digest": digest(read_bytes(workload.source, "yaml"))}


def read_summary(folder: Path, needs: Mapping[str, type | tuple[type, ...]]) -> dict[str, Any]:
    """A folder's `summary.json`, checked to hold at every dotted key of `needs` a value of
    its type (`modes.*.x`: x in every entry of `modes`)."""
    path = folder / "summary.json"
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


__all__ = ["ARCH", "CRITICAL", "FLAG", "LAYERS", "NUMBER", "POINTS", "POINT_FIGURES",
           "SEARCH", "SETTINGS", "SWEEP", "TECHNOLOGY", "TEXT", "TIMELINE", "read_summary",
           "read_table", "record_inputs", "record_sweep", "recorded_arch", "recorded_file",
           "recorded_text", "workload_record"]


def run_summary(results: Mapping[str, Any], *, arch_file: Any, workload_file: Any,
                settings_file: Any = None, gpu: Any = None, workload: Any = None,
                lora: Any = None) -> dict[str, Any]:
    """`summary.json` of a run in one or both modes (`results` by mode, AIMC-only first):
    the inputs' names, each mode's summary, with both modes the static layers' overhead and
    the network's, with a GPU its estimate per mode (`aimcsim.gpu.reference`)."""
    summary: dict[str, Any] = {
        "arch": str(arch_file), "workload": str(workload_file),
        **({"settings": str(settings_file)} if settings_file else {}),
        "modes": {m: r.summary for m, r in results.items()}}
    if len(results) == 2:
        layers = pd.concat([r.layers for r in results.values()], ignore_index=True)
        stats = overhead_stats(layers)
        summary["static_overhead"] = {
            "layers": int((results["hybrid"].layers["kind"] == "static_linear").sum()),
            **{key.removeprefix("static_overhead_"): value for key, value in stats.items()}}
        summary["total_overhead"] = overhead(results["hybrid"].summary["total_latency_ns"],
                                             results["aimc-only"].summary["total_latency_ns"])
    if gpu is not None:
        for m in results:
            ref = reference(gpu, workload, lora, m)
            summary["modes"][m]["gpu_estimate"] = {k: v for k, v in ref.items() if k != "ops"}
    return summary


def write_run(out: Path, results: Mapping[str, Any], summary: dict[str, Any], *, arch: Arch,
              arch_file: Any, settings_file: Any, workload: Workload) -> list[str]:
    """Write a run's folder: its recorded inputs, `layers.csv`, `summary.json` (with the
    inputs as used), `timeline.parquet` and `critical_path.csv`; the recorded inputs' names."""
    out.mkdir(parents=True, exist_ok=True)
    recorded = record_inputs(out, arch, arch_file, settings_file)
    summary["inputs"] = {**recorded, "workload": workload_record(workload)}
    write_layers_csv(pd.concat([r.layers for r in results.values()], ignore_index=True),
                     out / "layers.csv")
    write_json(summary, out / "summary.json")
    run_timeline(results).to_parquet(out / "timeline.parquet", index=False)
    pd.concat([r.critical for r in results.values()], ignore_index=True).to_csv(
        out / "critical_path.csv", index=False)
    return list(recorded.values())


def run_timeline(results: Mapping[str, Any]) -> Any:
    """Every mode's timeline, one table (column `mode`)."""
    return pd.concat([r.timeline.assign(mode=m) for m, r in results.items()],
                     ignore_index=True)
