"""The engine's gates: the TCDM pool serves requests in arrival order, and a streaming consumer
waits for the producer blocks that hold its tokens."""

from __future__ import annotations

import simpy
from conftest import linear_workload, make_arch

from aimcsim import simulate
from aimcsim.hw.pmca.pool import Cluster
from aimcsim.spec.workload import parse_workload


def test_tcdm_pool_serves_in_arrival_order():
    """A small request that would fit waits behind an earlier large one (no starvation)."""
    env = simpy.Environment()
    pool = Cluster(env, tcdm_bytes=100, resident_bytes=0)
    assert pool.allocate(60) is None  # taken at once
    big = pool.allocate(70)  # does not fit: waits
    small = pool.allocate(30)  # would fit, but an earlier request waits
    assert big is not None and small is not None
    assert not big.triggered and not small.triggered and pool.used_bytes == 60
    pool.release(60)  # 100 free: the big one first, then 30 left for the small one
    assert big.triggered and small.triggered and pool.used_bytes == 100
    pool.release(70)
    pool.release(30)
    assert pool.used_bytes == 0 and pool.peak_bytes == 100


def test_streaming_consumer_waits_for_the_blocks_that_hold_its_tokens():
    """fc streams 16-token blocks to a cheap ReLU on the cluster: ReLU block b cannot start
    before fc's tile has produced block b (its b-th burst has ended)."""
    arch = make_arch(pipeline={"between_layers": "streaming", "parallel_tokens": 16},
                     aimc={"integration_time_ns": 512})
    work = parse_workload(linear_workload(96, 128, 128, tail="relu"))
    timeline = simulate(arch, work, "aimc-only").timeline
    bursts = timeline[(timeline.layer == "fc") & (timeline.activity == "mvm")]
    relus = timeline[(timeline.layer == "act") & (timeline.activity == "relu")]
    assert len(bursts) == len(relus) == 96 // 16
    for produced, consumed in zip(sorted(bursts.end_ns), sorted(relus.start_ns), strict=True):
        assert consumed >= produced
    # and it does not wait for more: the first ReLU runs while fc's tile is still busy
    assert sorted(relus.start_ns)[0] < max(bursts.end_ns)
