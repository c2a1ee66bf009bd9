"""The register-blocked streaming matmul (Snitch GEMM micro-kernels) against its closed form."""

from __future__ import annotations

import itertools

import pytest
from conftest import make_arch

from aimcsim.hw.pmca import ThroughputPmca
from aimcsim.hw.pmca.cycle_level import CycleLevelPmca
from aimcsim.hw.pmca.microtile import (
    closed_form_cycles,
    coprime_padding,
    layouts,
    microtile_matmul,
    padding_bytes,
    tile_instructions,
)

SHAPES = [(1, 64, 8), (2, 64, 16), (2, 16, 16), (1, 8, 32), (2, 8, 64), (1, 8, 8), (3, 24, 20),
          (5, 7, 9)]
LANES_BYTES = [(1, 8), (2, 4), (4, 2)]  # fp64, fp32 x2, fp16 x4 in 64-bit words


@pytest.mark.parametrize(("m", "k", "n"), SHAPES)
def test_one_core_without_conflicts_equals_the_closed_form(m, k, n):
    """4,096 banks: no request is ever refused, so every cycle is the closed form's."""
    for (lanes, eb), dataflow, latency, accumulate in itertools.product(
            LANES_BYTES, ("k-simd", "n-simd"), (1, 2, 4), (False, True)):
        if dataflow == "n-simd" and lanes == 1:
            continue
        cycles, _, conflicts, _, _ = microtile_matmul(1, 4096, 8, lanes, eb, latency, 4,
                                                      m, k, n, dataflow, accumulate)
        assert conflicts == 0
        assert cycles == closed_form_cycles(m, k, n, 1, dataflow, lanes, eb, 8, latency,
                                            accumulate), (lanes, dataflow, latency, accumulate)


def test_a_write_stream_slower_than_its_fifo_holds_the_fpu():
    """One lane, FPU latency 9 > 4 credits: results wait in the write stream's FIFO and the
    FPU stalls when it is full; the closed form is then a lower bound."""
    cycles, stalls, *_ = microtile_matmul(1, 4096, 8, 1, 8, 9, 4, 2, 16, 16, "k-simd", False)
    ideal = closed_form_cycles(2, 16, 16, 1, "k-simd", 1, 8, 8, 9, False)
    assert cycles > ideal and stalls > 0


def test_fpu_latency_is_hidden_by_eight_accumulators_not_by_fewer():
    wide = closed_form_cycles(1, 64, 8, 1, "k-simd", 1, 8, 8, 4, False)
    narrow = closed_form_cycles(1, 64, 2, 1, "k-simd", 1, 8, 8, 4, False)
    assert wide == 64 * 8 + 4  # one FMA a cycle, then the last result's latency
    assert narrow == 64 * 2 + 63 * 2 + 4  # each step waits 2 cycles for its accumulators


def test_published_instruction_counts():
    # gemm_fp16_opt, 8 outputs: 8 zeroing packs; 8 x (vfcpka, vfsumex, vfcpka, vfsum), 4 packs,
    # 2 fsd after the loop; accumulating: 8 flh counted as 2 word loads, 8 vfcvt, 16 vfcpka
    assert tile_instructions("k-simd", 8, 4, 2, 8, False) == (2, 8, 38)
    assert tile_instructions("k-simd", 8, 4, 2, 8, True) == (2, 24, 38)
    # gemm_fp64_opt: nothing around the FREP loop (fmul first, the write stream last)
    assert tile_instructions("k-simd", 8, 1, 8, 8, False) == (8, 0, 0)
    # vectorised along n: 8 vectors of 4 outputs zeroed, then stored: 8 words
    assert tile_instructions("n-simd", 8, 4, 2, 8, False) == (8, 8, 8)


def test_candidate_layouts_pad_rows_as_a_kernel_writer_would():
    assert coprime_padding(128, 32) == 1 and coprime_padding(3, 32) == 0
    assert coprime_padding(12, 24) == 1 and coprime_padding(4, 6) == 1
    # X A of a 16-token block: rows of 128 words; A as is or to 129, B as is, 129 or 130
    assert layouts("k-simd", 16, 512, 8, 4, 2, 8, 32) == [(0, 0), (0, 1), (0, 2), (1, 0),
                                                          (1, 1), (1, 2)]
    assert padding_bytes("k-simd", 16, 512, 8, 4, 2, 8, 1, 2) == (16 * 1 + 8 * 2) * 8
    assert layouts("k-simd", 1, 512, 1, 4, 2, 8, 32) == [(0, 0)]  # single rows: nothing


def test_the_layout_chosen_is_the_best_candidate_run_in_full():
    pmca = make_arch().pmca
    for m, k, n in [(16, 512, 8), (16, 8, 512), (16, 8, 8), (16, 128, 16), (24, 64, 24),
                    (7, 33, 5), (32, 32, 384)]:
        runs = []
        for dataflow in ("k-simd", "n-simd"):
            for pads in layouts(dataflow, m, k, n, 4, 2, 8, 32):
                cycles = microtile_matmul(8, 32, 8, 4, 2, 1, 4, m, k, n, dataflow, False,
                                          pads=pads)[0]
                runs.append((cycles + 40, padding_bytes(dataflow, m, k, n, 4, 2, 8, *pads)))
        stats = CycleLevelPmca(pmca, "fp16").matmul(m, k, n)
        assert (stats.cycles, stats.padding_bytes) == min(runs), (m, k, n)


def test_padding_takes_the_lock_step_collisions_away():
    """X A of a 16-token block on 8 cores: unpadded rows 128 words apart put every core's
    streams in one bank."""
    pmca = make_arch().pmca
    stats = CycleLevelPmca(pmca, "fp16").matmul(16, 512, 8)
    assert stats.stall_cycles < 0.2 * stats.compute_cycles
    assert stats.padding_bytes > 0


@pytest.mark.parametrize(("m", "k", "n"), [(16, 512, 8), (16, 8, 512), (64, 64, 64), (7, 33, 5)])
def test_throughput_model_is_the_better_closed_form(m, k, n):
    pmca = make_arch().pmca
    ideal = ThroughputPmca(pmca, "fp16").matmul(m, k, n)
    forms = [closed_form_cycles(m, k, n, pmca.cores, d, 4, 2, 8, 1, False)
             for d in ("k-simd", "n-simd")]
    assert ideal.compute_cycles == min(forms)
    assert CycleLevelPmca(pmca, "fp16").matmul(m, k, n).cycles >= ideal.cycles
