"""PULP-NN's register-blocked matmul on load-use cores against hand counts and closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_arch
from hypothesis import given, settings
from hypothesis import strategies as st

from aimcsim.hw.pmca import ThroughputPmca, loaduse
from aimcsim.hw.pmca.cycle_level import CycleLevelPmca


def pulp(**pmca):
    """A PULP-like cluster: int8, 4 lanes (sdotp), 16 banks of 32 bit, no streaming."""
    base = {"macs_per_cycle": {"int8": 4}, "tcdm_banks": 16, "bank_width_bytes": 4,
            "streaming": False, "loop_overhead_cycles": 0, "dma_bytes_per_cycle": 8}
    return make_arch(pmca={**base, **pmca}, lora={"dtype": "int8"}).pmca


def test_the_published_inner_loop_by_hand():
    """One 2 x 4 micro-tile on one core, counted from pulp_nn_matmul.c: 6 pointers and the
    hardware loop (7), 8 accumulators zeroed, 16 steps of 6 loads + 8 sdotp, then per output
    a shift, a clip and a store."""
    pmca = pulp(cores=1)
    stats = CycleLevelPmca(pmca, "int8").matmul(2, 64, 4)
    assert stats.compute_cycles == 7 + 8 + 16 * (6 + 8) + 8 * 3 == 263
    assert stats.stall_cycles == 0 and stats.cycles == 263 + 24 + 16
    # accumulating: each accumulator starts from its C value (a load and a shift)
    acc = CycleLevelPmca(pmca, "int8").matmul(2, 64, 4, accumulate=True)
    assert acc.compute_cycles == 263 + 8


@settings(max_examples=60, deadline=None)
@given(m=st.integers(1, 9), k=st.integers(1, 70), n=st.integers(1, 11),
       overhead=st.integers(0, 3), latency=st.integers(1, 30), accumulate=st.booleans())
def test_one_core_equals_its_closed_form_and_the_throughput_model(m, k, n, overhead, latency,
                                                                  accumulate):
    """One core issues one TCDM access a cycle: nothing to conflict with."""
    pmca = pulp(cores=1, loop_overhead_cycles=overhead, fpu_latency_cycles={"int8": latency})
    stats = CycleLevelPmca(pmca, "int8").matmul(m, k, n, accumulate=accumulate)
    assert stats.conflicts == 0 and stats.stall_cycles == 0
    closed = loaduse.closed_form_cycles(m, k, n, 1, 4, overhead, latency, accumulate)
    assert stats.compute_cycles == closed
    assert stats.cycles == ThroughputPmca(pmca, "int8").matmul(m, k, n,
                                                               accumulate=accumulate).cycles


def test_a_long_latency_sets_the_step_period():
    """With 8 accumulators and 6 loads a step lasts 14 cycles; a 20-cycle dependency makes it 20."""
    short = loaduse.tile_cycles(2, 4, 10, 0, 14, False)
    long = loaduse.tile_cycles(2, 4, 10, 0, 20, False)
    assert long - short == 9 * 6


@pytest.mark.parametrize(("m", "n", "cores"), [(16, 8, 8), (16, 512, 8), (7, 13, 3), (1, 1, 8)])
def test_every_output_belongs_to_exactly_one_micro_tile_of_one_core(m, n, cores):
    first, tiles_n = loaduse.plan(m, n, cores)
    covered = np.zeros((m, n), np.int64)
    for begin, stop in first:
        for t in range(begin, stop):
            i0, j0 = loaduse.MR * (t // tiles_n), loaduse.NR * (t % tiles_n)
            covered[i0:i0 + loaduse.MR, j0:j0 + loaduse.NR] += 1
    assert (covered == 1).all()
    sizes = first[:, 1] - first[:, 0]
    assert sizes.max() - sizes[sizes > 0].min() <= sizes.max()  # contiguous shares
    assert sizes.sum() == -(-m // loaduse.MR) * tiles_n


@pytest.mark.parametrize(("m", "k", "n"), [(16, 512, 8), (32, 32, 32), (16, 8, 64)])
def test_the_layout_chosen_is_the_best_candidate_run_in_full(m, k, n):
    pmca = pulp()
    chosen = CycleLevelPmca(pmca, "int8").matmul(m, k, n)
    runs = {}
    for layout in loaduse.layouts(m, k, n, 4, 1, 4, 16):
        cycles = loaduse.loaduse_matmul(8, 16, 4, 4, 1, 0, 1, m, k, n, False,
                                        layout=layout)[0]
        runs[layout] = (cycles, loaduse.padding_bytes(m, n, 4, layout[0], layout[1]))
    best = min(runs.values())
    assert (chosen.compute_cycles + chosen.stall_cycles, chosen.padding_bytes) == best


def test_eight_cores_beat_the_one_output_at_a_time_kernel_by_register_reuse():
    """PULP-NN's 4 x 2 blocking: 32 MACs per 14 issue slots, against 4 per 3 (load a, load b,
    sdotp) when every operand is loaded for every output."""
    stats = CycleLevelPmca(pulp(), "int8").matmul(64, 64, 64)
    macs_per_cycle = stats.macs / stats.compute_cycles
    # 64 micro-tiles of 512 MACs per core, 263 cycles each (see the hand count above)
    assert macs_per_cycle == pytest.approx(8 * 512 / 263)
    assert macs_per_cycle < 32 * 8 / 14
    assert stats.macs / (stats.compute_cycles + stats.stall_cycles) > 4 * 8 / 3 * 1.3
