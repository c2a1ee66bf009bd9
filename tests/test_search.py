"""Analytic layer model and balance search."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest
from conftest import make_arch, small_bert

from aimcsim import SpecError, simulate
from aimcsim.analytic import static_layer
from aimcsim.cli import main
from aimcsim.hw.pmca_cycles import cluster_model
from aimcsim.search import SEARCH_COLUMNS, SearchSpace, _alone, _layer_by_layer, load_space, search
from aimcsim.spec.arch import Pipeline
from aimcsim.spec.workload import Op


def _layer(d_in: int, d_out: int) -> Op:
    return Op("fc", 0, "static_linear", "fc", d_in, d_out, ())


@pytest.mark.parametrize("strategy", ["sequential", "overlapped", "double-buffered"])
@pytest.mark.parametrize(("d_in", "d_out"), [(512, 128), (128, 512), (1024, 128)])
@pytest.mark.parametrize(("t_int", "block"), [(128, 16), (256, 4), (512, 7)])
def test_analytic_layer_equals_the_simulator(strategy, d_in, d_out, t_int, block):
    arch = make_arch(aimc={"integration_time_ns": t_int})
    pipe = Pipeline(strategy, block)
    model = cluster_model(arch.pmca, "fp16")
    est = static_layer(arch, _layer(d_in, d_out), 64, pipe, model, lora=True)
    sim = simulate(_layer_by_layer(arch, pipe), _alone(_layer(d_in, d_out), 64), "hybrid")
    row = sim.layers.set_index("layer").loc["layer"]
    if strategy == "double-buffered":
        assert est.latency_ps <= row.latency_ns * 1000 and not est.exact
    else:
        assert est.latency_ps == row.latency_ns * 1000 and est.exact
    assert est.tcdm_bytes == row.tcdm_peak_bytes
    base = static_layer(arch, _layer(d_in, d_out), 64, pipe, model, lora=False)
    aimc = simulate(_layer_by_layer(arch, pipe), _alone(_layer(d_in, d_out), 64), "aimc-only")
    assert base.latency_ps == aimc.layers.set_index("layer").loc["layer"].latency_ns * 1000


@pytest.fixture(scope="module")
def found():
    space = SearchSpace(parallel_tokens=(1, 4, 16, 64, 128), integration_time_ns=(128, 256, 512))
    return search(make_arch(), small_bert(128, 1), space)


def test_search_table(found):
    points = found.points
    assert list(points.columns) == list(SEARCH_COLUMNS)
    assert len(points) == 3 * 3 * 5 * 3  # shapes x integration times x blocks x strategies
    infeasible = points[~points.feasible]
    assert len(infeasible) > 0 and (infeasible.tcdm_bytes > 131072).all()
    best = found.best
    assert len(best) == 9 and best.feasible.all() and best.simulated.all() and best.pareto.all()


def test_search_reproduces_the_study_trends(found):
    best = found.best
    by_t = best.groupby("integration_time_ns")["overhead"].max()
    assert by_t[128] > by_t[256] >= by_t[512]  # overhead falls as integration time grows
    points = found.points
    same = points[(points.parallel_tokens == 16) & (points.strategy == "overlapped")
                  & (points.integration_time_ns == 256)].set_index(["d_in", "d_out"])
    assert same.loc[(512, 128), "tcdm_bytes"] > same.loc[(128, 128), "tcdm_bytes"]
    assert same.loc[(128, 512), "tcdm_bytes"] > same.loc[(128, 128), "tcdm_bytes"]
    # TCDM bounds the useful token parallelism, and bounds it sooner for the wide layers
    fits = points[points.feasible & (points.strategy == "overlapped")]
    largest = fits.groupby(["d_in", "d_out"])["parallel_tokens"].max()
    assert largest[(512, 128)] < 128 and largest[(128, 512)] < 128
    assert largest[(128, 128)] > largest[(512, 128)]


def test_best_settings_are_confirmed_by_a_full_simulation(found):
    for net in found.network:
        assert net["hybrid_latency_ns"] >= net["aimc_only_latency_ns"]
        assert net["static_overhead_min"] >= 0
        assert set(net["settings"]) == {"512x128", "128x128", "128x512"}


def test_space_file_validation(tmp_path, root):
    assert load_space(root / "arch" / "spaces" / "default.yaml").integration_time_ns == (128, 256, 512)
    bad = tmp_path / "space.yaml"
    bad.write_text("version: 1\nstrategies: [eager]\nparallel_tokens: [0]\ncolor: red\n")
    with pytest.raises(SpecError) as info:
        load_space(bad)
    message = str(info.value)
    assert "space.yaml: strategies: 'eager' is not allowed; allowed values: sequential" in message
    assert "parallel_tokens: 0 is below the minimum 1" in message
    assert "color: unknown key 'color'" in message


def test_search_command(tmp_path, root, capsys):
    trace = tmp_path / "mb.yaml"
    main(["trace", "mobilebert", "--seq-len", "32", "--out", str(trace)])
    space = tmp_path / "space.yaml"
    space.write_text("version: 1\nparallel_tokens: [4, 32]\nintegration_time_ns: [256]\n")
    out = tmp_path / "out"
    assert main(["search", str(root / "arch" / "hybrid.yaml"), str(trace), "--space", str(space),
                 "--out", str(out)]) == 0
    table = pd.read_csv(out / "search.csv")
    assert list(table.columns) == list(SEARCH_COLUMNS) and len(table) == 3 * 2 * 3
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["best"]) == 3 and len(summary["network"]) == 1
    assert "whole network with the best settings" in capsys.readouterr().out


def test_layer_by_layer_helper_keeps_other_settings():
    arch = make_arch()
    pipe = Pipeline("sequential", 3, "streaming")
    assert _layer_by_layer(arch, pipe).pipeline == dataclasses.replace(
        pipe, between_layers="layer-by-layer")
