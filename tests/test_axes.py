"""The axis type the search's space and the sweep's axes share (`aimcsim.explore.axes`)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
import yaml

from aimcsim.errors import SpecError
from aimcsim.explore.axes import SEQ_LEN_AXIS, Axis, read_axis
from aimcsim.explore.space import SPACE_FIELDS, SearchSpace, load_space
from aimcsim.explore.sweep import load_sweep
from aimcsim.params.reader import Reader


def _read(path: str, values: list, **kw) -> tuple[Axis | None, list[str]]:
    r = Reader("space.yaml")
    axis = read_axis(r, "at", path, values, twice="it would run twice", **kw)
    return axis, [f"{i.path}: {i.message}" for i in r.issues]


def test_an_axis_holds_the_values_its_declaration_reads():
    axis, issues = _read("aimc.integration_time_ns", [128, 256])
    assert issues == [] and axis == Axis("aimc.integration_time_ns", (128.0, 256.0))
    assert all(isinstance(v, float) for v in axis.values)
    assert axis.field.path == "aimc.integration_time_ns" and axis.field.kind is float
    given, _ = _read("aimc.integration_time_ns", [128, 256], as_given=True)
    assert given.values == (128, 256) and all(isinstance(v, int) for v in given.values)
    path, values = axis  # it unpacks as (path, values)
    assert (path, values) == ("aimc.integration_time_ns", (128.0, 256.0))


@pytest.mark.parametrize(("path", "values", "expected"), [
    ("pmca.cores", [8, -1], "at[1]"),
    ("pipeline.strategy", ["overlapped", "sideways"], "sideways"),
    ("pmca.cores", [8, 8], "lists a value twice (it would run twice)"),
    (SEQ_LEN_AXIS, [16, 0], "at[1]"),
])
def test_an_axis_refuses_what_its_declaration_refuses(path, values, expected):
    axis, issues = _read(path, values)
    assert axis is None
    assert any(expected in issue for issue in issues), issues


def test_the_sequence_length_axis_sets_no_architecture_value():
    axis, issues = _read(SEQ_LEN_AXIS, [64, 128])
    assert issues == [] and axis.values == (64, 128) and axis.field is None
    with pytest.raises(ValueError, match="not a field of an architecture file"):
        _read("pmca.corez", [1])


def _sweep_file(tmp_path: Path, root: Path, axes: dict) -> Path:
    """A sweep file over MobileBERT on the default architecture, with `axes`."""
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({
        "version": 1, "name": "s", "arch": str(root / "arch" / "hybrid.yaml"),
        "workloads": [str(root / "workloads" / "mobilebert.yaml")], "axes": axes}))
    return path


def test_the_search_space_and_the_sweep_give_the_same_axes(tmp_path, root):
    space_file = tmp_path / "space.yaml"
    space_file.write_text("version: 1\nparallel_tokens: [4, 8]\ncores: [8, 16]\n"
                          "integration_time_ns: [128, 256]\n")
    space = load_space(space_file)
    sweep = load_sweep(_sweep_file(tmp_path, root, {
        "pipeline.parallel_tokens": [4, 8], "pmca.cores": [8, 16],
        "aimc.integration_time_ns": [128, 256]}))
    assert all(isinstance(a, Axis) for a in sweep.axes)
    by_path = {a.path: a for a in space.axes()}
    for axis in sweep.axes:
        assert by_path[axis.path] == axis
    # the search holds the values as declared; the sweep as written (its points' ids hash
    # the architecture document it writes them into)
    t_int = "aimc.integration_time_ns"
    assert [type(v) for v in by_path[t_int].values] == [float, float]
    assert [type(v) for v in dict(sweep.axes)[t_int]] == [int, int]
    # a dimension left unset takes the architecture's own value: no axis
    assert SPACE_FIELDS["output_chunk"] not in by_path
    assert SearchSpace(rank=(4,), integration_time_ns=None).axes() == (
        Axis("pipeline.strategy", SearchSpace().strategies),
        Axis("pipeline.tile_output", SearchSpace().tile_output), Axis("lora.rank", (4,)))


def test_both_files_name_the_value_they_refuse(tmp_path, root):
    space_file = tmp_path / "space.yaml"
    space_file.write_text("version: 1\ncores: [8, 8]\n")
    with pytest.raises(SpecError, match=r"space.yaml.*cores: lists a value twice \(the search"):
        load_space(space_file)
    sweep_file = _sweep_file(tmp_path, root, {"pmca.cores": [8, 8],
                                              "aimc.integration_time_ns": [128, -1]})
    with pytest.raises(SpecError) as refused:
        load_sweep(sweep_file)
    text = str(refused.value)
    assert "sweep.yaml" in text
    assert "axes.pmca.cores: lists a value twice (every grid point would run twice)" in text
    assert "axes.aimc.integration_time_ns[1]" in text


def test_the_old_home_of_the_search_still_imports_with_a_warning():
    sys.modules.pop("aimcsim.search", None)
    with pytest.warns(DeprecationWarning, match="aimcsim.explore.search"):
        old = importlib.import_module("aimcsim.search")
    from aimcsim.explore import search as new

    assert old.search is new.search and old.SEARCH_COLUMNS is new.SEARCH_COLUMNS
