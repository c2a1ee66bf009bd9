"""RedMulE's schedule: closed form, cycle-level model, hand counts and the RTL's constraint."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import make_arch, small_bert
from hypothesis import given, settings
from hypothesis import strategies as st

from aimcsim import simulate
from aimcsim.errors import SpecError
from aimcsim.hw.pmca import ThroughputPmca, redmule
from aimcsim.hw.pmca.cycle_level import CycleLevelPmca, run_kernel

ENGINE = {"rows": 8, "height": 4, "pipe_regs": 3}


def test_one_compute_bound_tile_by_hand():
    """8 x 16 output, k = 64: pass 0 waits for 8 X lines and 4 W lines; 16 passes of 16
    cycles follow back to back (4 W lines each, X every 4 passes); the results leave the chain
    16 cycles after the last pass and go out in 8 store lines."""
    cycles = redmule.closed_form_cycles(8, 64, 16, 8, 4, 3, 2, 8, False)
    assert cycles == 12 + 16 * 16 + 16 + 8
    assert redmule.engine_matmul(8, 64, 16, 8, 4, 3, 2, 8, 32, False)[0] == cycles


@settings(max_examples=80, deadline=None)
@given(m=st.integers(1, 40), k=st.integers(1, 80), n=st.integers(1, 40),
       height=st.integers(1, 6), pipe_regs=st.integers(1, 4), eb=st.sampled_from([1, 2]),
       accumulate=st.booleans(), data=st.data())
def test_the_engine_alone_meets_its_closed_form(m, k, n, height, pipe_regs, eb, accumulate,
                                                data):
    """The engine's own lines are consecutive words (no two in one bank): without cores or a
    DMA no request is refused, and the cycle-level run is the closed form."""
    rows = data.draw(st.integers(1, height * pipe_regs))
    closed = redmule.closed_form_cycles(m, k, n, rows, height, pipe_regs, eb, 8, accumulate)
    end, stall, conflicts, *_ = redmule.engine_matmul(m, k, n, rows, height, pipe_regs, eb, 8,
                                                      64, accumulate)
    assert conflicts == 0 and stall == 0 and end == closed
    # no faster than its array (a pass of D cycles per H values of k per tile) or its port
    d = redmule.tile_columns(height, pipe_regs)
    tiles = -(-m // rows) * -(-n // d)
    assert closed >= tiles * -(-k // height) * d
    tables = redmule.schedule(m, k, n, rows, height, pipe_regs, eb, 8, accumulate,
                              *redmule.layout(m, k, n, eb, 8, 64)[:6])
    assert closed >= len(tables[2]) + len(tables[5])


def test_a_dma_alongside_costs_the_engine_its_refused_words():
    plain = redmule.engine_matmul(32, 64, 64, 8, 4, 3, 2, 8, 32, False)
    shared = redmule.engine_matmul(32, 64, 64, 8, 4, 3, 2, 8, 32, False, 4000, 8)
    assert shared[2] > 0 and shared[0] >= plain[0]
    assert shared[3] >= 4000 // 8


def test_the_throughput_model_is_the_closed_form():
    pmca = make_arch(pmca={"matrix_engine": ENGINE}).pmca
    for shape in [(16, 512, 8), (16, 8, 512), (64, 64, 64)]:
        cyc = CycleLevelPmca(pmca, "fp16").matmul(*shape, accumulate=True)
        thr = ThroughputPmca(pmca, "fp16").matmul(*shape, accumulate=True)
        assert cyc.stall_cycles == 0 and cyc.cycles == thr.cycles


def test_skinny_outputs_use_part_of_the_tile():
    """X A with r = 8 fills 8 of a tile's 16 columns: half the array idles; T B (k = 8, an
    accumulating Y) is bound by the port, not the array."""
    pmca = make_arch(pmca={"matrix_engine": ENGINE}).pmca
    xa = run_kernel(pmca, "matmul", 16, 4096, 8)
    assert 0.45 < xa["utilisation"] < 0.5
    tb = CycleLevelPmca(pmca, "fp16").matmul(16, 8, 512, accumulate=True)
    lines = len(redmule.schedule(16, 8, 512, 8, 4, 3, 2, 8, True,
                                 *redmule.layout(16, 8, 512, 2, 8, 32)[:6])[2])
    assert tb.compute_cycles >= lines + 2 * 32  # Y, X and W lines, then Z


def test_rows_beyond_the_rtl_bound_are_refused():
    with pytest.raises(SpecError, match=r"pmca.matrix_engine.rows.*height x pipe_regs = 12"):
        make_arch(pmca={"matrix_engine": {"rows": 13, "height": 4, "pipe_regs": 3}})


def test_matrix_engine_runs_the_network_matmuls():
    """With one core (its element-wise kernels meet no other requester) the engine's network
    run equals the throughput model's, which prices every matmul by RedMulE's closed form."""
    bert = small_bert(32, 1)
    pmca = {"matrix_engine": ENGINE, "cores": 1}
    cycle = simulate(make_arch(pmca=pmca), bert, "hybrid")
    closed = simulate(make_arch(pmca={**pmca, "timing": "throughput"}), bert, "hybrid")
    assert (cycle.layers["tokens"] == 32).all()
    pd.testing.assert_frame_equal(cycle.layers, closed.layers)
    # the query's LoRA block: X A and T B on the engine, then the cores' reduction-free add
    query = cycle.layers.set_index("layer").loc["b0.query"]
    engine = ThroughputPmca(make_arch(pmca=pmca).pmca, "fp16")
    block = engine.matmul(16, 128, 8).cycles + engine.matmul(16, 8, 128, accumulate=True).cycles
    assert query.pmca_busy_ns == 2 * block  # two 16-token blocks at 1 GHz


def test_transposed_orientation_runs_the_transposed_product():
    """C^T = B^T A^T: the n x k x m product; X A with n = r fills the tile's 16 columns with
    the 16 tokens instead of the 8 ranks."""
    normal = make_arch(pmca={"matrix_engine": ENGINE}).pmca
    transposed = make_arch(pmca={"matrix_engine": {**ENGINE, "orientation": "transposed"}}).pmca
    xa = CycleLevelPmca(transposed, "fp16").matmul(16, 512, 8)
    assert xa.cycles == CycleLevelPmca(normal, "fp16").matmul(8, 512, 16).cycles
    assert xa.cycles < CycleLevelPmca(normal, "fp16").matmul(16, 512, 8).cycles
    assert xa.cycles == ThroughputPmca(transposed, "fp16").matmul(16, 512, 8).cycles
    with pytest.raises(SpecError, match=r"orientation.*normal, transposed"):
        make_arch(pmca={"matrix_engine": {**ENGINE, "orientation": "sideways"}})
