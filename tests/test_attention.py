"""Fused attention tiled over keys (`pipeline.attention_key_chunk`): the chains it fuses, the
work it does (the same MACs as the unfused kernels, K and V read once per group and block), its
schedule against a loop written out here, a TCDM need that does not grow with the context, and
the search's choice of chunk against every chunk simulated."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from conftest import ROOT, arch_doc, shipped_arch_text
from hypothesis import given, settings
from hypothesis import strategies as st

from aimcsim.cli import main
from aimcsim.errors import CapacityError
from aimcsim.explore.search import search
from aimcsim.explore.space import SearchSpace
from aimcsim.hw.pmca.model import ThroughputPmca, with_dma
from aimcsim.hw.pmca.programs import block_program
from aimcsim.simulator import simulate
from aimcsim.spec.arch import parse_arch
from aimcsim.spec.fusion import fuse_attention
from aimcsim.spec.workload import Op, parse_workload
from aimcsim.traces import MOBILEBERT_UNCASED, TRACES, mobilebert_trace


def _chunked(arch, chunk, **pipeline):
    return dataclasses.replace(arch, pipeline=dataclasses.replace(
        arch.pipeline, attention_key_chunk=chunk, **pipeline))


def test_every_bundled_trace_fuses_one_attention_per_block():
    for name, generator in TRACES.items():
        work = parse_workload(generator.generate(8), f"{name}.yaml")
        fused = fuse_attention(work, 4)
        blocks = {op.block for op in work.ops}
        att = [op for op in fused.ops if op.kind == "attention"]
        assert [op.block for op in att] == sorted(blocks), name
        assert len(fused.ops) == len(work.ops) - 2 * len(blocks)
        names = {op.name for op in fused.ops}
        for op in fused.ops:  # every edge names an op of the fused workload
            assert all(e.src in names or e.src == "input" for e in op.inputs), op.name
        first = att[0]
        assert first.name == "b0.attention" and first.chunk == 4
        assert [e.kind for e in first.inputs] == ["streaming", "barrier", "barrier"]
    assert fuse_attention(work, 0) is work
    wide = [op for op in fuse_attention(work, 1000).ops if op.kind == "attention"]
    assert {op.chunk for op in wide} == {work.tokens}  # a chunk spans at most the keys


def test_a_chain_with_another_reader_stays_unfused(mobilebert):
    """A softmax read by something besides the context matmul cannot be fused away."""
    ops = list(mobilebert.ops)
    spy = Op("spy", 0, "elementwise", "spy", 512, 512,
             (dataclasses.replace(ops[0].inputs[0], src="b0.attention_softmax"),),
             function="relu")
    softmax = mobilebert.op("b0.attention_softmax")
    spy = dataclasses.replace(spy, d_in=softmax.d_out, d_out=softmax.d_out)
    at = next(i for i, op in enumerate(ops) if op.name == "b0.attention_context")
    work = dataclasses.replace(mobilebert, ops=(*ops[:at + 1], spy, *ops[at + 1:]))
    fused = fuse_attention(work, 64)
    assert "b0.attention_softmax" in {op.name for op in fused.ops}
    assert "b1.attention" in {op.name for op in fused.ops}


def _loop_cycles(model, op, tokens, eb):
    """The fused schedule written out as the kernel runs it: group by group, chunk by chunk,
    head by head (the throughput model's kernels, summed)."""
    dk, dv, per = op.k, op.d_out // op.heads, op.heads // op.groups
    sizes = [min(op.chunk, op.n - j) for j in range(0, op.n, op.chunk)]
    order = [(g, j, c) for g in range(op.groups) for j, c in enumerate(sizes)]
    p = model.pmca
    cycles = 0
    if p.dma_double_buffer:
        cycles += model.dma((dk + dv) * order[0][2] * eb).cycles
    for i, (_, j, c) in enumerate(order):
        if not p.dma_double_buffer:
            cycles += p.dma_setup_cycles + math.ceil((dk + dv) * c * eb / p.dma_bytes_per_cycle)
        for h in range(per):
            scores = model.matmul(tokens, dk, c)
            if h == 0 and p.dma_double_buffer and i + 1 < len(order):
                nxt = (dk + dv) * order[i + 1][2] * eb
                dma = p.dma_setup_cycles + math.ceil(nxt / p.dma_bytes_per_cycle)
                overhead = scores.overhead_cycles
                cycles += with_dma(scores.compute_cycles, dma)[0] + overhead
            else:
                cycles += scores.cycles
            cycles += model.elementwise("softmax", tokens * c).cycles
            if j:
                cycles += model.elementwise("mul", tokens * dv).cycles
            cycles += model.matmul(tokens, c, dv, accumulate=j > 0).cycles
    return cycles + model.elementwise("mul", tokens * op.heads * dv).cycles


@settings(max_examples=60, deadline=None)
@given(heads=st.sampled_from([1, 2, 4, 8]), kv=st.sampled_from([0, 1, 2]),
       dk=st.sampled_from([8, 32, 64]), dv=st.sampled_from([8, 32]),
       keys=st.integers(1, 300), chunk=st.integers(1, 128), tokens=st.integers(1, 20),
       double=st.booleans(), streaming=st.booleans())
def test_the_fused_program_is_the_kernel_loop(heads, kv, dk, dv, keys, chunk, tokens, double,
                                               streaming):
    """Cycles against the loop above; MACs as unfused attention; K and V moved once per
    group; element-wise results: the softmax over every score, the rescale per later chunk
    and the final division; TCDM as the docstring's buffers."""
    kv = kv if kv and heads % kv == 0 and kv < heads else 0
    arch = parse_arch(arch_doc(pmca={"dma_double_buffer": double, "streaming": streaming}))
    model = ThroughputPmca(arch.pmca, "fp16")
    op = Op("att", 0, "attention", "attention", heads * dk, heads * dv, (), heads=heads, k=dk,
            n=keys, kv_heads=kv, chunk=min(chunk, keys))
    prog = block_program(model, op, tokens, eb=2)
    groups = kv or heads
    chunks = math.ceil(keys / op.chunk)
    assert prog.pre.cycles == _loop_cycles(model, op, tokens, 2)
    assert prog.pre.macs == tokens * heads * keys * (dk + dv)
    assert prog.pre.dma_bytes == groups * keys * (dk + dv) * 2
    assert prog.pre.element_ops == tokens * heads * (keys + chunks * dv)
    live = (tokens * heads * dk + (2 if double else 1) * op.chunk * (dk + dv)
            + tokens * op.chunk + tokens * heads * dv + 2 * tokens * heads)
    assert prog.tcdm_bytes == live * 2 + prog.pre.padding_bytes


def test_tcdm_need_does_not_grow_with_the_context(hybrid_arch):
    model = ThroughputPmca(hybrid_arch.pmca, "fp16")
    need = {keys: block_program(model, Op("att", 0, "attention", "attention", 128, 128, (),
                                          heads=4, k=32, n=keys, chunk=64), 16, eb=2).tcdm_bytes
            for keys in (384, 1024, 8192, 65536)}
    assert len(set(need.values())) == 1, need


#: MobileBERT's configuration with 1,024 learned positions (the published model has 512: a
#: trace of 1,024 tokens is refused without them).
MOBILEBERT_1024 = {**MOBILEBERT_UNCASED, "max_position_embeddings": 1024}


def test_long_context_runs_in_the_tcdm_only_fused(hybrid_arch):
    """The issue's case: MobileBERT at 1,024 tokens, 16-token blocks: the unfused scores need
    200,704 bytes of a 128 KiB TCDM; in key chunks of 64 every op fits, the work is the same
    and the TCDM is never above capacity."""
    work = parse_workload(mobilebert_trace(1024, MOBILEBERT_1024), "mb1024.yaml")
    with pytest.raises(CapacityError, match="attention_key_chunk"):
        simulate(hybrid_arch, work, "aimc-only", timeline=False)
    for mode in ("aimc-only", "hybrid"):
        result = simulate(_chunked(hybrid_arch, 64), work, mode, timeline=False)
        layers = result.layers
        assert (layers["tokens"] == 1024).all()
        assert result.summary["tcdm_peak_bytes"] <= hybrid_arch.pmca.tcdm_bytes
        att = layers[layers["kind"] == "attention"]
        assert len(att) == 24
        assert (att["macs"] == 1024 * 4 * 1024 * (32 + 32)).all()


@pytest.mark.parametrize("spread", [1, 2])
def test_fused_attention_does_the_unfused_work(hybrid_arch, mobilebert, spread):
    """Every MAC of the network is done once whatever the chunk (and spread over clusters);
    a chunk of the whole context is one pass of the online softmax, close to unfused."""
    arch = _chunked(hybrid_arch, 0, attention_clusters=spread)
    base = simulate(arch, mobilebert, "hybrid", timeline=False)
    for chunk in (32, 384):
        fused = simulate(_chunked(arch, chunk), mobilebert, "hybrid", timeline=False)
        assert fused.layers["macs"].sum() == base.layers["macs"].sum()
        assert fused.layers["analog_macs"].sum() == base.layers["analog_macs"].sum()
        assert (fused.layers["tokens"] == mobilebert.tokens).all()
    whole = simulate(_chunked(arch, 384), mobilebert, "hybrid", timeline=False)
    ratio = whole.summary["total_latency_ns"] / base.summary["total_latency_ns"]
    assert 0.95 < ratio < 1.05


def test_decode_step_with_fused_attention(hybrid_arch):
    """A LLaMA decode step: one token over a context of 3,000 keys, in chunks of 128 (without
    the LM head, whose 128,256 outputs need the output in chunks: tests/test_output_chunks)."""
    doc = TRACES["llama-3.2-1b"].generate(1, context=3000, lm_head=False)
    work = parse_workload(doc, "step.yaml")
    arch = dataclasses.replace(_chunked(hybrid_arch, 128), chip=None)
    fused = [op for op in fuse_attention(work, 128).ops if op.kind == "attention"]
    assert fused[0].n == 3000 and fused[0].chunk == 128 and fused[0].groups == 8
    result = simulate(arch, work, "aimc-only", timeline=False)
    att = result.layers[result.layers["kind"] == "attention"]
    assert (att["dma_bytes"] == 8 * 3000 * (64 + 64) * 2).all()


def test_search_picks_the_best_chunk_of_those_simulated(hybrid_arch, mobilebert):
    """The network's chunk is the one whose hybrid run is fastest, each chunk simulated."""
    work = dataclasses.replace(mobilebert, ops=tuple(
        op for op in mobilebert.ops if op.block < 2))
    space = SearchSpace(strategies=("overlapped",), parallel_tokens=(16,),
                        tile_output=("in-place",), integration_time_ns=(256.0,),
                        attention_key_chunk=(16, 96, 384))
    result = search(hybrid_arch, work, space)
    net = result.network[0]
    tried = net["attention_key_chunks"]
    assert set(tried) == {16, 96, 384}
    best = min(tried, key=tried.get)
    assert net["attention_key_chunk"] == best
    assert net["hybrid_latency_ns"] == tried[best]
    settings_ = {op.name: dataclasses.replace(hybrid_arch.pipeline, attention_key_chunk=best)
                 for op in work.ops if op.kind == "static_linear"}
    again = simulate(_chunked(hybrid_arch, best), work, "hybrid", settings=settings_,
                     timeline=False)
    assert again.summary["total_latency_ns"] == tried[best]
    assert len(set(tried.values())) > 1  # the chunk matters


def test_the_cli_reads_a_chunk_and_refuses_a_bad_one(tmp_path, capsys):
    text = shipped_arch_text().replace("parallel_tokens: 16", "parallel_tokens: 16\n"
                                       "  attention_key_chunk: 64", 1)
    assert "attention_key_chunk: 64" in text
    good = tmp_path / "a.yaml"
    good.write_text(text)
    trace, config = tmp_path / "t.yaml", tmp_path / "mb1024.json"
    config.write_text(json.dumps({"model_type": "mobilebert", **MOBILEBERT_1024}))
    assert main(["trace", "--config", str(config), "--seq-len", "1024", "--out",
                 str(trace)]) == 0
    assert main(["run", str(good), str(trace), "--mode", "aimc-only",
                 "--out", str(tmp_path / "o")]) == 0
    bad = tmp_path / "b.yaml"
    bad.write_text(text.replace("attention_key_chunk: 64", "attention_key_chunk: -1"))
    capsys.readouterr()
    assert main(["run", str(bad), str(ROOT / "workloads" / "mobilebert.yaml"),
                 "--out", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert "pipeline.attention_key_chunk" in err and str(bad) in err
