"""TCDM bank word accesses: what the cycle-level kernels are granted, by requester, against the
formulas of `aimcsim.hw.pmca.traffic`, hand counts, and the stored-record check."""

from __future__ import annotations

from math import ceil

import numpy as np
import pytest
from conftest import make_arch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aimcsim.hw.pmca import KernelStats, ThroughputPmca, loaduse, redmule
from aimcsim.hw.pmca.cycle_level import CycleLevelPmca, run_kernel
from aimcsim.hw.pmca.microtile import closed_forms, layouts, microtile_matmul
from aimcsim.hw.pmca.model import implausible
from aimcsim.hw.pmca.params import ELEMENTWISE_FUNCTIONS
from aimcsim.hw.pmca.tcdm import ACCESSES, accesses
from aimcsim.hw.pmca.traffic import (
    engine_accesses,
    kernel_counters,
    loaduse_accesses,
    matmul_accesses,
    microtile_accesses,
)
from aimcsim.params.units import DTYPE_BYTES

ENGINE = {"rows": 8, "height": 4, "pipe_regs": 3}


def cluster(dtype: str = "fp16", **pmca):
    return make_arch(pmca=pmca, lora={"dtype": dtype}).pmca


#: Clusters whose every kernel is counted: (name, pmca, dtype). Odd core and bank counts, one
#: lane (results through stream 2), elements narrower than a word, both RedMulE orientations.
CLUSTERS = [
    ("snitch fp16", cluster(), "fp16"),
    ("snitch fp64, one lane", cluster("fp64", macs_per_cycle={"fp64": 1},
                                      fpu_latency_cycles={"fp64": 4}), "fp64"),
    ("snitch fp32 one lane in 64-bit words, 3 cores, 17 banks",
     cluster("fp32", macs_per_cycle={"fp32": 1}, cores=3, tcdm_banks=17, stream_fifo_depth=2,
             dma_bytes_per_cycle=24), "fp32"),
    ("snitch fp8, 8 lanes, 5 cores", cluster("fp8", macs_per_cycle={"fp8": 8}, cores=5,
                                             fpu_latency_cycles={"fp8": 3}), "fp8"),
    ("snitch fp16 n-simd only", cluster(matmul_dataflow="n-simd", cores=6, tcdm_banks=24),
     "fp16"),
    ("snitch fp16 2 lanes", cluster(macs_per_cycle={"fp16": 2}, cores=4), "fp16"),
    ("pulp int8", cluster("int8", macs_per_cycle={"int8": 4}, tcdm_banks=16,
                          bank_width_bytes=4, streaming=False, loop_overhead_cycles=0,
                          dma_bytes_per_cycle=8), "int8"),
    ("pulp int8, 3 cores, 2 lanes, 7 banks", cluster(
        "int8", macs_per_cycle={"int8": 2}, cores=3, tcdm_banks=7, bank_width_bytes=4,
        streaming=False, loop_overhead_cycles=2, dma_bytes_per_cycle=12), "int8"),
    ("redmule", cluster(matrix_engine=ENGINE), "fp16"),
    ("redmule transposed, odd geometry", cluster(
        "fp8", macs_per_cycle={"fp8": 8}, tcdm_banks=16,
        matrix_engine={"rows": 3, "height": 3, "pipe_regs": 2, "orientation": "transposed"}),
     "fp8"),
]
IDS = [name for name, _, _ in CLUSTERS]


def counted(stats: KernelStats) -> dict[str, int]:
    return {name: getattr(stats, name) for name in ACCESSES}


def formula(pmca, dtype, kind, dataflow="", **work) -> dict[str, int]:
    counters = kernel_counters(pmca, dtype, kind, dataflow=dataflow, **work)
    return {name: counters[name] for name in ACCESSES}


def picked(model: CycleLevelPmca, m, k, n, dma_bytes, accumulate) -> str:
    """The dataflow the cycle-level model ran ('' where the cluster has no choice)."""
    p = model.pmca
    if p.matrix_engine is not None or not p.streaming:
        return ""
    return model._microtile_matmul(m, k, n, dma_bytes, accumulate)[1]


# ---- by hand -------------------------------------------------------------------------------

def test_a_256_cubed_fp16_k_simd_matmul_reads_144_times_the_operand_bytes(hybrid_arch):
    """The default cluster (8 Snitch cores, 64-bit banks, 4 FP16 lanes), 256 x 256 x 256:
    64 SIMD steps a micro-tile, 32 micro-tiles of 8 outputs a row. Per row and step, stream 0
    reads 32 A words and stream 1 256 B words: 256 x 64 x 288 = 4,718,592 reads; each
    micro-tile stores its 8 FP16 outputs as 2 words: 256 x 32 x 2 = 16,384 writes. In bytes
    (8 a word) that is 144 x the m k + k n operand bytes once counted (262,144), and
    37,879,808 / 393,216 = 96.3 x the operands and result once."""
    p = hybrid_arch.pmca
    expected = {"stream_reads": 4_718_592, "core_writes": 16_384}
    assert {k: v for k, v in matmul_accesses(p, "fp16", 256, 256, 256,
                                             dataflow="k-simd").items() if v} == expected
    run = microtile_matmul(p.cores, p.tcdm_banks, p.bank_width_bytes, 4, 2, 2,
                           p.stream_fifo_depth, 256, 256, 256, "k-simd", False)
    assert {k: v for k, v in accesses(run[4]).items() if v} == expected
    stats = ThroughputPmca(p, "fp16").matmul(256, 256, 256)
    operand_bytes = (256 * 256 + 256 * 256) * 2
    assert stats.tcdm_reads * p.bank_width_bytes == 144 * operand_bytes
    total = (stats.tcdm_reads + stats.tcdm_writes) * p.bank_width_bytes
    assert total == 37_879_808 and round(total / (operand_bytes + 256 * 256 * 2), 1) == 96.3


def test_k_simd_odd_shape_by_hand():
    """3 x 5 x 10 FP16 on 8 cores, accumulating: ceil(5 / 4) = 2 steps; a row is a tile of
    8 outputs (2 words of C) and one of 2 (1 word): per row 2 x (2 A + 10 B) stream reads,
    3 C words loaded and 3 stored."""
    p = cluster()
    expected = {"core_reads": 9, "core_writes": 9, "stream_reads": 72}
    assert {k: v for k, v in matmul_accesses(p, "fp16", 3, 5, 10, True,
                                             dataflow="k-simd").items() if v} == expected
    for pads in layouts("k-simd", 3, 5, 10, 4, 2, 8, 32):  # padding moves, never adds
        run = microtile_matmul(8, 32, 8, 4, 2, 2, 4, 3, 5, 10, "k-simd", True, pads=pads)
        assert {k: v for k, v in accesses(run[4]).items() if v} == expected


def test_n_simd_and_one_lane_by_hand():
    """n-simd 2 x 3 x 9, 4 lanes: 3 vector columns (the last one 1 of 4 lanes used) in one
    tile of 3 accumulators; per row 3 steps of 1 A word + 3 B words; 12 FP16 values = 3 words
    stored. One lane (FP32 in 64-bit words, k-simd) 2 x 3 x 9, accumulating: 3 steps, tiles
    of 8 and 1: per row 3 x (2 + 9) reads and 4 + 1 C words loaded; each of the 18 results
    leaves through stream 2 alone (two to a word, yet one access each)."""
    assert microtile_accesses("n-simd", 2, 3, 9, 4, 2, 8, False) == {
        **dict.fromkeys(ACCESSES, 0), "stream_reads": 24, "core_writes": 6}
    one_lane = {**dict.fromkeys(ACCESSES, 0), "stream_reads": 66, "stream_writes": 18,
                "core_reads": 10}
    assert microtile_accesses("k-simd", 2, 3, 9, 1, 4, 8, True) == one_lane
    run = microtile_matmul(8, 32, 8, 1, 4, 3, 4, 2, 3, 9, "k-simd", True)
    assert accesses(run[4]) == one_lane


def test_loaduse_by_hand():
    """PULP-NN 3 x 10 x 5 int8, 4 lanes: 3 steps; tiles 2 x 4, 2 x 1, 1 x 4, 1 x 1: per step
    each loads its rows of B^T and of A: 3 x (6 + 3 + 5 + 2) = 48 loads; 15 stores; with
    accumulate 15 C loads more."""
    assert loaduse_accesses(3, 10, 5, 4, False)["core_reads"] == 48
    assert loaduse_accesses(3, 10, 5, 4, True) == {
        **dict.fromkeys(ACCESSES, 0), "core_reads": 63, "core_writes": 15}
    for layout in loaduse.layouts(3, 10, 5, 4, 1, 4, 16):
        run = loaduse.loaduse_matmul(8, 16, 4, 4, 1, 0, 1, 3, 10, 5, True, layout=layout)
        assert accesses(run[4]) == loaduse_accesses(3, 10, 5, 4, True)


def test_redmule_by_hand():
    """10 x 20 x 17 FP16 on 8 x 4 x (3 + 1): D = 16. A Z row is a line of 16 values (4 words)
    and one of 1 (1 word): 5 words; an X row 16 + 4 values: 4 + 1 = 5 words. Reads: X per
    column tile (2 x 10 x 5), W per row tile (2 x 20 x 5), Y (10 x 5); writes Z (10 x 5)."""
    e = cluster(matrix_engine=ENGINE).matrix_engine
    assert engine_accesses(10, 20, 17, e, 2, 8, True) == {
        **dict.fromkeys(ACCESSES, 0), "engine_reads": 100 + 200 + 50, "engine_writes": 50}
    run = redmule.engine_matmul(10, 20, 17, 8, 4, 3, 2, 8, 32, True, 7, 8)
    assert accesses(run[4]) == {**engine_accesses(10, 20, 17, e, 2, 8, True), "dma_writes": 7}


def test_dma_and_elementwise_by_hand():
    """65 bytes in 8-byte words: 9 DMA writes. add over 1001 FP16 values: 251 vectors of
    4, two operands read and a result written each, through the streams."""
    model = CycleLevelPmca(cluster(), "fp16")
    assert counted(model.dma(65)) == {**dict.fromkeys(ACCESSES, 0), "dma_writes": 9}
    assert counted(model.elementwise("add", 1001)) == {
        **dict.fromkeys(ACCESSES, 0), "stream_reads": 502, "stream_writes": 251}


def test_run_kernel_reports_the_accesses_and_the_bank_bytes():
    """3 x 5 x 10 FP16 accumulating runs n-simd: 3 vector columns in one tile, per row 5
    steps of 1 A word + 3 B words; 12 values (3 words) of C loaded and stored a row."""
    pmca = cluster()
    out = run_kernel(pmca, "matmul", 3, 5, 10, accumulate=True)
    assert out["dataflow"] == "n-simd"
    assert {name: out[name] for name in ACCESSES if out[name]} == {
        "core_reads": 9, "core_writes": 9, "stream_reads": 60}
    assert (out["tcdm_reads"], out["tcdm_writes"]) == (69, 9)
    assert (out["tcdm_read_bytes"], out["tcdm_write_bytes"]) == (69 * 8, 9 * 8)


def test_the_throughput_model_counts_the_dataflow_it_picks():
    """64 x 3 x 20: n-simd wins the closed forms (224 cycles against 1080) and reads
    64 x 3 x (1 + 5) words, not k-simd's 64 x 1 x (3 + 20)."""
    p = cluster()
    stats = ThroughputPmca(p, "fp16").matmul(64, 3, 20)
    assert stats.stream_reads == 1152 != formula(p, "fp16", "matmul", "k-simd", m=64, k=3,
                                                 n=20)["stream_reads"] == 1472
    assert counted(stats) == formula(p, "fp16", "matmul", "n-simd", m=64, k=3, n=20)


# ---- the cycle-level kernels against the formulas -------------------------------------------

SETTINGS = settings(max_examples=120, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(which=st.sampled_from(CLUSTERS), m=st.integers(1, 21), k=st.integers(1, 37),
       n=st.integers(1, 21), accumulate=st.booleans(),
       dma_bytes=st.one_of(st.just(0), st.integers(1, 700)))
def test_a_matmul_grants_what_the_formula_counts(which, m, k, n, accumulate, dma_bytes):
    """Whatever layout and dataflow the cycle-level model ran, whatever the conflicts, with
    a DMA transfer alongside or not."""
    _, pmca, dtype = which
    model = CycleLevelPmca(pmca, dtype)
    stats = model.matmul(m, k, n, dma_bytes=dma_bytes, accumulate=accumulate)
    dataflow = picked(model, m, k, n, dma_bytes, accumulate)
    expected = formula(pmca, dtype, "matmul", dataflow, m=m, k=k, n=n, accumulate=accumulate,
                       dma_bytes=dma_bytes)
    assert counted(stats) == expected
    assert stats.dma_writes == ceil(dma_bytes / pmca.bank_width_bytes)
    assert not implausible(pmca, dtype, "matmul", stats, m=m, k=k, n=n, accumulate=accumulate,
                           dma_bytes=dma_bytes)


@SETTINGS
@given(m=st.integers(1, 19), k=st.integers(1, 41), n=st.integers(1, 19),
       accumulate=st.booleans(), lanes_eb=st.sampled_from([(1, 8), (1, 4), (2, 2), (4, 2),
                                                           (8, 1), (2, 4)]),
       cores=st.integers(1, 9), banks=st.sampled_from([8, 13, 32]))
def test_every_layout_and_dataflow_of_the_micro_tiles_grants_the_formula(
        m, k, n, accumulate, lanes_eb, cores, banks):
    """Padding moves rows to other banks: it never adds or removes an access."""
    lanes, eb = lanes_eb
    flows = ("k-simd",) if lanes == 1 else ("k-simd", "n-simd")
    for dataflow in flows:
        expected = microtile_accesses(dataflow, m, k, n, lanes, eb, 8, accumulate)
        for pads in layouts(dataflow, m, k, n, lanes, eb, 8, banks):
            run = microtile_matmul(cores, banks, 8, lanes, eb, 2, 3, m, k, n, dataflow,
                                   accumulate, pads=pads)
            assert accesses(run[4]) == expected, (dataflow, pads)


@SETTINGS
@given(m=st.integers(1, 30), k=st.integers(1, 50), n=st.integers(1, 30),
       height=st.integers(1, 5), pipe_regs=st.integers(1, 4), eb=st.sampled_from([1, 2]),
       accumulate=st.booleans(), data=st.data())
def test_redmule_grants_the_formula(m, k, n, height, pipe_regs, eb, accumulate, data):
    rows = data.draw(st.integers(1, height * pipe_regs))
    e = cluster(matrix_engine={"rows": rows, "height": height, "pipe_regs": pipe_regs}
                ).matrix_engine
    run = redmule.engine_matmul(m, k, n, rows, height, pipe_regs, eb, 8, 16, accumulate)
    assert accesses(run[4]) == engine_accesses(m, k, n, e, eb, 8, accumulate)


@SETTINGS
@given(which=st.sampled_from(CLUSTERS), function=st.sampled_from(ELEMENTWISE_FUNCTIONS),
       elements=st.integers(0, 3000), nbytes=st.integers(0, 5000))
def test_elementwise_and_dma_grant_the_formula(which, function, elements, nbytes):
    _, pmca, dtype = which
    model = CycleLevelPmca(pmca, dtype)
    assert counted(model.elementwise(function, elements)) == formula(
        pmca, dtype, "elementwise", function=function, elements=elements)
    assert counted(model.dma(nbytes)) == formula(pmca, dtype, "dma", dma_bytes=nbytes)
    assert model.dma(nbytes).dma_writes == ceil(nbytes / pmca.bank_width_bytes)


@pytest.mark.parametrize(("name", "pmca", "dtype"), CLUSTERS, ids=IDS)
def test_both_models_count_alike_where_they_run_the_same_kernel(name, pmca, dtype):
    """The throughput model's counts by formula, the cycle-level model's as granted: the same
    wherever both run the same dataflow (the fewest conflict-free cycles against the fewest
    cycles with conflicts; every shape here agrees)."""
    for m, k, n, accumulate in [(7, 33, 19, True), (16, 16, 16, False), (1, 3, 1, True)]:
        cycle, throughput = CycleLevelPmca(pmca, dtype), ThroughputPmca(pmca, dtype)
        ours = picked(cycle, m, k, n, 0, accumulate)
        if ours:
            ideals = closed_forms(pmca, dtype, m, k, n, accumulate)
            assert ours == min(ideals, key=ideals.__getitem__)
        assert counted(cycle.matmul(m, k, n, accumulate=accumulate)) == counted(
            throughput.matmul(m, k, n, accumulate=accumulate))


# ---- stored records -------------------------------------------------------------------------

def test_a_stored_record_off_by_one_access_is_implausible():
    """Counts of either dataflow pass (the record does not say which ran); one access more
    matches neither, and the message gives the first dataflow's count."""
    p = cluster()
    work = {"m": 3, "k": 5, "n": 10, "accumulate": True}
    stats = CycleLevelPmca(p, "fp16").matmul(**work)
    assert stats.stream_reads == 60  # n-simd ran (see the run_kernel test)
    assert implausible(p, "fp16", "matmul", stats, **work) == ""
    as_k_simd = KernelStats(**{**stats.__dict__, "stream_reads": 72})
    assert implausible(p, "fp16", "matmul", as_k_simd, **work) == ""
    wrong = KernelStats(**{**stats.__dict__, "stream_reads": 61})
    assert implausible(p, "fp16", "matmul", wrong, **work) == (
        "stream_reads = 61, the kernel's is 72 (k-simd)")
    store = KernelStats(**{**stats.__dict__, "core_writes": 8})
    assert implausible(p, "fp16", "matmul", store, **work).startswith("core_writes = 8")


def test_a_record_of_the_old_format_is_refused():
    """Operand bytes instead of accesses: the store's check (`from_record`) refuses it, so the
    kernel is simulated again."""
    old = {name: 0 for name in KernelStats.__dataclass_fields__ if name not in ACCESSES}
    old.update(tcdm_read_bytes=0, tcdm_write_bytes=0)
    with pytest.raises(ValueError, match=r"fields missing \['core_reads'.*unknown "
                                         r"\['tcdm_read_bytes', 'tcdm_write_bytes'\]"):
        KernelStats.from_record(old)


def test_bank_bytes_are_accesses_times_the_bank_width():
    """A block's layer columns: every kernel's accesses x 8 bytes (4 FP16 values a word)."""
    from aimcsim.hw.pmca.programs import BlockProgram

    p = cluster()
    pre = ThroughputPmca(p, "fp16").matmul(16, 64, 8)
    post = ThroughputPmca(p, "fp16").elementwise("add", 100)
    counts = BlockProgram(pre, post, 0, p.bank_width_bytes).counts
    assert counts[2] == (pre.tcdm_reads + post.tcdm_reads) * 8
    assert counts[3] == (pre.tcdm_writes + post.tcdm_writes) * 8
    assert post.tcdm_reads == 2 * ceil(100 / 4) and DTYPE_BYTES["fp16"] * 4 == 8
    assert np.array(counts[2:4]).min() > 0
