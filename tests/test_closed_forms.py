"""The simulator against closed forms, to the picosecond."""

from __future__ import annotations

from math import ceil

import pytest
from conftest import linear_workload, make_arch

from aimcsim import simulate
from aimcsim.hw.aimc_tile import TileTimer, burst_latency_ps, map_matrix
from aimcsim.hw.pmca import ThroughputPmca
from aimcsim.spec.workload import parse_workload

DAC, INT, ADC = 16, 256, 32  # ns, as in conftest.arch_doc
SETUP, BARRIER, LANES, CORES = 24, 16, 4, 8  # cluster cycles at 1 GHz = ns
LINK_LAT, LINK_BPC, EB = 4, 32, 2


@pytest.mark.parametrize("pipelined", [True, False])
@pytest.mark.parametrize("tokens", [1, 2, 17, 384])
def test_tile_burst_matches_closed_form(pipelined, tokens):
    tile = make_arch(aimc={"pipelined": pipelined}).aimc
    expected_ns = DAC + tokens * INT + ADC if pipelined else tokens * (DAC + INT + ADC)
    assert burst_latency_ps(tokens, tile) == expected_ns * 1000
    start, end = TileTimer(tile).run(5_000, tokens)
    assert (start, end - start) == (5_000, expected_ns * 1000)


def test_tile_timer_carries_state_between_bursts():
    timer = TileTimer(make_arch().aimc)
    _, end_a = timer.run(0, 4)
    start_b, end_b = timer.run(0, 4)  # inputs already there: the pipeline does not drain
    assert end_a == (DAC + 4 * INT + ADC) * 1000
    assert start_b == 4 * DAC * 1000
    assert end_b == (DAC + 8 * INT + ADC) * 1000


def test_matrix_tiling():
    tile = make_arch(aimc={"rows": 256, "cols": 256}).aimc
    m = map_matrix(512, 128, tile)
    assert (m.row_splits, m.col_splits, m.tiles) == (2, 1, 2)
    assert map_matrix(1, 1, tile).tiles == 1 and map_matrix(257, 513, tile).tiles == 6


@pytest.mark.parametrize("pipelined", [True, False])
def test_tile_bound_layer_is_tokens_times_integration_plus_fill_and_drain(pipelined):
    arch = make_arch(aimc={"pipelined": pipelined})
    result = simulate(arch, parse_workload(linear_workload(384, 128, 128)), "aimc-only")
    row = result.layers.iloc[0]
    expected = DAC + 384 * INT + ADC if pipelined else 384 * (DAC + INT + ADC)
    assert row.latency_ns == expected
    assert row.aimc_busy_ns == expected and row.tokens == 384


def test_link_transfer_is_latency_plus_bytes_over_bandwidth():
    tokens, block, width = 64, 16, 128
    arch = make_arch(pipeline={"parallel_tokens": block})
    result = simulate(arch, parse_workload(linear_workload(tokens, width, width, tail="relu")),
                      "aimc-only")
    layers = result.layers.set_index("layer")
    act, fc = layers.loc["act"], layers.loc["fc"]
    transfer_ns = LINK_LAT + ceil(block * width * EB / LINK_BPC)
    # the tile sends each output block to its cluster, where the relu runs
    assert fc.noc_busy_ns == (tokens // block) * transfer_ns and act.noc_busy_ns == 0
    assert fc.latency_ns == DAC + tokens * INT + ADC  # the transfers follow the compute span
    # the first relu starts when the tile's first burst has crossed the link
    assert act.start_ns == DAC + block * INT + ADC + transfer_ns
    links = result.timeline[result.timeline.activity == "transfer"]
    assert set(links.end_ns - links.start_ns) == {transfer_ns}


@pytest.mark.parametrize("topology", ["point-to-point", "shared-bus"])
def test_link_utilisation_is_its_serialisation_not_its_head_latency(topology):
    """A transfer holds its link for ceil(bytes / width) cycles; the head latency follows
    without holding it. With a head latency of about three of the tile's bursts, the four
    output blocks are in flight at once: their transfer times add up to more than the run."""
    tokens, block, width, latency = 64, 16, 128, 12_800
    arch = make_arch(interconnect={"topology": topology, "latency_cycles": latency},
                     pipeline={"parallel_tokens": block})
    result = simulate(arch, parse_workload(linear_workload(tokens, width, width, tail="relu")),
                      "aimc-only")
    serial_ns = ceil(block * width * EB / LINK_BPC)
    summary = result.summary
    assert summary["links"] == 1
    assert result.layers.noc_busy_ns.sum() == (tokens // block) * (latency + serial_ns)
    assert result.layers.noc_busy_ns.sum() > summary["total_latency_ns"]
    assert summary["utilisation"]["noc"] == pytest.approx(
        (tokens // block) * serial_ns / summary["total_latency_ns"], rel=1e-12)


def _lora_cycles(block: int, d_in: int, d_out: int, rank: int) -> tuple[int, int, int, int]:
    """X A, T B, T B accumulated onto C, and the final add, per block: the conflict-free
    cluster's kernels (their own closed forms are checked in test_pmca_microtile); the add
    streams one SIMD vector a cycle, +1 to store the last result."""
    model = ThroughputPmca(make_arch().pmca, "fp16")
    xa = model.matmul(block, d_in, rank).cycles
    tb = model.matmul(block, rank, d_out).cycles
    tb_acc = model.matmul(block, rank, d_out, accumulate=True).cycles
    add = SETUP + ceil(ceil(block * d_out / CORES) / LANES) * 1 + 1 + BARRIER
    return xa, tb, tb_acc, add


def _branch(block: int, d_in: int, d_out: int, rank: int, tile_output: str) -> tuple[int, int]:
    """(pre, post) cycles of a block: in place, T B waits for the tile output and accumulates
    onto it; separate, T B runs with X A and a final add joins the tile output."""
    xa, tb, tb_acc, add = _lora_cycles(block, d_in, d_out, rank)
    return (xa, tb_acc) if tile_output == "in-place" else (xa + tb, add)


THROUGHPUT = {"timing": "throughput"}  # the conflict-free cluster: closed forms hold exactly


@pytest.mark.parametrize("tile_output", ["in-place", "separate"])
@pytest.mark.parametrize("strategy", ["sequential", "overlapped"])
def test_hybrid_layer_matches_its_analytic_cycles(strategy, tile_output):
    tokens, block, d_in, d_out, rank = 64, 16, 512, 512, 8
    arch = make_arch(pipeline={"strategy": strategy, "parallel_tokens": block,
                               "tile_output": tile_output}, pmca=THROUGHPUT)
    result = simulate(arch, parse_workload(linear_workload(tokens, d_in, d_out)), "hybrid")
    row = result.layers.iloc[0]
    tile = DAC + block * INT + ADC
    y_link = LINK_LAT + ceil(block * d_out * EB / LINK_BPC)
    pre, post = _branch(block, d_in, d_out, rank, tile_output)
    if strategy == "sequential":
        per_block = tile + y_link + pre + post
    else:
        per_block = max(tile + y_link, pre) + post
    assert row.latency_ns == (tokens // block) * per_block
    assert row.pmca_busy_ns == (tokens // block) * (pre + post)
    assert row["rank"] == rank and row.tokens == tokens
    # X, T and the tile output (which U shares in place, or beside it), A and B resident
    per_token = d_in + rank + d_out + (d_out if tile_output == "separate" else 0)
    assert row.tcdm_peak_bytes == (block * per_token + (d_in + d_out) * rank) * EB


@pytest.mark.parametrize("tile_output", ["in-place", "separate"])
def test_pmca_bound_layer_is_slower_than_its_tile(tile_output):
    """128 ns tiles: the cluster's branch takes longer than the MVMs it hides behind. Separate,
    X A B outlasts the tile; in place, X A hides behind the tile but T B then follows it."""
    arch = make_arch(aimc={"integration_time_ns": 128},
                     pipeline={"parallel_tokens": 16, "tile_output": tile_output},
                     pmca=THROUGHPUT)
    result = simulate(arch, parse_workload(linear_workload(64, 512, 512)), "hybrid")
    row = result.layers.iloc[0]
    pre, post = _branch(16, 512, 512, 8, tile_output)
    tile_and_link = DAC + 16 * 128 + ADC + LINK_LAT + ceil(16 * 512 * EB / LINK_BPC)
    if tile_output == "separate":
        assert pre > tile_and_link
        assert row.latency_ns == 4 * (pre + post)
    else:
        assert pre < tile_and_link
        assert row.latency_ns == 4 * (tile_and_link + post)


def test_mobilebert_query_projection_aimc_only(mobilebert, hybrid_arch):
    result = simulate(hybrid_arch, mobilebert, "aimc-only")
    q = result.layers.set_index("layer").loc["b0.query"]
    assert (q.d_in, q.d_out, q.tokens) == (128, 128, 384)
    assert q.latency_ns == 384 * 256 + hybrid_arch.aimc.dac_ns + hybrid_arch.aimc.adc_ns


def test_xy_routing_on_a_mesh():
    from aimcsim.hw.interconnect.mesh import xy_route

    assert xy_route(0, 8, 3) == [(0, 1), (1, 2), (2, 5), (5, 8)]
    assert xy_route(8, 0, 3) == [(8, 7), (7, 6), (6, 3), (3, 0)]
    assert xy_route(4, 4, 3) == []


def test_mesh_transfer_is_latency_plus_hops_plus_bytes_over_bandwidth():
    tokens, block, width, hop = 32, 16, 128, 3
    ops = [
        {"name": "fc1", "kind": "static_linear", "d_in": width, "d_out": width,
         "inputs": [{"from": "input"}]},
        {"name": "fc2", "kind": "static_linear", "d_in": width, "d_out": width,
         "inputs": [{"from": "fc1"}]},
    ]
    work = parse_workload({"version": 1, "tokens": tokens, "input": {"width": width},
                           "ops": ops})
    arch = make_arch(interconnect={"topology": "mesh", "hop_latency_cycles": hop},
                     pipeline={"parallel_tokens": block}, pmca=THROUGHPUT)
    result = simulate(arch, work, "hybrid")
    moves = result.timeline[(result.timeline.activity == "transfer")]
    serial = ceil(block * width * EB / LINK_BPC)
    # fc1's cluster (node 0) sends to fc2's tile and cluster (node 1): one hop
    across = moves[moves.component == "link:node0->node1"]
    assert len(across) == 2 * (tokens // block)
    assert set(across.end_ns - across.start_ns) == {LINK_LAT + hop + serial}
    # within a node (tile -> its cluster) no hop is paid
    local = moves[moves.component == "link:tile:fc1->pmca:0"]
    assert set(local.end_ns - local.start_ns) == {LINK_LAT + serial}
