"""A static layer's output pulled and reduced in column chunks (`pipeline.output_chunk`): the
same work in less TCDM, a closed form for one block, and the large models in 128 KiB."""

from __future__ import annotations

import dataclasses
import math

import pytest
from conftest import linear_workload, make_arch
from hypothesis import given, settings
from hypothesis import strategies as st

from aimcsim import simulate
from aimcsim.errors import CapacityError
from aimcsim.hw.aimc_tile import burst_latency_ps, map_matrix
from aimcsim.hw.interconnect import transfer_cycles
from aimcsim.hw.pmca.cycle_level import cluster_model
from aimcsim.hw.pmca.model import ThroughputPmca
from aimcsim.hw.pmca.programs import block_program
from aimcsim.spec.workload import Op, parse_workload
from aimcsim.traces import TRACES

COUNTERS = ("macs", "element_ops", "noc_bytes", "tcdm_write_bytes", "analog_macs",
            "adc_conversions")


def _chunked(arch, chunk, **pipeline):
    return dataclasses.replace(arch, pipeline=dataclasses.replace(
        arch.pipeline, output_chunk=chunk, **pipeline))


@settings(max_examples=60, deadline=None)
@given(d_in=st.sampled_from([128, 512, 1024, 1500]), d_out=st.integers(1, 700),
       chunk=st.integers(1, 800), tokens=st.integers(1, 16), rank=st.sampled_from([None, 4]),
       tile_output=st.sampled_from(["in-place", "separate"]), cim=st.booleans())
def test_chunks_do_the_same_work_in_less_tcdm(d_in, d_out, chunk, tokens, rank, tile_output,
                                             cim):
    arch = make_arch(aimc={"rows": 256, "cols": 256})
    model = ThroughputPmca(arch.pmca, "fp16")
    tile = map_matrix(d_in, d_out, arch.aimc)
    op = Op("fc", 0, "static_linear", "fc", d_in, d_out, ())
    cim = cim and rank is not None
    kwargs = {"eb": 2, "tile": tile, "rank": rank, "tile_output": tile_output, "cim": cim}
    whole = block_program(model, op, tokens, **kwargs)
    parts = block_program(model, op, tokens, output_chunk=chunk, **kwargs)
    if whole.post is None or chunk >= d_out:
        assert parts == whole  # nothing to chunk
        return
    assert parts.pre == whole.pre
    assert parts.post.macs == whole.post.macs
    assert parts.post.element_ops == whole.post.element_ops
    cols = [min(chunk, d_out - j) for j in range(0, d_out, chunk)]
    assert [c * (tile.row_splits + cim) * tokens * 2 for c in cols] == \
        [b for b, _ in parts.chunks]  # every partial sum (and U) pulled once
    assert sum(k.cycles for _, k in parts.chunks) == parts.post.cycles
    held = tokens * (tile.row_splits + cim) * 2
    assert whole.tcdm_bytes - parts.tcdm_bytes == held * (d_out - chunk) + (
        whole.post.padding_bytes - parts.post.padding_bytes)


@pytest.mark.parametrize("rank", [None, 8])
def test_one_block_in_closed_form(rank):
    """One block of a layer on two row slices, chunks of 48 of its 128 columns: the MVMs,
    then per chunk its pull over the tile's link and its kernel, one after the other."""
    tokens, d_in, d_out, chunk = 16, 1024, 128, 48
    arch = _chunked(make_arch(pipeline={"parallel_tokens": tokens},
                              lora={"rank": rank or 8}), chunk)
    mode = "hybrid" if rank else "aimc-only"
    result = simulate(arch, parse_workload(linear_workload(tokens, d_in, d_out)), mode)
    prog = block_program(cluster_model(arch.pmca, "fp16"),
                         Op("fc", 0, "static_linear", "fc", d_in, d_out, ()), tokens, eb=2,
                         tile=map_matrix(d_in, d_out, arch.aimc), rank=rank,
                         output_chunk=chunk)
    tile_ps = burst_latency_ps(tokens, arch.aimc)
    pre_ps = prog.pre.cycles * arch.pmca.period_ps if prog.pre is not None else 0
    pulls = sum(transfer_cycles(nbytes, arch.interconnect) * arch.interconnect.period_ps
                + kernel.cycles * arch.pmca.period_ps for nbytes, kernel in prog.chunks)
    assert len(prog.chunks) == math.ceil(d_out / chunk) == 3
    row = result.layers.iloc[0]
    assert row.latency_ns * 1000 == max(tile_ps, pre_ps) + pulls
    crit = result.critical.iloc[0]
    assert crit["link"] * 1000 == sum(transfer_cycles(b, arch.interconnect) for b, _ in
                                      prog.chunks) * arch.interconnect.period_ps


def test_the_large_models_run_in_128_kib(hybrid_arch):
    """LLaMA-3.2-1B AIMC-only: `ffn_down` (8,192 inputs: 16 row slices) holds 524,288 bytes of
    partial sums a block at 16 tokens; in blocks of 4 pulled in chunks of 128 columns (and
    attention fused) every layer fits the shipped 128 KiB (the gated multiply's two inputs of
    8,192 values a token need blocks of at most 4), doing the work of an unchunked run on a
    large TCDM; the LM head too.
    (Hybrid cannot: ffn_gate's resident A and B alone are 163,840 bytes at rank 8.)"""
    work = parse_workload(TRACES["llama-3.2-1b"].generate(16), "l.yaml")
    arch = dataclasses.replace(hybrid_arch, chip=None)
    with pytest.raises(CapacityError, match=r"pipeline\.output_chunk"):
        simulate(arch, work, "aimc-only", timeline=False)
    small = _chunked(arch, 128, attention_key_chunk=16, parallel_tokens=4)
    chunked = simulate(small, work, "aimc-only", timeline=False)
    assert chunked.summary["tcdm_peak_bytes"] <= 131072
    big = dataclasses.replace(small, pmca=dataclasses.replace(arch.pmca, tcdm_bytes=16 << 20))
    whole = simulate(_chunked(big, 0, attention_key_chunk=16), work, "aimc-only",
                     timeline=False)
    for col in COUNTERS:
        assert chunked.layers[col].sum() == whole.layers[col].sum(), col
    # every op over the 16 tokens but the LM head, over the last one (its 128,256 outputs
    # from 4 row slices pulled in chunks too)
    tokens = chunked.layers.set_index("layer")["tokens"]
    assert tokens.pop("b15.lm_head") == 1 and (tokens == 16).all()
    with pytest.raises(CapacityError, match=r"ffn_gate.*163840 bytes of resident LoRA"):
        simulate(small, work, "hybrid", timeline=False)
