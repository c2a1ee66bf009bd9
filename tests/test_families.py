"""BERT, GPT-2 and LLaMA traces from their config.json: shapes against the configuration's
closed form, every bundled model runs in both modes, grouped-query attention, clear errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import ROOT, arch_doc

from aimcsim.cli import main
from aimcsim.errors import SpecError
from aimcsim.simulator import simulate
from aimcsim.spec.arch import parse_arch
from aimcsim.spec.workload import parse_workload
from aimcsim.traces import TRACES, read_config

BUNDLED = {"bert-base": "bert-base-uncased.json", "bert-large": "bert-large-uncased.json",
           "gpt2": "gpt2.json", "llama-3.2-1b": "Llama-3.2-1B.json",
           "llama-3.1-8b": "Llama-3.1-8B.json"}


def _static_macs_per_token(cfg: dict) -> int:
    """From the configuration alone: the MACs of the static layers a token passes."""
    if cfg["model_type"] == "bert":
        h, i, n = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
        return n * (4 * h * h + 2 * h * i)  # Q, K, V, O; up and down
    if cfg["model_type"] == "gpt2":
        h, n = cfg["n_embd"], cfg["n_layer"]
        return n * (4 * h * h + 2 * h * 4 * h)  # c_attn (3 h^2), c_proj; c_fc, c_proj
    h, i, n = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    heads, kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    d = cfg.get("head_dim", h // heads)
    return n * (2 * h * heads * d + 2 * h * kv * d + 3 * h * i)  # Q, O; K, V; gate, up, down


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_static_macs_per_token_match_the_configuration(name):
    """The layers' static MACs per token; a decoder's LM head (hidden x vocab_size) after
    them, over the prefill's last token only."""
    cfg = read_config(ROOT / "workloads" / "configs" / BUNDLED[name])
    work = parse_workload(TRACES[name].generate(8), f"{name}.yaml")
    traced = sum(op.d_in * op.d_out for op in work.ops
                 if op.kind == "static_linear" and op.role != "lm_head")
    assert traced == _static_macs_per_token(cfg)
    heads = [op for op in work.ops if op.role == "lm_head"]
    if cfg["model_type"] in ("gpt2", "llama"):
        hidden = cfg.get("hidden_size") or cfg["n_embd"]
        assert [(op.d_in * op.d_out, op.last_tokens) for op in heads] == [
            (hidden * cfg["vocab_size"], 1)]
        assert heads[0] is work.ops[-1]
    else:
        assert not heads  # (an encoder)
    layers = cfg.get("num_hidden_layers") or cfg.get("n_layer")
    assert {op.block for op in work.ops} == set(range(layers))


def test_the_published_sizes():
    """Parameters of the static layers: BERT-base about 85 M of its 110 M (embeddings apart),
    LLaMA-3.1-8B about 7.0 B of its 8.0 B (embeddings and head apart)."""
    sizes = {n: _static_macs_per_token(read_config(ROOT / "workloads" / "configs" / f))
             for n, f in BUNDLED.items()}
    assert sizes["bert-base"] == 84_934_656 and sizes["gpt2"] == 84_934_656
    assert sizes["llama-3.1-8b"] == 6_979_321_856
    assert sizes["llama-3.2-1b"] == 973_078_528


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_every_bundled_model_runs_in_both_modes(name):
    """Prefill of 8 tokens on the default system with a 16 MiB TCDM (the widest layers' partial
    sums do not fit 128 KiB)."""
    doc = arch_doc(pmca={"tcdm_bytes": 16 << 20}, pipeline={"parallel_tokens": 8})
    arch = parse_arch(doc, "big.yaml")
    work = parse_workload(TRACES[name].generate(8), f"{name}.yaml")
    results = {m: simulate(arch, work, m, timeline=False) for m in ("aimc-only", "hybrid")}
    for result in results.values():
        assert result.layers["tokens"].tolist() == [work.rows(op) for op in work.ops]
        assert set(result.layers["tokens"]) <= {1, 8}
    hybrid, plain = (results[m].layers.set_index("layer") for m in ("hybrid", "aimc-only"))
    static = hybrid["kind"] == "static_linear"
    assert (hybrid.loc[static, "latency_ns"] >= plain.loc[static, "latency_ns"]).all()
    assert hybrid["analog_macs"].sum() == sum(
        work.rows(op) * op.d_in * op.d_out for op in work.ops if op.kind == "static_linear")


def test_grouped_query_attention_shares_k_and_v():
    """LLaMA-3.2-1B: 32 query heads, 8 KV heads of 64. K and V have 8 x 64 values per token;
    each KV head's operand is brought once per block for its 4 query heads."""
    work = parse_workload(TRACES["llama-3.2-1b"].generate(16), "l.yaml")
    scores = work.op("b0.attention_scores")
    assert (scores.heads, scores.kv_heads, scores.k, scores.n) == (32, 8, 64, 16)
    assert work.op("b0.key").d_out == work.op("b0.value").d_out == 512
    arch = parse_arch(arch_doc(pmca={"tcdm_bytes": 16 << 20}, pipeline={"parallel_tokens": 16}),
                      "a.yaml")
    layers = simulate(arch, work, "hybrid", timeline=False).layers.set_index("layer")
    assert layers.loc["b0.attention_scores", "dma_bytes"] == 8 * 64 * 16 * 2  # 8 K operands
    assert layers.loc["b0.attention_scores", "macs"] == 16 * 32 * 64 * 16  # every query head


def test_kv_heads_must_divide_heads():
    op = {"name": "s", "kind": "dynamic_matmul", "heads": 6, "kv_heads": 4, "k": 8, "n": 8,
          "inputs": [{"from": "input"}, {"from": "input", "edge": "barrier"}]}
    doc = {"version": 1, "tokens": 8, "input": {"width": 48}, "ops": [op]}
    with pytest.raises(SpecError, match=r"ops\[0\]\.kv_heads: 4 does not divide heads = 6"):
        parse_workload(doc, "w.yaml")


def test_trace_from_a_config_file_and_clear_errors(tmp_path, capsys):
    folder = tmp_path / "my-gpt"
    folder.mkdir()
    (folder / "config.json").write_text((ROOT / "workloads" / "configs" / "gpt2.json")
                                        .read_text())
    out = tmp_path / "t.yaml"
    assert main(["trace", "--config", str(folder / "config.json"), "--seq-len", "16",
                 "--out", str(out)]) == 0
    text = out.read_text()
    assert "name: my-gpt-16" in text and "aimcsim trace --config" in text
    (tmp_path / "t5.json").write_text(json.dumps({"model_type": "t5"}))
    assert main(["trace", "--config", str(tmp_path / "t5.json"), "--out", str(out)]) == 2
    assert f"{tmp_path / 't5.json'}: model_type: 't5' is not a family aimcsim traces; known: " \
           "bert, gpt2, llama, mistral, mobilebert, qwen2" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"model_type": "llama", "hidden_size": 64}))
    assert main(["trace", "--config", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: 3 error(s)" in err
    for key in ("intermediate_size", "num_attention_heads", "num_hidden_layers"):
        assert f"{bad}: {key}: missing required key {key!r}" in err
    assert main(["trace", "gpt2", "--config", str(tmp_path / "t5.json"), "--out",
                 str(out)]) == 2
    assert "one of the two" in capsys.readouterr().err


def test_a_chip_too_small_says_how_many_tiles_it_needs(root):
    from aimcsim.spec.arch import load_arch

    work = parse_workload(TRACES["bert-base"].generate(8), "b.yaml")
    doc = arch_doc(pmca={"tcdm_bytes": 16 << 20}, pipeline={"parallel_tokens": 8})
    # bert-base per layer: Q, K, V, O 2 x 2 tiles each, up 2 x 6, down 6 x 2: 40; 12 layers
    with pytest.raises(SpecError, match=r"chip.tiles: workload 'bert-base-8' needs 480 tiles of "
                                        r"512 x 512 weights, the chip has 479"):
        simulate(parse_arch({**doc, "chip": {"tiles": 479}}, "a.yaml"), work)
    result = simulate(parse_arch({**doc, "chip": {"tiles": 600}}, "a.yaml"), work,
                      timeline=False)
    assert result.summary["tiles"] == 480 and result.summary["tile_budget_used"] == 0.8
    cells = 12 * (4 * 768 * 768 + 2 * 768 * 3072)
    assert result.summary["cell_utilisation"] == cells / (480 * 512 * 512)
    with pytest.raises(SpecError, match=r"chip.tiles: 0 is below the minimum 1"):
        parse_arch({**doc, "chip": {"tiles": 0}}, "a.yaml")
    assert load_arch(root / "arch" / "hybrid_large_tcdm.yaml").pmca.tcdm_bytes == 16 << 20


@pytest.mark.parametrize("model", ["mobilebert", "llama-3.2-1b"])
def test_attention_spread_over_clusters_conserves_the_work(model):
    """Heads (groups of heads with GQA) spread over 1, 2, 3 clusters: the same MACs, DMA bytes,
    element-wise results and tokens for every op; only time and transfers change."""
    work = parse_workload(TRACES[model].generate(16), "w.yaml")
    tables = {}
    for k in (1, 2, 3):
        doc = arch_doc(pmca={"tcdm_bytes": 16 << 20},
                       pipeline={"parallel_tokens": 8, "attention_clusters": k})
        tables[k] = simulate(parse_arch(doc, "a.yaml"), work, "hybrid",
                             timeline=False).layers.set_index("layer")
    for k in (2, 3):
        for col in ("macs", "dma_bytes", "element_ops", "tokens", "mvms"):
            assert (tables[k][col] == tables[1][col]).all(), (k, col)
        assert tables[k]["noc_bytes"].sum() > tables[1]["noc_bytes"].sum()  # shares, gathers


def test_spreading_attention_relieves_mobilebert_s_busiest_cluster(hybrid_arch, mobilebert):
    """MobileBERT's 4 heads on one cluster bound a block (see the timeline); on 2 and 4
    clusters the AIMC-only network is faster, and hybrid never beats AIMC-only per layer."""
    import dataclasses

    latency = {}
    for k in (1, 2, 4):
        arch = dataclasses.replace(hybrid_arch, pipeline=dataclasses.replace(
            hybrid_arch.pipeline, attention_clusters=k))
        results = {m: simulate(arch, mobilebert, m, timeline=False)
                   for m in ("aimc-only", "hybrid")}
        latency[k] = results["aimc-only"].summary["total_latency_ns"]
        hybrid, plain = (results[m].layers.set_index("layer") for m in ("hybrid", "aimc-only"))
        static = hybrid["kind"] == "static_linear"
        assert (hybrid.loc[static, "latency_ns"] >= plain.loc[static, "latency_ns"]).all()
    assert latency[4] < latency[2] < latency[1] == 76_438_740.0


def test_decode_steps_grow_with_their_context():
    """GPT-2: a prefill of 16 tokens, then 6 steps; each step is one token whose attention
    spans the cache and itself; its latency grows with the context (K and V of the cache come
    by DMA); the prefill is the plain 16-token run."""
    from aimcsim.decode import decode, summary

    arch = parse_arch(arch_doc(pmca={"tcdm_bytes": 16 << 20}, pipeline={"parallel_tokens": 8}),
                      "a.yaml")
    table = decode(arch, TRACES["gpt2"], prompt=16, steps=6)
    for mode, rows in table.groupby("mode"):
        steps = rows[rows.phase == "decode"]
        assert list(steps.context) == list(range(17, 23))
        assert steps.latency_ns.is_monotonic_increasing and steps.latency_ns.is_unique
        prefill = simulate(arch, parse_workload(TRACES["gpt2"].generate(16), "p.yaml"), mode,
                           timeline=False)
        assert rows[rows.phase == "prefill"].latency_ns.iloc[0] == \
            prefill.summary["total_latency_ns"]
    s = summary(table)
    assert s["hybrid"]["tpot_ns"] >= s["aimc-only"]["tpot_ns"]
    step = parse_workload(TRACES["gpt2"].generate(1, context=40), "d.yaml")
    assert step.tokens == 1 and step.context == 40
    assert step.op("b0.attention_scores").n == 40 and step.op("b0.attention_context").k == 40


def test_decode_on_workers_gives_the_same_table(tmp_path, capsys):
    """Steps shared by two processes: the same rows in the same order as one process; the
    steps alone are the table without its prefill row."""
    from aimcsim.decode import decode

    arch = parse_arch(arch_doc(pmca={"tcdm_bytes": 16 << 20}, pipeline={"parallel_tokens": 8}),
                      "a.yaml")
    one = decode(arch, TRACES["gpt2"], prompt=8, steps=5)
    two = decode(arch, TRACES["gpt2"], prompt=8, steps=5, workers=2)
    pd.testing.assert_frame_equal(one, two, check_exact=True)
    alone = decode(arch, TRACES["gpt2"], prompt=8, steps=5, prefill=False)
    pd.testing.assert_frame_equal(alone, one[one.phase == "decode"].reset_index(drop=True),
                                  check_exact=True)
    assert main(["decode", str(ROOT / "arch" / "hybrid.yaml"), "gpt2", "--workers", "0"]) == 2
    assert "--workers must be in 1.." in capsys.readouterr().err


def test_decode_is_refused_where_it_means_nothing():
    with pytest.raises(ValueError, match="model_type 'bert' has no decode steps"):
        TRACES["bert-base"].generate(1, context=8)
    doc = TRACES["gpt2"].generate(4)
    doc["context"] = 2
    with pytest.raises(SpecError, match="context: 2 keys cannot be fewer than the 4 tokens"):
        parse_workload(doc, "w.yaml")


def test_trace_writes_a_decode_step(tmp_path, capsys):
    out = tmp_path / "step.yaml"
    assert main(["trace", "gpt2", "--seq-len", "1", "--context", "40", "--out", str(out)]) == 0
    step = parse_workload(__import__("yaml").safe_load(out.read_text()), str(out))
    assert step.tokens == 1 and step.context == 40
    assert main(["trace", "mobilebert", "--seq-len", "1", "--context", "4", "--out",
                 str(out)]) == 2
    assert "mobilebert is an encoder" in capsys.readouterr().err


def test_the_kv_cache_must_fit_each_cluster_s_l2():
    """GPT-2, one decode step over 1,000 keys: each layer's cluster holds K and V of 12 heads
    (12 x 64 x 1000 x 2 bytes each, 3 MB in all); a 2 MiB L2 refuses it, spreading attention
    over 2 clusters halves it."""
    from aimcsim.errors import CapacityError

    step = parse_workload(TRACES["gpt2"].generate(1, context=1000), "d.yaml")
    doc = arch_doc(pmca={"tcdm_bytes": 16 << 20}, pipeline={"parallel_tokens": 1})
    doc["memory"] = {"l2_bytes": 2 << 20}
    with pytest.raises(CapacityError, match=r"cluster \d+ holds 3072000 bytes of attention "
                                            r"operands \(K and V of 1000 keys\) in its L2, "
                                            r"above memory.l2_bytes = 2097152"):
        simulate(parse_arch(doc, "a.yaml"), step, "hybrid", timeline=False)
    doc["pipeline"]["attention_clusters"] = 2
    result = simulate(parse_arch(doc, "a.yaml"), step, "hybrid", timeline=False)
    assert (result.layers["tokens"] == 1).all()
