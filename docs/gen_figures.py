"""Draws the figures of the site at build time (mkdocs-gen-files), from the commands their
pages name, on the shipped defaults: a run, a run at the searched settings, a search and the
`itime_x_tokens` sweep (the how-to on figures), and a served stream at five loads on both
branches (the how-to on serving). No figure of the site is a stored image, so none can
fall behind what `aimcsim plot` draws."""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import warnings
from pathlib import Path

import mkdocs_gen_files

from aimcsim.cli import main

ROOT = Path(__file__).resolve().parent.parent

#: (the commands that write a folder, then (kind, folder, extra plot options, figure name))
RUNS = [
    ["run", "arch/hybrid.yaml", "workloads/mobilebert.yaml", "--mode", "both", "--out", "out"],
    ["run", "arch/hybrid.yaml", "workloads/mobilebert.yaml", "--settings",
     "arch/runs/fastest_256ns.yaml", "--mode", "both", "--out", "out/balanced"],
    ["search", "arch/hybrid.yaml", "workloads/mobilebert.yaml", "--out", "out/search"],
    ["sweep", "arch/sweeps/itime_x_tokens.yaml", "--out", "out/sweep"],
    ["serve", "arch/hybrid_large_tcdm.yaml", "llama-3.2-1b", "--requests", "300", "--rate", "5",
     "10", "20", "30", "40", "--set", "memory.l2_bytes=4194304", "--branch", "cluster",
     "sram-cim", "--out", "out/serve"],
]
FIGURES = [
    ("breakdown", "out", [], "breakdown"), ("network", "out", [], "network"),
    ("compare", "out", [], "compare"), ("energy", "out", [], "energy"),
    ("timeline", "out", [], "timeline"), ("layer-types", "out/balanced", [], "layer_types"),
    ("tokens", "out/search", [], "tokens"), ("pareto", "out/search", [], "pareto"),
    ("heatmap", "out/sweep", ["--x", "pipeline.parallel_tokens", "--y",
                              "aimc.integration_time_ns"], "heatmap"),
    ("energy-front", "out/sweep", [], "energy_front"),
    ("load", "out/serve", [], "serve_load_branches"),
]


def _quiet(argv: list[str]) -> None:
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()) as err:
        warnings.simplefilter("ignore")
        if main(argv) != 0:
            raise RuntimeError(f"aimcsim {' '.join(argv)} failed: {err.getvalue()[-2000:]}")


def draw() -> None:
    here = Path.cwd()
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("arch", "workloads", "tech"):
            (Path(tmp) / name).symlink_to(ROOT / name)
        os.chdir(tmp)
        try:
            for argv in RUNS:
                _quiet(argv)
            for kind, folder, options, name in FIGURES:
                out = Path(tmp) / f"{name}.png"
                _quiet(["plot", folder, "--kind", kind, *options, "--out", str(out)])
                with mkdocs_gen_files.open(f"figures/{name}.png", "wb") as f:
                    f.write(out.read_bytes())
        finally:
            os.chdir(here)


draw()
