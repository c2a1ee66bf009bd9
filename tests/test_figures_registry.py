"""Figures are a registry: `plot --kind all` and the report iterate it, and a toy figure from
one file (tests/toy_figure.py) appears in both."""

from __future__ import annotations

import pytest
import yaml
from conftest import arch_doc, linear_workload, plugin

from aimcsim.cli import main
from aimcsim.outputs.figures import FIGURES


@pytest.fixture
def toy():
    """The toy registered for one test (`conftest.plugin`)."""
    with plugin("toy_figure", FIGURES, "tokens-per-layer") as registered:
        yield registered


@pytest.fixture
def run_folder(tmp_path):
    arch, work = tmp_path / "a.yaml", tmp_path / "w.yaml"
    arch.write_text(yaml.safe_dump(arch_doc()))
    work.write_text(yaml.safe_dump(linear_workload(32, 512, 512, tail="relu")))
    assert main(["run", str(arch), str(work), "--mode", "both", "--out",
                 str(tmp_path / "run")]) == 0
    return tmp_path / "run"


def test_the_shipped_figures_are_registered_with_their_sources():
    assert list(FIGURES)[:6] == ["breakdown", "compare", "layer-types", "energy", "network",
                                 "timeline"]
    assert {k for k, f in FIGURES.items() if "search" in f.sources} == {"tokens", "pareto"}
    assert {k for k, f in FIGURES.items() if f.sources == ("sweep",)} == {"heatmap",
                                                                          "energy-front"}


def test_a_toy_figure_from_one_file_is_drawn_by_plot_all_and_shown_in_the_report(
        toy, run_folder, capsys):
    capsys.readouterr()
    assert main(["plot", str(run_folder), "--kind", "all"]) == 0
    out = capsys.readouterr().out
    assert "tokens-per-layer" in out and (run_folder / "tokens-per-layer.png").stat().st_size
    for name in ("breakdown", "compare", "network", "timeline"):
        assert (run_folder / f"{name}.png").exists()
    assert main(["plot", str(run_folder), "--kind", "tokens-per-layer", "--out",
                 str(run_folder / "one.svg")]) == 0
    assert main(["report", str(run_folder)]) == 0
    page = (run_folder / "report.html").read_text()
    assert "Tokens each layer processed (a toy figure)" in page


def test_a_figure_without_its_data_is_refused_naming_what_the_folder_has(tmp_path, capsys):
    arch, work = tmp_path / "a.yaml", tmp_path / "w.yaml"
    arch.write_text(yaml.safe_dump(arch_doc()))
    work.write_text(yaml.safe_dump(linear_workload(16, 256, 256)))
    assert main(["run", str(arch), str(work), "--out", str(tmp_path / "r")]) == 0
    (tmp_path / "r" / "timeline.parquet").unlink()
    assert main(["plot", str(tmp_path / "r"), "--kind", "network"]) == 2
    err = capsys.readouterr().err
    assert "has not what --kind network draws" in err and "breakdown" in err
    assert main(["plot", str(tmp_path / "r"), "--kind", "pareto"]) == 2
    assert "draws results of search" in capsys.readouterr().err


def test_plot_all_on_a_one_mode_run_draws_what_it_can(tmp_path, capsys):
    """A hybrid-only run has no AIMC-only layers: --kind all leaves out what compares the two
    and draws the rest in the run's mode; a file-like --out is refused with --kind all."""
    arch, work = tmp_path / "a.yaml", tmp_path / "w.yaml"
    arch.write_text(yaml.safe_dump(arch_doc()))
    work.write_text(yaml.safe_dump(linear_workload(16, 256, 256)))
    assert main(["run", str(arch), str(work), "--mode", "aimc-only", "--out",
                 str(tmp_path / "r")]) == 0
    assert main(["plot", str(tmp_path / "r"), "--kind", "all", "--out", str(tmp_path / "f")]) == 0
    drawn = {p.stem for p in (tmp_path / "f").iterdir()}
    assert {"breakdown", "timeline", "network"} <= drawn
    assert not drawn & {"compare", "layer-types"}
    capsys.readouterr()
    assert main(["plot", str(tmp_path / "r"), "--kind", "all", "--out",
                 str(tmp_path / "x.png")]) == 2
    assert "with --kind all, --out is a folder" in capsys.readouterr().err
