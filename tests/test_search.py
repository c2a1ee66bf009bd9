"""Analytic layer model and balance search."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest
from conftest import ROOT, arch_doc, linear_workload, make_arch, small_bert
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aimcsim import SpecError, simulate
from aimcsim.analytic import static_layer
from aimcsim.cli import main
from aimcsim.explore.search import SEARCH_COLUMNS, exhaustive, search
from aimcsim.explore.space import GROUP, SearchSpace, _alone, _layer_by_layer, load_space
from aimcsim.hw.pmca.cycle_level import cluster_model
from aimcsim.spec.arch import Pipeline, parse_arch
from aimcsim.spec.workload import Op, parse_workload


def _layer(d_in: int, d_out: int) -> Op:
    return Op("fc", 0, "static_linear", "fc", d_in, d_out, ())


@pytest.mark.parametrize("output_chunk", [16, 40, 100])
@pytest.mark.parametrize(("aimc", "pmca"), [
    ({}, {}),
    ({"rows": 64, "integration_time_ns": 16, "dac_ns": 1, "adc_ns": 1, "pipelined": False},
     {"cores": 1, "tcdm_banks": 8, "streaming": False})])
def test_a_double_buffered_bound_with_output_chunks_is_below_the_simulator(output_chunk, aimc,
                                                                         pmca):
    """Pulled in chunks, a block's output crosses the link while the cluster may reduce
    another block's: the bound counts the cluster's kernels only (it counted the pulls too,
    and the search pruned a point 144 ns faster than the best it kept)."""
    arch = make_arch(aimc=aimc, pmca=pmca, interconnect={"bytes_per_cycle": 8,
                                                         "latency_cycles": 0})
    model = cluster_model(arch.pmca, "fp16")
    for d_in, d_out, tokens, block in ((200, 128, 3, 2), (512, 512, 24, 4), (128, 300, 9, 1)):
        pipe = Pipeline("double-buffered", block, output_chunk=output_chunk)
        est = static_layer(arch, _layer(d_in, d_out), tokens, pipe, model, lora=True)
        sim = simulate(_layer_by_layer(arch, pipe), _alone(_layer(d_in, d_out), tokens),
                       "hybrid")
        assert est.latency_ps <= sim.layers.set_index("layer").loc["layer"].latency_ns * 1000


@pytest.mark.parametrize("strategy", ["sequential", "overlapped", "double-buffered"])
@pytest.mark.parametrize(("d_in", "d_out"), [(512, 128), (128, 512), (1024, 128)])
@pytest.mark.parametrize(("t_int", "block"), [(128, 16), (256, 4), (512, 7)])
@pytest.mark.parametrize("tile_output", ["in-place", "separate"])
def test_analytic_layer_equals_the_simulator(strategy, d_in, d_out, t_int, block, tile_output):
    arch = make_arch(aimc={"integration_time_ns": t_int})
    pipe = Pipeline(strategy, block, tile_output=tile_output)
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
    # shapes x integration times x blocks x strategies x buffer policies
    assert len(points) == 3 * 3 * 5 * 3 * 2
    infeasible = points[~points.feasible]
    assert len(infeasible) > 0 and (infeasible.tcdm_bytes > 131072).all()
    assert (infeasible.rating == "infeasible").all() and infeasible.latency_ns.isna().all()
    assert set(points[points.feasible].rating) <= {"exact", "simulated", "pruned"}
    # one block in flight on point-to-point links: the closed form rates it, no simulation
    single = points[points.feasible & (points.strategy != "double-buffered")]
    assert (single.rating == "exact").all()
    assert (single.latency_ns == single.analytic_latency_ns).all()
    rated = points[points.rating.isin(["exact", "simulated"])]
    assert (rated.latency_ns >= rated.analytic_latency_ns).all()
    best = found.best
    assert len(best) == 9 and best.feasible.all() and best.pareto.all() and best.fastest.all()
    assert best.rating.isin(["exact", "simulated"]).all()


def test_search_reproduces_the_study_trends(found):
    best = found.best
    by_t = best.groupby("integration_time_ns")["overhead"].max()
    assert by_t[128] > by_t[256] >= by_t[512]  # overhead falls as integration time grows
    points = found.points
    same = points[(points.parallel_tokens == 16) & (points.strategy == "overlapped")
                  & (points.integration_time_ns == 256)
                  & (points.tile_output == "in-place")].set_index(["d_in", "d_out"])
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
    assert "space.yaml: strategies[0]: 'eager' is not allowed; allowed values: sequential" in message
    assert "parallel_tokens[0]: 0 is below the minimum 1" in message
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
    assert list(table.columns) == list(SEARCH_COLUMNS) and len(table) == 3 * 2 * 3 * 2
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["best"]) == 3 and len(summary["network"]) == 1
    assert "whole network with the best settings" in capsys.readouterr().out


def test_layer_by_layer_helper_keeps_other_settings():
    arch = make_arch()
    pipe = Pipeline("sequential", 3, "streaming")
    assert _layer_by_layer(arch, pipe).pipeline == dataclasses.replace(
        pipe, between_layers="layer-by-layer")


# ---- the search is exact: its answer equals an exhaustive simulation of its space ----------
def _exhaustive_answers(table: pd.DataFrame, max_overhead: float | None = None) -> pd.DataFrame:
    """Per group, from a table where every feasible point is simulated: the fastest latency and
    the least TCDM among the fastest; with max_overhead, the least TCDM within the limit and
    the fastest latency at that TCDM."""
    rows = []
    for key, group in table[table.feasible].groupby(GROUP):
        if max_overhead is None:
            pick = group[group.latency_ns == group.latency_ns.min()]
            pick = pick[pick.tcdm_bytes == pick.tcdm_bytes.min()]
        else:
            within = group[group.latency_ns <= (1 + max_overhead) * group.aimc_only_latency_ns]
            if within.empty:
                continue
            pick = within[within.tcdm_bytes == within.tcdm_bytes.min()]
            pick = pick[pick.latency_ns == pick.latency_ns.min()]
        rows.append({**dict(zip(GROUP, key, strict=True)),
                     "latency_ns": pick.latency_ns.iloc[0], "tcdm_bytes": pick.tcdm_bytes.iloc[0]})
    return pd.DataFrame(rows, columns=[*GROUP, "latency_ns", "tcdm_bytes"])


def _front_of(table: pd.DataFrame) -> set[tuple]:
    """(group..., tcdm, latency) of every Pareto point, from rated latencies."""
    front = set()
    for key, group in table[table.rating.isin(["exact", "simulated"])].groupby(GROUP):
        best = float("inf")
        for row in group.sort_values(["tcdm_bytes", "latency_ns"]).itertuples():
            if row.latency_ns < best:
                front.add((*key, row.tcdm_bytes, row.latency_ns))
                best = row.latency_ns
    return front


def _assert_search_is_exact(arch, workload, space, max_overhead=None) -> None:
    found = search(arch, workload, space, max_overhead=max_overhead)
    reference = exhaustive(arch, workload, space)
    want = _exhaustive_answers(reference, max_overhead).sort_values(GROUP, ignore_index=True)
    got = found.best[[*GROUP, "latency_ns", "tcdm_bytes"]].sort_values(GROUP, ignore_index=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    # every rated latency is the simulator's, and the front is the exhaustive one
    rated = found.points[found.points.rating.isin(["exact", "simulated"])]
    assert (rated.latency_ns == reference.loc[rated.index, "latency_ns"]).all()
    assert (rated.aimc_only_latency_ns == reference.loc[rated.index, "aimc_only_latency_ns"]).all()
    pareto = found.points[found.points.pareto]
    assert {(*r[:len(GROUP)], r[-2], r[-1]) for r in pareto[
        [*GROUP, "tcdm_bytes", "latency_ns"]].itertuples(index=False)} == _front_of(reference)


@st.composite
def small_cases(draw):
    arch = arch_doc(
        aimc={"rows": draw(st.sampled_from([64, 128, 256])),
              "integration_time_ns": draw(st.sampled_from([16, 64, 256])),
              "dac_ns": draw(st.integers(1, 40)), "adc_ns": draw(st.integers(1, 40)),
              "pipelined": draw(st.booleans())},
        pmca={"cores": draw(st.integers(1, 8)), "tcdm_banks": draw(st.integers(8, 32)),
              "tcdm_bytes": draw(st.integers(4_000, 40_000)),
              "timing": draw(st.sampled_from(["cycle-level", "throughput"])),
              "streaming": draw(st.booleans()),
              **draw(st.sampled_from([{}, {"matrix_engine": {"rows": 8, "height": 4,
                                                             "pipe_regs": 3}}]))},
        interconnect={"topology": draw(st.sampled_from(["point-to-point", "point-to-point",
                                                        "shared-bus", "mesh"])),
                      "bytes_per_cycle": draw(st.sampled_from([8, 32])),
                      "latency_cycles": draw(st.integers(0, 8))},
        lora={"rank": draw(st.integers(1, 8))},
    )
    tokens = draw(st.integers(2, 24))
    d_in, d_out = draw(st.sampled_from([64, 128, 200])), draw(st.sampled_from([32, 128, 300]))
    space = SearchSpace(
        strategies=tuple(draw(st.lists(st.sampled_from(["sequential", "overlapped",
                                                        "double-buffered"]),
                                       min_size=1, max_size=3, unique=True))),
        parallel_tokens=tuple(draw(st.lists(st.integers(1, tokens), min_size=1, max_size=4,
                                            unique=True))),
        integration_time_ns=None,
        tile_output=("in-place", "separate"),
        output_chunk=draw(st.sampled_from([None, (0, 16), (0, 40, 100)])),
    )
    max_overhead = draw(st.one_of(st.none(), st.sampled_from([0.0, 0.05, 0.5])))
    return arch, parse_workload(linear_workload(tokens, d_in, d_out)), space, max_overhead


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(case=small_cases())
def test_search_equals_exhaustive_simulation(case):
    doc, workload, space, max_overhead = case
    _assert_search_is_exact(parse_arch(doc, "random.yaml"), workload, space, max_overhead)


@pytest.mark.slow
def test_search_is_exact_on_a_reduced_default_mobilebert_space(mobilebert, hybrid_arch):
    """The shipped defaults, every integration time of the default space, fewer block sizes
    (the full space runs in benchmarks/bench_search.py --exhaustive)."""
    space = SearchSpace(parallel_tokens=(2, 4, 8, 16, 32))
    _assert_search_is_exact(hybrid_arch, mobilebert, space)
    _assert_search_is_exact(hybrid_arch, mobilebert, space, max_overhead=0.04)


def test_max_overhead_picks_the_least_tcdm_within_the_limit(found):
    space = SearchSpace(parallel_tokens=(1, 4, 16, 64, 128), integration_time_ns=(256,))
    lean = search(make_arch(), small_bert(128, 1), space, max_overhead=0.05).best
    fast = found.best[found.best.integration_time_ns == 256]
    assert len(lean) == 3 and (lean.overhead <= 0.05).all()
    both = lean.merge(fast, on=["d_in", "d_out"], suffixes=("_lean", "_fast"))
    assert (both.tcdm_bytes_lean <= both.tcdm_bytes_fast).all()
    assert (both.tcdm_bytes_lean < both.tcdm_bytes_fast).any()


def test_search_refuses_a_workload_without_adapted_layers():
    arch = make_arch(lora={"layers": ["query"]})
    work = parse_workload(linear_workload(8, 64, 64))
    with pytest.raises(SpecError, match=r"lora\.layers\[0\]: no static layer .* role 'query'"):
        search(arch, work, SearchSpace(parallel_tokens=(2,)))
    elementwise = {**linear_workload(8, 64, 64, tail="relu")}
    elementwise["ops"] = elementwise["ops"][1:]
    elementwise["ops"][0]["inputs"] = [{"from": "input"}]
    with pytest.raises(ValueError, match="no static layer that carries a LoRA adapter"):
        search(make_arch(), parse_workload(elementwise), SearchSpace(parallel_tokens=(2,)))


def test_search_command_with_max_overhead(tmp_path, root, capsys):
    trace = tmp_path / "mb.yaml"
    main(["trace", "mobilebert", "--seq-len", "32", "--out", str(trace)])
    space = tmp_path / "space.yaml"
    space.write_text("version: 1\nparallel_tokens: [4, 32]\nintegration_time_ns: [128, 512]\n")
    arch = str(root / "arch" / "hybrid.yaml")
    out = tmp_path / "out"
    assert main(["search", arch, str(trace), "--space", str(space), "--out", str(out),
                 "--max-overhead", "2"]) == 0
    printed = capsys.readouterr().out
    assert "least TCDM within 2% setting" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["objective"] == "least TCDM within 2% overhead"
    assert all(row["overhead"] <= 0.02 for row in summary["best"])
    missing = 6 - len(summary["best"])  # 3 shapes x 2 integration times
    assert missing > 0 and f"{missing} group(s) have no setting within the limit" in printed
    assert "(none within the limit)" in printed  # those shapes ran at their fastest setting
    assert main(["search", arch, str(trace), "--space", str(space), "--out", str(out),
                 "--max-overhead", "-1"]) == 2
    assert "--max-overhead takes a percentage >= 0, got -1.0" in capsys.readouterr().err


def _exhaustive_least(reference: pd.DataFrame, objective: str,
                      max_overhead: float | None) -> pd.DataFrame:
    """Per group, the feasible point of least energy (or EDP) within the limit, from every
    point simulated; ties: least TCDM, then the fastest."""
    rows = reference[reference.feasible].copy()
    if max_overhead is not None:
        rows = rows[rows.latency_ns <= (1 + max_overhead) * rows.aimc_only_latency_ns]
    rows["_value"] = rows.energy_pj * (rows.latency_ns if objective == "edp" else 1)
    rows = rows.sort_values(["_value", "tcdm_bytes", "latency_ns"], kind="stable")
    return rows.groupby(GROUP, sort=False).head(1)


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=small_cases(), objective=st.sampled_from(["energy", "edp"]))
def test_energy_objectives_equal_exhaustive_simulation(tmp_path_factory, case, objective):
    """The least-energy (or EDP) setting is the exhaustive one, leakage included."""
    import yaml

    doc, workload, space, max_overhead = case
    tech = yaml.safe_load((ROOT / "tech" / "pcm14.yaml").read_text())
    tech["pmca"]["core_leakage_mw"]["value"] = 2.5  # latency matters to energy too
    path = tmp_path_factory.mktemp("tech") / "leaky.yaml"
    path.write_text(yaml.safe_dump(tech))
    arch = parse_arch({**doc, "technology": str(path)}, "random.yaml")
    found = search(arch, workload, space, max_overhead=max_overhead, objective=objective)
    reference = exhaustive(arch, workload, space)
    want = _exhaustive_least(reference, objective, max_overhead)
    setting = [*GROUP, "strategy", "parallel_tokens", "tile_output"]
    got = found.points[found.points.best]
    assert {tuple(r) for r in got[setting].itertuples(index=False)} == {
        tuple(r) for r in want[setting].itertuples(index=False)}
    rated = found.points[found.points.energy_pj.notna()]
    assert (rated.energy_pj == reference.loc[rated.index, "energy_pj"]).all()


def test_energy_objectives_need_a_technology_file():
    with pytest.raises(ValueError, match="objective energy needs energy: name a technology"):
        search(make_arch(), small_bert(16, 1), SearchSpace(parallel_tokens=(4,)),
               objective="energy")
