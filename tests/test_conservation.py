"""Conservation laws, capacity, determinism and the end-to-end contract."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import arch_doc, linear_workload, make_arch, small_bert

from aimcsim import CapacityError, simulate
from aimcsim.results import LAYER_COLUMNS
from aimcsim.spec.workload import parse_workload


@pytest.fixture(scope="module")
def both(hybrid_arch, mobilebert):
    return {m: simulate(hybrid_arch, mobilebert, m) for m in ("aimc-only", "hybrid")}


def test_result_contract(both, mobilebert):
    for mode, result in both.items():
        layers = result.layers
        assert list(layers.columns) == list(LAYER_COLUMNS)
        assert len(layers) == len(mobilebert.ops)
        assert (layers["mode"] == mode).all()
        assert result.summary["total_latency_ns"] == layers["end_ns"].max()
        assert list(result.timeline.columns) == ["component", "start_ns", "end_ns", "activity",
                                                 "layer"]


def test_every_token_passes_every_operation_once(both):
    for result in both.values():
        assert (result.layers["tokens"] == 384).all()


def test_static_layers_and_overhead(both):
    static = {m: r.layers[r.layers.kind == "static_linear"] for m, r in both.items()}
    assert len(static["hybrid"]) == len(static["aimc-only"]) == 24 * 15
    assert (static["hybrid"]["rank"] == 8).all() and (static["aimc-only"]["rank"] == 0).all()
    overhead = static["hybrid"]["latency_ns"].to_numpy() / static["aimc-only"][
        "latency_ns"].to_numpy() - 1
    assert (overhead >= 0).all()


def test_tcdm_never_above_capacity(both, hybrid_arch):
    for result in both.values():
        assert result.summary["tcdm_peak_bytes"] <= hybrid_arch.pmca.tcdm_bytes
        assert (result.layers["tcdm_peak_bytes"] <= hybrid_arch.pmca.tcdm_bytes).all()


def test_no_cluster_runs_two_kernels_at_once(both):
    timeline = both["hybrid"].timeline
    for _, rows in timeline[timeline.component.str.startswith("pmca:")].groupby("component"):
        rows = rows.sort_values("start_ns")
        assert (rows["start_ns"].to_numpy()[1:] >= rows["end_ns"].to_numpy()[:-1]).all()


@pytest.mark.parametrize("strategy", ["sequential", "overlapped", "double-buffered"])
@pytest.mark.parametrize("between", ["streaming", "layer-by-layer"])
def test_strategies_conserve_tokens_and_capacity(strategy, between):
    arch = make_arch(pipeline={"strategy": strategy, "parallel_tokens": 8,
                               "between_layers": between})
    result = simulate(arch, small_bert())
    assert (result.layers["tokens"] == 48).all()
    assert result.summary["tcdm_peak_bytes"] <= arch.pmca.tcdm_bytes


def test_double_buffering_is_never_slower_than_one_block_in_flight():
    work = parse_workload(linear_workload(128, 512, 128))
    latency = {
        s: simulate(make_arch(pipeline={"strategy": s, "parallel_tokens": 16}), work, "hybrid")
        .layers.iloc[0].latency_ns
        for s in ("sequential", "overlapped", "double-buffered")
    }
    assert latency["double-buffered"] <= latency["overlapped"] <= latency["sequential"]


def test_block_that_does_not_fit_tcdm_is_a_clear_error():
    arch = make_arch(pipeline={"parallel_tokens": 384})
    with pytest.raises(CapacityError, match=r"test.yaml: pipeline.parallel_tokens = 384 needs "
                       r"(at least )?\d+ bytes of TCDM on cluster \d+ for 'b0\.\w+'.*above pmca.tcdm_bytes = "
                       r"131072; parallel_tokens <= \d+ fits"):
        simulate(arch, small_bert(384, 1))


def test_a_refusal_is_remembered_and_names_each_file(monkeypatch):
    """The TCDM check memoises refusals too (a sweep's points refuse the same block size over
    and over): the second architecture's refusal names its own file, with the same bytes."""
    from aimcsim.sim import feasibility
    from aimcsim.spec.arch import parse_arch

    check, checks = feasibility.check_tcdm, []
    monkeypatch.setattr(feasibility, "check_tcdm",
                        lambda *args: checks.append(args) or check(*args))
    feasibility._checked.cache_clear()
    work = small_bert(384, 1)
    errors = []
    for name in ("first.yaml", "second.yaml"):
        arch = parse_arch(arch_doc(pipeline={"parallel_tokens": 384}), name)
        with pytest.raises(CapacityError) as caught:
            simulate(arch, work)
        errors.append(caught.value)
    first, second = errors
    assert str(first).startswith("first.yaml: ") and str(second).startswith("second.yaml: ")
    assert str(first).removeprefix("first.yaml") == str(second).removeprefix("second.yaml")
    assert (first.needed_bytes, first.capacity_bytes) == (second.needed_bytes,
                                                          second.capacity_bytes)
    # (the second run read the memo: the first checked 384 once, then bisected the run's best)
    assert sum(args[0].pipeline.parallel_tokens == 384 for args in checks) == 1


def test_a_refused_block_size_names_the_largest_that_fits_every_op():
    """The refusal names the op that does not fit and the largest block every op of the run
    fits: the run takes that block size, and not one more."""
    import re

    from aimcsim.spec.arch import parse_arch

    work = small_bert(384, 1)
    with pytest.raises(CapacityError) as caught:
        simulate(parse_arch(arch_doc(pipeline={"parallel_tokens": 384}), "big.yaml"), work)
    found = re.search(r"; parallel_tokens <= (\d+) fits it; parallel_tokens <= (\d+) fits every "
                      r"op of the run \(`aimcsim search` gives each op a block size of its own\)$",
                      str(caught.value))
    assert found, str(caught.value)
    op_best, run_best = int(found[1]), int(found[2])
    assert 0 < run_best < op_best < 384
    simulate(parse_arch(arch_doc(pipeline={"parallel_tokens": run_best}), "fits.yaml"), work)
    with pytest.raises(CapacityError):
        simulate(parse_arch(arch_doc(pipeline={"parallel_tokens": run_best + 1}), "more.yaml"),
                 work)


def test_remainder_block_and_single_token():
    for tokens in (1, 37):
        result = simulate(make_arch(), parse_workload(linear_workload(tokens, 128, 512, "relu")))
        assert (result.layers["tokens"] == tokens).all()


def test_two_runs_are_identical():
    arch = make_arch(pipeline={"strategy": "double-buffered", "parallel_tokens": 8})
    a, b = simulate(arch, small_bert()), simulate(arch, small_bert())
    pd.testing.assert_frame_equal(a.layers, b.layers)
    pd.testing.assert_frame_equal(a.timeline, b.timeline)
    assert a.summary == b.summary


def test_shared_bus_contends_where_point_to_point_does_not():
    bert = small_bert(48, 1)
    p2p = simulate(make_arch(), bert, "hybrid")
    bus = simulate(make_arch(interconnect={"topology": "shared-bus"}), bert, "hybrid")
    assert (bus.layers["tokens"] == 48).all()
    assert bus.summary["links"] == 1 and p2p.summary["links"] > 1
    assert bus.summary["total_latency_ns"] >= p2p.summary["total_latency_ns"]
    assert bus.layers["stall_ns"].sum() > p2p.layers["stall_ns"].sum()
    transfers = bus.timeline[bus.timeline.activity == "transfer"].sort_values("start_ns")
    serial_ns = transfers.end_ns - transfers.start_ns - 4  # minus the head latency
    # one link: serialisation intervals never overlap
    assert (transfers.start_ns.to_numpy()[1:] >= (transfers.start_ns + serial_ns).to_numpy()[:-1]).all()


def test_mesh_conserves_tokens_and_is_never_faster_than_dedicated_links():
    bert = small_bert(48, 1)
    p2p = simulate(make_arch(), bert, "hybrid")
    mesh = simulate(make_arch(interconnect={"topology": "mesh", "hop_latency_cycles": 2}), bert,
                    "hybrid")
    assert (mesh.layers["tokens"] == 48).all()
    assert mesh.summary["total_latency_ns"] >= p2p.summary["total_latency_ns"]
    assert mesh.summary["tcdm_peak_bytes"] <= 131072


def test_layer_rows_are_built_by_name():
    from aimcsim.results import LAYER_COLUMNS, layer_row

    values = {c: i for i, c in enumerate(LAYER_COLUMNS)}
    assert list(layer_row(**dict(reversed(values.items())))) == list(LAYER_COLUMNS)
    with pytest.raises(KeyError, match="missing \\['block'\\]"):
        layer_row(**{c: 0 for c in LAYER_COLUMNS if c != "block"})
    with pytest.raises(KeyError, match="unknown \\['blocks'\\]"):
        layer_row(**values, blocks=1)
