"""Task switches (LoRA reloading) in closed form, and a seeded request stream."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import ROOT, arch_doc, linear_workload

from aimcsim.cli import main
from aimcsim.reload import request_stream, switch_cost
from aimcsim.spec.arch import parse_arch
from aimcsim.spec.workload import parse_workload

TECH = str(ROOT / "tech" / "pcm14.yaml")


def _arch(**extra):
    return parse_arch({**arch_doc(), "technology": TECH,
                       "memory": {"offchip_gb_per_s": 25.6}, **extra}, "a.yaml")


def test_one_switch_in_closed_form():
    """One 1024 x 512 layer, rank 8, FP16: A and B are (1024 + 512) x 8 x 2 = 24,576 bytes;
    from L2 two descriptors (20 cycles each) and 384 beats of 64 bytes at 1 GHz; off chip at
    25.6 GB/s, 960 ns; energy: read and TCDM write per byte (the unbounded L2 priced at the
    32 KiB its 8 banks need to keep them: 4 KiB banks of 512-bit words)."""
    from aimcsim.cost import prices
    from aimcsim.spec.tech import load_technology

    work = parse_workload(linear_workload(16, 1024, 512), "w.yaml")
    arch = _arch()
    l2 = switch_cost(arch, work, "l2")
    assert l2.bytes == 24_576 and l2.cluster_bytes == (24_576,)
    assert l2.latency_ns == 2 * 20 + 384
    tech, price = load_technology(TECH), prices(arch, 8 * 4096)
    read = tech.sram.price(4096, 512).read_pj / 64 + tech.pmca.dma_pj_per_byte
    assert price.dma_pj_per_byte == pytest.approx(read)
    assert l2.energy_pj == pytest.approx(24_576 * (read + price.tcdm_write_pj_per_byte))
    off = switch_cost(arch, work, "offchip")
    assert off.latency_ns == 960.0
    assert off.energy_pj == pytest.approx(24_576 * (10.9 + price.tcdm_write_pj_per_byte))


def test_clusters_reload_together_and_share_the_offchip_bandwidth(hybrid_arch, mobilebert):
    cost = switch_cost(hybrid_arch, mobilebert, "l2")
    assert len(cost.cluster_bytes) == 360 and cost.bytes == sum(cost.cluster_bytes)
    widest = max(cost.cluster_bytes)
    assert cost.latency_ns == 2 * 20 + math.ceil(widest / 64)  # the slowest cluster
    off = switch_cost(hybrid_arch, mobilebert, "offchip")
    assert off.latency_ns == pytest.approx(cost.bytes / 25.6, abs=0.001)


def test_a_request_stream_counts_its_switches():
    work = parse_workload(linear_workload(16, 512, 512), "w.yaml")
    arch = _arch()
    one = request_stream(arch, work, tasks=1, requests=20, seed=3)
    assert one["switches"] == 0 and one["total_latency_ns"] == 20 * one["request_latency_ns"]
    mix = request_stream(arch, work, tasks=4, requests=50, seed=3)
    order = np.random.default_rng(3).integers(4, size=50)
    assert mix["switches"] == int((order[1:] != order[:-1]).sum())
    assert mix["total_latency_ns"] == pytest.approx(
        50 * mix["request_latency_ns"] + mix["switches"] * mix["switch_latency_ns"])
    assert mix == request_stream(arch, work, tasks=4, requests=50, seed=3)


def test_reload_refusals(tmp_path, capsys):
    work = parse_workload(linear_workload(16, 512, 512), "w.yaml")
    with pytest.raises(ValueError, match="need the memory section"):
        switch_cost(parse_arch(arch_doc(), "a.yaml"), work, "offchip")
    arch = tmp_path / "a.yaml"
    arch.write_text("version: 1\nextends: " + str(ROOT / "arch" / "hybrid.yaml") + "\n")
    assert main(["reload", str(arch), str(ROOT / "workloads" / "mobilebert.yaml"),
                 "--tasks", "0"]) == 2
    assert "--tasks and --requests must be in 1..1000000" in capsys.readouterr().err
    assert main(["reload", str(ROOT / "arch" / "aimc_only.yaml"),
                 str(ROOT / "workloads" / "mobilebert.yaml")]) == 2
    err = capsys.readouterr().err
    assert "aimc_only.yaml: mode: aimc-only merges the adapters" in err and "hybrid" in err
