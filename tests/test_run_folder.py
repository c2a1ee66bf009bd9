"""The results folder is one type (`aimcsim.outputs.run_folder.RunFolder`): it tells a folder's
kind, writes a run's and a search's files and reads them back, and it alone names the files
(the sweep's own are named once by `aimcsim.explore.sweep.store`, below it)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import arch_doc, linear_workload

from aimcsim import load_arch, load_workload, simulate
from aimcsim.explore.search import search
from aimcsim.explore.space import load_space
from aimcsim.outputs.figures import Results, folder_kind
from aimcsim.outputs.run_folder import (
    ARCH_FILE,
    CRITICAL_FILE,
    FILES,
    KINDS,
    LAYERS_FILE,
    LOAD_FIGURE,
    LOAD_FILE,
    MARKS,
    POINT_LAYERS_FILE,
    POINTS_CSV_FILE,
    POINTS_FILE,
    REQUESTS_FILE,
    SEARCH_FILE,
    SUMMARY_FILE,
    TECHNOLOGY_FILE,
    TIMELINE_FILE,
    RunFolder,
)
from aimcsim.outputs.run_summary import run_summary

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "aimcsim"
#: where a results file's name may be spelled: the type, and the sweep's store below it
HOMES = {PACKAGE / "outputs" / "run_folder.py", PACKAGE / "explore" / "sweep" / "store.py"}


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    """An architecture with a technology file, a one-layer workload and a small space."""
    paths = {k: tmp_path / n for k, n in (("arch", "a.yaml"), ("tech", "t.yaml"),
                                          ("work", "w.yaml"), ("space", "sp.yaml"))}
    paths["arch"].write_text(yaml.safe_dump({**arch_doc(), "technology": "t.yaml"}))
    paths["tech"].write_text((ROOT / "tech" / "pcm14.yaml").read_text())
    paths["work"].write_text(yaml.safe_dump(linear_workload(16, 64, 64)))
    paths["space"].write_text(yaml.safe_dump({"version": 1, "parallel_tokens": [4, 8],
                                              "integration_time_ns": [256]}))
    return paths


# ---- which kind a folder is ---------------------------------------------------------------


def _touched(folder: Path, *files) -> Path:
    folder.mkdir()
    for declared in files:
        (folder / declared.name).write_text("")
    return folder


@pytest.mark.parametrize(("files", "kind"), [
    ((LAYERS_FILE, SUMMARY_FILE, TIMELINE_FILE), "run"),
    ((SEARCH_FILE, SUMMARY_FILE), "search"),
    ((POINTS_FILE, POINT_LAYERS_FILE), "sweep"),
    # a sweep written with --csv holds a layers table as CSV too: still a sweep
    ((POINTS_FILE, POINT_LAYERS_FILE, POINTS_CSV_FILE, LAYERS_FILE), "sweep"),
    ((SEARCH_FILE, LAYERS_FILE), "search"),
    ((REQUESTS_FILE, SUMMARY_FILE), "serve"),
    ((LOAD_FILE, LOAD_FIGURE, SUMMARY_FILE), "serve"),
])
def test_a_folder_says_which_kind_it_is(tmp_path, files, kind):
    folder = _touched(tmp_path / "f", *files)
    assert RunFolder(folder).kind == kind
    assert folder_kind(folder) == kind and Results(folder).kind == kind


def test_a_folder_of_no_kind_is_refused_naming_what_makes_each(tmp_path):
    folder = _touched(tmp_path / "f", SUMMARY_FILE, ARCH_FILE)
    with pytest.raises(ValueError) as refused:
        _ = RunFolder(folder).kind
    assert str(refused.value) == (f"{folder} holds no results of run (layers.csv), search "
                                  "(search.csv), sweep (points.parquet) or serve (requests.csv "
                                  "or load.csv)")
    assert [kind for kind, _ in MARKS] == ["sweep", "search", "run", "serve", "serve"]
    assert sorted({kind for kind, _ in MARKS}) == sorted(KINDS)


# ---- written, then read back --------------------------------------------------------------


def _written(folder: RunFolder) -> set[str]:
    return {p.name for p in folder.path.iterdir()}


def test_a_run_written_reads_back(inputs, tmp_path):
    arch, workload = load_arch(inputs["arch"]), load_workload(inputs["work"])
    results = {m: simulate(arch, workload, m) for m in ("aimc-only", "hybrid")}
    summary = run_summary(results, arch_file=inputs["arch"], workload_file=inputs["work"])
    folder = RunFolder(tmp_path / "out" / "run")
    recorded = folder.write_run(results, summary, arch=arch, arch_file=inputs["arch"],
                                settings_file=None, workload=workload)
    assert recorded == [ARCH_FILE.name, TECHNOLOGY_FILE.name]
    assert _written(folder) == {f.name for f in (LAYERS_FILE, SUMMARY_FILE, TIMELINE_FILE,
                                                 CRITICAL_FILE, ARCH_FILE, TECHNOLOGY_FILE)}
    assert all("run" in f.kinds for f in FILES if f.name in _written(folder))

    back = RunFolder(folder.path)
    assert back.kind == "run" and back.modes == ("aimc-only", "hybrid")
    layers = pd.concat([r.layers for r in results.values()], ignore_index=True)
    assert back.layers[["layer", "mode", "latency_ns"]].equals(
        layers[["layer", "mode", "latency_ns"]])
    assert len(back.timeline) == sum(len(r.timeline) for r in results.values())
    assert set(back.timeline["mode"]) == set(results)
    assert back.critical["latency_ns"].tolist() == pd.concat(
        [r.critical for r in results.values()])["latency_ns"].tolist()
    stored = back.summary({"modes.*.total_latency_ns": (int, float)})
    assert stored["modes"]["hybrid"]["total_latency_ns"] == \
        results["hybrid"].summary["total_latency_ns"]
    assert stored["inputs"]["workload"]["name"] == workload.name
    assert back.has_arch and back.arch.name == arch.name
    assert back.arch.technology is not None
    assert "as aimcsim resolved it" in back.recorded_text(ARCH_FILE)



def test_the_run_summary_adds_the_throughput_and_keeps_every_key(inputs):
    arch, workload = load_arch(inputs["arch"]), load_workload(inputs["work"])
    results = {m: simulate(arch, workload, m) for m in ("aimc-only", "hybrid")}
    summary = run_summary(results, arch_file=inputs["arch"], workload_file=inputs["work"])
    for mode, r in results.items():
        stored = summary["modes"][mode]
        assert {k: v for k, v in stored.items() if k != "throughput_tokens_per_s"} == r.summary
        assert stored["throughput_tokens_per_s"] == pytest.approx(
            workload.tokens / r.summary["total_latency_ns"] * 1e9)
        assert "throughput_tokens_per_s" not in r.summary  # (the run's own summary untouched)

def test_a_search_written_reads_back(inputs, tmp_path):
    arch, workload = load_arch(inputs["arch"]), load_workload(inputs["work"])
    result = search(arch, workload, load_space(inputs["space"]))
    folder = RunFolder(tmp_path / "out" / "search")
    folder.write_search(result, arch=arch, arch_file=inputs["arch"], workload=workload,
                        workload_file=inputs["work"], command=["aimcsim", "search"],
                        objective="fastest")
    assert _written(folder) == {f.name for f in (SEARCH_FILE, SUMMARY_FILE, ARCH_FILE,
                                                 TECHNOLOGY_FILE)}
    assert all("search" in f.kinds for f in FILES if f.name in _written(folder))

    back = RunFolder(folder.path)
    assert back.kind == "search" and back.modes == ()
    pd.testing.assert_frame_equal(back.search, result.points, check_dtype=False)
    stored = back.summary({"objective": str, "network": list, "best": list})
    assert stored["arch"] == str(inputs["arch"]) and stored["workload"] == str(inputs["work"])
    assert stored["command"] == ["aimcsim", "search"] and stored["objective"] == "fastest"
    # (as JSON: a search without energy figures holds NaN, which equals nothing)
    assert json.dumps(stored["best"]) == json.dumps(result.best.to_dict(orient="records"))
    assert len(stored["network"]) == len(result.network)
    assert stored["inputs"]["arch"] == ARCH_FILE.name
    assert back.arch.name == arch.name


# ---- the names, spelled once --------------------------------------------------------------


def _strings(path: Path) -> list[tuple[int, str]]:
    """The string constants of a module but its docstrings (which may name files): line and
    text of each (the parts of an f-string each)."""
    tree = ast.parse(path.read_text(), str(path))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                       ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings]


def _spelled(name: str, text: str) -> bool:
    # a file name where it appears; a folder's name (parts) only as the whole string
    return name in text if "." in name else text == name


def test_each_results_file_is_named_once_by_the_run_folder_or_the_sweep_store():
    names = [f.name for f in FILES]
    assert len(set(names)) == len(names)
    where: dict[str, list[str]] = {name: [] for name in names}
    for path in sorted(PACKAGE.rglob("*.py")):
        for line, text in _strings(path):
            for name in names:
                if _spelled(name, text):
                    where[name].append(f"{path.relative_to(ROOT)}:{line}")
    for name, places in where.items():
        assert len(places) == 1, f"{name} is spelled at {', '.join(places) or 'no place'}"
        assert ROOT / places[0].split(":")[0] in HOMES, f"{name} is spelled at {places[0]}"


def test_the_names_check_finds_a_name_spelled_in_code_not_in_a_docstring(tmp_path):
    module = tmp_path / "m.py"
    module.write_text('"""Reads layers.csv."""\n\n\ndef f(out):\n    """Of summary.json."""\n'
                      '    return out / "layers.csv", f"wrote {out}/summary.json", "parts"\n')
    found = sorted((line, name) for line, text in _strings(module)
             for name in ("layers.csv", "summary.json", "parts") if _spelled(name, text))
    assert found == [(6, "layers.csv"), (6, "parts"), (6, "summary.json")]
