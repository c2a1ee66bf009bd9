"""Each layer's latency along its critical path (`Result.critical`): a closed form for one
block, the parts summing to the latency on random architectures, and the figure built on it."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
from conftest import architectures, linear_workload, make_arch, small_bert
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matplotlib.container import BarContainer

from aimcsim import plots, simulate
from aimcsim.errors import CapacityError
from aimcsim.hw.aimc_tile import burst_latency_ps, map_matrix
from aimcsim.hw.interconnect import transfer_cycles
from aimcsim.hw.pmca.cycle_level import cluster_model
from aimcsim.hw.pmca.programs import block_program
from aimcsim.results import CAUSES, critical_path
from aimcsim.spec.arch import parse_arch
from aimcsim.spec.workload import Op, parse_workload


def _parts(result, layer):
    row = result.critical.set_index("layer").loc[layer]
    return {cause: row[cause] for cause in CAUSES}, row["latency_ns"]


@pytest.mark.parametrize("d_in", [128, 1024])  # one row slice, two (partial sums)
def test_one_block_in_closed_form(d_in):
    """A hybrid layer of one block, overlapped: X to the tile, the MVMs, Y back, then the
    post kernel (partial sums and C += T B), its cycles split into compute, DMA and bank
    stalls; X A runs beside the tile, off the path."""
    tokens, d_out = 16, 128
    arch = make_arch(pipeline={"parallel_tokens": tokens})
    result = simulate(arch, parse_workload(linear_workload(tokens, d_in, d_out)), "hybrid")
    parts, latency = _parts(result, "fc")
    tile = map_matrix(d_in, d_out, arch.aimc)
    op = Op("fc", 0, "static_linear", "fc", d_in, d_out, ())
    prog = block_program(cluster_model(arch.pmca, "fp16"), op, tokens, eb=2, tile=tile,
                         rank=arch.lora.rank)
    noc, period = arch.interconnect, arch.interconnect.period_ps
    y_link = transfer_cycles(tokens * d_out * tile.row_splits * 2, noc) * period / 1000
    post = prog.post
    assert parts["tile"] == burst_latency_ps(tokens, arch.aimc) / 1000
    assert parts["link"] == y_link  # X came from the network input: no link
    assert parts["cluster compute"] == (post.compute_cycles + post.overhead_cycles) * \
        arch.pmca.period_ps / 1000
    assert parts["bank stalls"] == post.stall_cycles * arch.pmca.period_ps / 1000
    assert parts["DMA"] == post.dma_cycles * arch.pmca.period_ps / 1000
    assert sum(parts.values()) == latency
    assert parts["waiting for inputs"] == parts["waiting for the cluster"] == 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=architectures(tcdm_bytes=st.sampled_from([65_536, 1 << 22]),
                         between=st.sampled_from(["streaming", "layer-by-layer"])),
       tokens=st.integers(1, 24))
def test_the_parts_sum_to_every_latency(doc, tokens):
    """On random architectures (topologies, strategies, spread and fused attention, matrix
    engines, one or two blocks in flight) and both modes: every op's causes are >= 0 and sum
    to its latency to the picosecond."""
    arch = parse_arch(doc, "random.yaml")
    work = small_bert(tokens, layers=1)
    for mode in ("aimc-only", "hybrid"):
        try:
            result = simulate(arch, work, mode)
        except CapacityError:
            return
        crit = result.critical
        assert (crit[list(CAUSES)] >= 0).all().all()
        total = (crit[list(CAUSES)].sum(axis=1) * 1000).round()
        assert (total == (crit["latency_ns"] * 1000).round()).all()
        assert list(crit["layer"]) == list(result.layers["layer"])


def test_waits_show_where_a_resource_is_shared(hybrid_arch):
    """On a shared bus the transfers wait for the link; streaming with two blocks in flight,
    a layer's blocks wait for their inputs and its post kernels for the cluster."""
    work = small_bert(64, layers=1)
    bus = dataclasses.replace(hybrid_arch, interconnect=dataclasses.replace(
        hybrid_arch.interconnect, topology="shared-bus"))
    assert simulate(bus, work, "hybrid").critical["waiting for a link"].sum() > 0
    streaming = dataclasses.replace(hybrid_arch, pipeline=dataclasses.replace(
        hybrid_arch.pipeline, between_layers="streaming", strategy="double-buffered"))
    crit = simulate(streaming, work, "hybrid").critical
    assert crit["waiting for inputs"].sum() > 0 and crit["waiting for the cluster"].sum() > 0


def test_the_walk_across_blocks():
    """Block 1 admitted at block 0's end (one in flight), block 2 after an input gap."""
    chains = [(0, 10, [(0, 10, "tile")]), (10, 25, [(10, 20, "link"), (20, 25, "DMA")]),
              (30, 40, [(30, 40, "cluster compute")])]
    parts = critical_path(chains, 2, 40)
    assert parts["tile"] == 8 and parts["link"] == 10 and parts["DMA"] == 5
    assert parts["waiting for inputs"] == 5 and parts["cluster compute"] == 10
    assert sum(parts.values()) == 38


def test_the_breakdown_uses_the_critical_path(hybrid_arch):
    work = small_bert(32, layers=1)
    both = [simulate(hybrid_arch, work, m) for m in ("aimc-only", "hybrid")]
    layers = pd.concat([r.layers for r in both], ignore_index=True)
    critical = pd.concat([r.critical for r in both], ignore_index=True)
    fig = plots.breakdown(layers, critical=critical)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "latency along the critical path, by cause (µs)"
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    widths = [sum(b.patches[i].get_width() for b in bars) for i in range(len(bars[0]))]
    rows = layers[(layers["mode"] == "hybrid") & (layers["kind"] == "static_linear")]
    assert widths == pytest.approx(list(rows["latency_ns"] / 1e3), rel=1e-9)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "cluster compute" in labels and "AIMC-only latency" in labels
