"""Serving a request stream (`aimcsim.serve`): a lone request against `decode`, conservation
and capacities over random streams, the adapter cache's policies, M/D/1 waits, Little's law and
seeded reproducibility."""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aimcsim import load_arch, simulate
from aimcsim.cli.main import main
from aimcsim.decode import decode, summary
from aimcsim.outputs.figures import drawable
from aimcsim.outputs.run_folder import RunFolder
from aimcsim.serve.caches import L2, AdapterCache
from aimcsim.serve.costs import Part, StepCosts
from aimcsim.serve.engine import (
    ITERATION_COLUMNS,
    LOAD_COLUMNS,
    REQUEST_COLUMNS,
    Moves,
    serve,
    serve_model,
)
from aimcsim.serve.stream import (
    Request,
    parse_mix,
    parse_output_tokens,
    poisson_stream,
    read_arrivals,
)
from aimcsim.spec.workload import parse_workload
from aimcsim.traces import TRACES

ROOT = Path(__file__).resolve().parents[1]
ARCH = ROOT / "arch" / "hybrid_large_tcdm.yaml"
MODEL = "llama-3.2-1b"


@pytest.fixture(scope="module")
def arch():
    base = load_arch(ARCH)
    # (a bounded L2: 64 MiB per cluster holds the KV cache and a few adapters' slices)
    return dataclasses.replace(base, memory=dataclasses.replace(base.memory,
                                                                l2_bytes=64 << 20))


@pytest.fixture(scope="module")
def costs(arch):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return StepCosts(arch, MODEL)


def test_a_lone_request_gets_decodes_time_to_first_token_and_per_output_token(arch, costs):
    stream = [Request(0, 1_000_000, 16, 5, 0)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        served = serve_model(arch, MODEL, stream, cache="pinned", token_budget=16, costs=costs)
        want = summary(decode(arch, TRACES[MODEL], prompt=16, steps=4,
                              modes=("hybrid",)))["hybrid"]
    row = served.requests.iloc[0]
    assert row.ttft_ns == want["ttft_ns"]
    assert row.tpot_ns == pytest.approx(want["tpot_ns"], rel=1e-12)
    assert row.queue_ns == 0 and row.adapter_loads == 0
    assert served.summary["iterations"] == 5


def test_a_lone_prefill_uses_the_tiles_and_clusters_as_its_run_does(arch, costs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        served = serve_model(arch, MODEL, [Request(0, 0, 16, 1, 0)], cache="pinned",
                             token_budget=16, costs=costs)
        run = simulate(arch, costs.workload(16), "hybrid", timeline=False).summary
    s = served.summary
    assert s["tile_utilisation"] == pytest.approx(run["utilisation"]["aimc"], rel=1e-9)
    assert s["cluster_utilisation"] == pytest.approx(run["utilisation"]["pmca"], rel=1e-9)
    assert 0 < s["tile_utilisation"] < s["busy_fraction"] == pytest.approx(1)


def test_a_cold_start_pays_one_load_and_one_move(arch, costs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warm = serve_model(arch, MODEL, [Request(0, 0, 16, 2, 0)], cache="pinned",
                           token_budget=16, costs=costs)
        cold = serve_model(arch, MODEL, [Request(0, 0, 16, 2, 0)], cache="lru",
                           token_budget=16, costs=costs)
    assert cold.summary["adapter_loads"] == 1 and cold.summary["adapter_swaps"] == 1
    assert cold.requests.ttft_ns[0] > warm.requests.ttft_ns[0]
    assert cold.requests.tpot_ns[0] == warm.requests.tpot_ns[0]


def test_the_memo_equals_simulating_every_iteration(arch):
    stream = poisson_stream(12, 150, prompt=8, output=("fixed", 4, 0), adapters=3, seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        memo = StepCosts(arch, MODEL)
        reference = StepCosts(arch, MODEL, memo=False)
        a = serve_model(arch, MODEL, stream, costs=memo, token_budget=64)
        b = serve_model(arch, MODEL, stream, costs=reference, token_budget=64)
    pd.testing.assert_frame_equal(a.requests, b.requests)
    pd.testing.assert_frame_equal(a.iterations, b.iterations)
    assert a.iterations.decode_tokens.max() > 1  # (batches of several requests)
    assert memo.simulations < reference.simulations


# ---- the scheduler over random streams (costs of a fixed, made-up shape) ----------------------
class _Costs:
    """Stand-in costs for the scheduler's invariants: a prefill grows with the prompt, a decode
    batch with its tokens, attention with the context."""

    def prefill(self, prompt: int) -> Part:
        return Part(1000 + 37 * prompt, 1.0 * prompt)

    def tokens(self, count: int, context: int) -> Part:
        return Part(500 + 11 * count, 0.5 * count)

    def attention(self, context: int) -> Part:
        return Part(3 * context, 0.1 * context)

    def kv_bytes(self, context: int) -> np.ndarray:
        return np.array([10 * context, 4 * context, 0])


SLICES = np.array([30, 50, 20])  # (an adapter's bytes on each of three clusters' L2)


def _serve(stream, capacity=0, policy="lru", budget=64, l2_bytes=0):
    l2 = None
    if l2_bytes:
        capacity = int(np.min(l2_bytes // SLICES))
        l2 = L2(l2_bytes, SLICES, np.zeros(3, dtype=np.int64))
    return serve(_Costs(), stream, cache=AdapterCache(capacity, policy),
                 moves=Moves(100, 2000, 10.0, 300, 1.0), token_budget=budget, l2=l2)


streams = st.lists(st.tuples(st.integers(0, 20_000), st.integers(1, 24), st.integers(1, 6),
                             st.integers(0, 5)), min_size=1, max_size=30)


@settings(max_examples=150, deadline=None)
@given(streams, st.integers(1, 4), st.sampled_from(["lru", "lfu"]), st.integers(24, 80))
def test_every_request_is_served_once_and_capacities_hold(raw, capacity, policy, budget):
    gaps = np.cumsum([g for g, *_ in raw])
    stream = [Request(i, int(t), p, o, a) for i, (t, (_, p, o, a)) in
              enumerate(zip(gaps, raw, strict=True))]
    served = _serve(stream, capacity, policy, budget)
    t, it = served.requests, served.iterations
    assert list(t.columns) == list(REQUEST_COLUMNS) and list(it.columns) == list(
        ITERATION_COLUMNS)
    assert list(t.request) == list(range(len(stream)))
    assert (t.queue_ns >= 0).all() and (t.first_token_ns <= t.done_ns).all()
    assert (t.ttft_ns > t.queue_ns).all()
    # every token generated once: an iteration carries a token of each request in it
    assert it.prompts.sum() == len(t)
    assert it.decode_tokens.sum() == (t.output_tokens - 1).sum()
    assert (it.decode_tokens + it.prompt_tokens <= budget).all()
    assert (it.adapters_in_l2 <= capacity).all() and (it.adapters <= capacity).all()
    # iterations back to back or after an idle gap, never overlapping
    ends = it.start_ns + it.latency_ns
    assert (it.start_ns.iloc[1:].to_numpy() >= ends.iloc[:-1].to_numpy() - 1e-9).all()
    # more adapters than L2 holds cost loads beyond the cold ones
    distinct = t.adapter.nunique()
    assert served.summary["adapter_loads"] >= min(distinct, len(t))
    if distinct <= capacity:
        assert served.summary["adapter_loads"] == distinct


@settings(max_examples=150, deadline=None)
@given(streams, st.sampled_from(["lru", "lfu", "pinned"]), st.integers(600, 2000))
def test_kv_caches_and_adapters_never_overfill_l2(raw, policy, l2_bytes):
    gaps = np.cumsum([g for g, *_ in raw])
    stream = [Request(i, int(t), p, o, a) for i, (t, (_, p, o, a)) in
              enumerate(zip(gaps, raw, strict=True))]
    try:
        served = _serve(stream, policy=policy, l2_bytes=l2_bytes)
    except ValueError as e:  # (a request whose KV cache and adapter do not fit alone)
        assert "cannot be served alone" in str(e)
        worst = max(r.prompt_tokens + r.output_tokens - 1 for r in stream) * 10
        pinned = int(np.min(l2_bytes // SLICES)) - 1 if policy == "pinned" else 0
        assert worst + (pinned + 1) * 50 > l2_bytes
        return
    it, t = served.iterations, served.requests
    assert (it.l2_bytes <= l2_bytes).all() and served.summary["l2_peak_bytes"] <= l2_bytes
    assert it.prompts.sum() == len(t) and (t.done_ns >= t.first_token_ns).all()


def test_admission_waits_for_kv_room():
    stream = [Request(i, 0, 20, 11, 0) for i in range(6)]  # (each reserves 300 bytes)
    wide = _serve(stream, l2_bytes=4000).iterations
    narrow = _serve(stream, l2_bytes=700).iterations  # (two at a time, beside one adapter)
    assert wide.prompts.iloc[0] == 3 and narrow.prompts.max() == 2  # (budget 64: three)
    assert (narrow.decode_tokens + narrow.prompts <= 2).all()


def test_lru_evicts_the_least_recently_used_and_lfu_the_least_used():
    lru = AdapterCache(2, "lru")
    assert lru.load({0}) == [0] and lru.load({1}) == [1] and lru.load({0}) == []
    assert lru.load({2}) == [2] and list(lru.held) == [0, 2]  # (1 was least recent)
    lfu = AdapterCache(2, "lfu")
    for used in ({0}, {0}, {1}, {2}):
        lfu.load(used)
    assert sorted(lfu.held) == [0, 2]  # (1 was used once, 0 twice)
    pinned = AdapterCache(2, "pinned")  # (one pinned, room for one streaming through)
    assert pinned.load({0}) == [] and pinned.load({1}) == [1] and list(pinned.held) == [0]


def test_more_adapters_than_fit_reload_beyond_the_cold_loads():
    stream = [Request(i, i * 10_000, 8, 1, i % 3) for i in range(30)]
    assert _serve(stream, capacity=3).summary["adapter_loads"] == 3
    assert _serve(stream, capacity=2).summary["adapter_loads"] == 30  # (LRU on a cycle of 3)


def test_little_holds_on_the_sample_path():
    stream = poisson_stream(400, 2e8, prompt=12, output=("lognormal", 4, 0.5), adapters=3,
                            seed=3)
    t = _serve(stream, capacity=2).requests
    times = np.concatenate([t.arrival_ns, t.done_ns])
    steps = np.concatenate([np.ones(len(t)), -np.ones(len(t))])
    order = np.lexsort((steps, times))
    times, steps = times[order], steps[order]
    in_system = np.cumsum(steps)[:-1]
    area = float(np.sum(in_system * np.diff(times)))  # the integral of N(t)
    span = times[-1] - times[0]
    lam = len(t) / span
    assert area / span == pytest.approx(lam * (t.done_ns - t.arrival_ns).mean(), rel=1e-9)


@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_a_fixed_service_time_waits_as_md1(rho):
    service_ps = _Costs().prefill(16).latency_ps
    rate = rho / (service_ps * 1e-12)
    means = []
    for seed in range(30):  # (one request at a time: output 1, budget the prompt)
        stream = poisson_stream(4000, rate, prompt=16, output=("fixed", 1, 0), adapters=1,
                                seed=seed)
        t = serve(_Costs(), stream, cache=AdapterCache(2, "pinned"),
                  moves=Moves(0, 0, 0.0, 0, 0.0), token_budget=16).requests
        means.append(t.queue_ns.iloc[400:].mean())  # (the warm-up discarded)
    s = service_ps * 1e-3
    want = rate * 1e-9 * s * s / (2 * (1 - rho))
    half = 2.045 * np.std(means, ddof=1) / math.sqrt(len(means))  # (95%, t with 29 dof)
    assert abs(np.mean(means) - want) <= half, (np.mean(means), want, half)


def test_a_seed_gives_the_same_stream_and_results():
    a = poisson_stream(50, 1e8, prompt=8, output=parse_output_tokens("lognormal:5,0.7"),
                       adapters=4, zipf_s=parse_mix("zipf:1.2"), seed=7)
    b = poisson_stream(50, 1e8, prompt=8, output=parse_output_tokens("lognormal:5,0.7"),
                       adapters=4, zipf_s=parse_mix("zipf:1.2"), seed=7)
    assert a == b
    pd.testing.assert_frame_equal(_serve(a, 2).requests, _serve(b, 2).requests)
    assert a != poisson_stream(50, 1e8, prompt=8, output=("fixed", 5, 0), adapters=4, seed=8)


def test_zipf_favours_the_first_adapters():
    names = [r.adapter for r in poisson_stream(4000, 1.0, prompt=1, output=("fixed", 1, 0),
                                               adapters=8, zipf_s=1.5, seed=0)]
    counts = np.bincount(names, minlength=8)
    assert counts[0] > counts[1] > counts[3] > counts[7]


@pytest.mark.parametrize(("args", "says"), [
    (["--mix", "zipf:-1"], "--mix"),
    (["--output-tokens", "lognormal:5"], "--output-tokens"),
    (["--prompt", "64", "--token-budget", "32"], "--token-budget"),
    (["--rate", "0"], "--rate"),
    (["--adapters", "0"], "--adapters"),
    (["--slo-ttft", "-1"], "--slo-ttft"),
])
def test_bad_serve_options_are_named(args, says, capsys):
    assert main(["serve", str(ARCH), MODEL, "--requests", "2", *args]) != 0
    assert says in capsys.readouterr().err


def test_several_loads_share_one_memo_and_draw_their_figure(tmp_path, capsys):
    out = tmp_path / "loads"
    assert main(["serve", str(ARCH), MODEL, "--requests", "20", "--rate", "2", "40",
                 "--prompt", "8", "--output-tokens", "3", "--out", str(out)]) == 0
    table = pd.read_csv(out / "load.csv")
    assert list(table.columns) == list(LOAD_COLUMNS) and list(table.rate_per_s) == [2, 40]
    assert table.busy_fraction[0] < table.busy_fraction[1]
    assert (out / "load.png").stat().st_size > 10_000
    assert capsys.readouterr().out.count("tokens/s") == 2


def test_a_grid_of_adapters_and_policies_draws_the_loads_per_adapter(tmp_path, capsys):
    out = tmp_path / "grid"
    assert main(["serve", str(ARCH), "gpt2", "--requests", "30", "--rate", "50", "--prompt",
                 "8", "--output-tokens", "2", "--adapters", "2", "12", "--cache", "lru", "lfu",
                 "--set", "memory.l2_bytes=393216", "--out", str(out)]) == 0
    table = pd.read_csv(out / "load.csv")
    assert list(zip(table.cache, table.adapters, strict=True)) == [
        ("lru", 2), ("lru", 12), ("lfu", 2), ("lfu", 12)]
    # (384 KiB holds six of gpt2's adapters, 60 KiB each: twelve cost reloads, two only
    # their cold loads)
    assert list(table.adapter_loads[table.adapters == 2]) == [2, 2]
    assert (table.adapter_loads[table.adapters == 12] > 12).all()
    assert [k.name for k in drawable(RunFolder(out))] == ["load", "adapters"]
    assert capsys.readouterr().out.count(" adapters ") == 4


def test_serve_writes_its_tables(tmp_path, capsys):
    out = tmp_path / "served"
    assert main(["serve", str(ARCH), MODEL, "--requests", "6", "--rate", "100", "--prompt",
                 "8", "--output-tokens", "3", "--adapters", "2", "--out", str(out)]) == 0
    table = pd.read_csv(out / "requests.csv")
    assert list(table.columns) == list(REQUEST_COLUMNS) and len(table) == 6
    assert (out / "summary.json").exists() and (out / "arch.yaml").exists()
    assert "tokens/s" in capsys.readouterr().out


@pytest.mark.parametrize(("text", "says"), [
    ("arrival_ns,prompt_tokens,output_tokens,adapter\n0,4,2,0\n5,4,,1\n", "line 3: output_tokens"),
    ("arrival_ns,prompt_tokens,output_tokens,adapter\nabc,4,2,0\n", "line 2: arrival_ns"),
    ("arrival_ns,prompt_tokens,output_tokens,adapter\n9,4,2,0\n5,4,2,0\n", "not before"),
    ("arrival_ns,prompt_tokens,adapter\n0,4,0\n", "missing column(s) output_tokens"),
    ("", "missing column"),
    ("arrival_ns,prompt_tokens,output_tokens,adapter\n", "no requests"),
])
def test_a_bad_arrivals_file_is_named_with_its_line_and_column(tmp_path, text, says):
    path = tmp_path / "arrivals.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=r"arrivals\.csv") as error:
        read_arrivals(path)
    assert says in str(error.value)


def test_an_arrivals_file_reads_as_its_requests(tmp_path):
    path = tmp_path / "arrivals.csv"
    path.write_text("arrival_ns,prompt_tokens,output_tokens,adapter\n0,4,2,0\n2.5,8,1.0,3\n")
    assert read_arrivals(path) == [Request(0, 0, 4, 2, 0), Request(1, 2500, 8, 1, 3)]


def test_a_batch_of_decode_tokens_runs_the_lm_head_on_each(costs):
    def head(work):
        return next(op for op in work.ops if op.role == "lm_head")

    batch, prefill = costs.workload(3, every_token=True), costs.workload(3)
    assert batch.rows(head(batch)) == 3
    assert prefill.rows(head(prefill)) == 1  # (a prefill's: its last token)
    assert not costs.contextual()[batch.ops.index(head(batch))]


def test_pinned_streams_the_other_adapters_through_the_room_left(arch, costs):
    stream = [Request(i, i * 10**9, 8, 2, i % 5) for i in range(10)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        served = serve_model(arch, MODEL, stream, cache="pinned", token_budget=16, costs=costs)
    pinned = served.summary["adapters_in_l2_peak"]  # (the pinned ones)
    assert pinned >= 5  # (64 MiB holds every one of these five)
    assert served.summary["adapter_loads"] == 0


def test_a_serve_folder_plots_and_reports(tmp_path):
    one, loads = tmp_path / "one", tmp_path / "loads"
    for out, rates in ((one, ["40"]), (loads, ["5", "40"])):
        assert main(["serve", str(ARCH), "gpt2", "--requests", "12", "--rate", *rates,
                     "--prompt", "8", "--output-tokens", "3", "--out", str(out)]) == 0
    assert RunFolder(one).kind == RunFolder(loads).kind == "serve"
    assert [k.name for k in drawable(RunFolder(one))] == ["latency"]
    assert [k.name for k in drawable(RunFolder(loads))] == ["load"]
    assert main(["plot", str(one), "--kind", "all"]) == 0 and (one / "latency.png").exists()
    for out in (one, loads):
        assert main(["report", str(out)]) == 0
        page = (out / "report.html").read_text()
        assert page.count("<figure") == 1 and "serving gpt2" in page
    assert "Offered loads" in (loads / "report.html").read_text()


@pytest.mark.parametrize(("path", "value", "slowest"), [
    (None, None, None), ("sram_cim.freq_mhz", 1, 2), ("interconnect.bytes_per_cycle", 1, 1),
    ("pmca.dma_setup_cycles", 100_000, 0)])
def test_the_sram_cim_branch_writes_adapters_into_the_macros_at_their_closed_form(
        arch, path, value, slowest):
    # --branch sram-cim: the shipped architecture with lora.engine: sram-cim; a switch streams
    # each layer's A and B from its cluster's DMA over the tile link into the macros, the
    # slowest of the three stages setting the time
    from aimcsim.hw.interconnect.links import transfer_cycles
    from aimcsim.reload import switch_cost
    from aimcsim.spec.overrides import with_value

    cim_arch = with_value(load_arch(ARCH), "lora.engine", "sram-cim")
    if path is not None:
        cim_arch = with_value(cim_arch, path, value)
    cim, p, noc = cim_arch.branch, cim_arch.pmca, cim_arch.interconnect
    work = parse_workload({"version": 1, "name": "one", "tokens": 4, "input": {"width": 512},
                           "ops": [{"name": "w", "kind": "static_linear", "d_in": 512,
                                    "d_out": 1024, "inputs": [{"from": "input"}]}]})
    cost = switch_cost(cim_arch, work, "l2")
    nbytes = 8 * (512 + 1024) * 2
    stages = [(2 * p.dma_setup_cycles + -(-nbytes // p.dma_bytes_per_cycle)) * p.period_ps,
              transfer_cycles(nbytes, noc) * noc.period_ps, cim.rows * cim.period_ps]
    assert cost.bytes == nbytes and cost.latency_ns == max(stages) / 1000
    if slowest is not None:
        assert stages.index(max(stages)) == slowest
    # the macros of 1 KiB are below the CACTI grid: their write energy is unknown, not zero
    assert math.isnan(cost.energy_pj)
    assert switch_cost(cim_arch, work, "offchip").latency_ns >= nbytes / 25.6


def test_a_lone_request_on_the_sram_cim_branch_gets_decodes_times(arch):
    from aimcsim.spec.overrides import with_value

    cim_arch = dataclasses.replace(with_value(load_arch(ARCH), "lora.engine", "sram-cim"),
                                   memory=arch.memory)
    stream = [Request(0, 1_000_000, 16, 5, 0)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        served = serve_model(cim_arch, MODEL, stream, cache="pinned", token_budget=16)
        want = summary(decode(cim_arch, TRACES[MODEL], prompt=16, steps=4,
                              modes=("hybrid",)))["hybrid"]
        cluster = serve_model(arch, MODEL, stream, cache="pinned", token_budget=16)
    row = served.requests.iloc[0]
    assert row.ttft_ns == want["ttft_ns"]
    assert row.tpot_ns == pytest.approx(want["tpot_ns"], rel=1e-12)
    assert row.tpot_ns != cluster.requests.tpot_ns[0]  # (the branch moved)


def test_serve_branch_names_its_engine(tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["serve", str(ARCH), "gpt2", "--requests", "3", "--rate", "50", "--branch",
                 "sram-cim", "--out", str(out)]) == 0
    assert "L2 to macros" in capsys.readouterr().out
    written = json.loads((out / "summary.json").read_text())
    assert written["inputs"]["branch"] == "sram-cim"
    # the macros' writes are unpriced (below the CACTI grid): the energy is unknown, never 0
    assert math.isnan(written["energy_per_token_pj"])
    assert main(["serve", str(ARCH), "gpt2", "--requests", "3", "--rate", "50", "--out",
                 str(tmp_path / "c")]) == 0
    assert json.loads((tmp_path / "c" / "summary.json").read_text())["inputs"]["branch"] == \
        "cluster"


def test_several_branches_serve_the_stream_on_each(tmp_path, capsys):
    both, one = tmp_path / "both", tmp_path / "one"
    common = [str(ARCH), "gpt2", "--requests", "4", "--rate", "40", "80"]
    assert main(["serve", *common, "--branch", "cluster", "sram-cim", "--out", str(both)]) == 0
    assert main(["serve", *common, "--branch", "sram-cim", "--out", str(one)]) == 0
    table, alone = pd.read_csv(both / "load.csv"), pd.read_csv(one / "load.csv")
    assert list(table.branch) == ["cluster", "cluster", "sram-cim", "sram-cim"]
    pd.testing.assert_frame_equal(table[table.branch == "sram-cim"].reset_index(drop=True),
                                  alone)
    assert (table[table.branch == "cluster"].tpot_ns_p50.to_numpy()
            > alone.tpot_ns_p50.to_numpy()).all()
    assert json.loads((both / "summary.json").read_text())["branches"] == ["cluster", "sram-cim"]
