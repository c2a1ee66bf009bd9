"""The LLaMA-shaped families traced from their config.json by what it says: Mistral's sliding
window (keys capped at the window in prefill and decode), Qwen2's Q, K and V biases and its
windowed layers; static MACs against the configuration's closed form."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import ROOT

from aimcsim.mapping import placed
from aimcsim.sim.feasibility import check_l2
from aimcsim.simulator import simulate
from aimcsim.spec.arch import load_arch
from aimcsim.spec.fusion import fuse_attention
from aimcsim.spec.workload import parse_workload
from aimcsim.traces import from_config

BASE = {"hidden_size": 128, "intermediate_size": 256, "num_attention_heads": 4,
        "num_key_value_heads": 2, "num_hidden_layers": 3, "vocab_size": 500}


def _trace(model_type: str, tokens: int, context: int = 0, **config):
    doc = from_config({"model_type": model_type, **BASE, **config}, tokens, model=model_type,
                      generator=model_type, context=context)
    return parse_workload(doc, f"{model_type}.yaml")


def _matmuls(work, role: str) -> list:
    return [op for op in work.ops if op.role == role]


@pytest.mark.parametrize("model_type", ["llama", "mistral", "qwen2"])
def test_static_macs_per_token_match_the_configuration(model_type):
    h, i, n = BASE["hidden_size"], BASE["intermediate_size"], BASE["num_hidden_layers"]
    heads, kv = BASE["num_attention_heads"], BASE["num_key_value_heads"]
    d = h // heads
    work = _trace(model_type, 8)
    traced = sum(op.d_in * op.d_out for op in work.ops
                 if op.kind == "static_linear" and op.role != "lm_head")
    assert traced == n * (2 * h * heads * d + 2 * h * kv * d + 3 * h * i)
    assert [(op.d_in * op.d_out, op.last_tokens) for op in _matmuls(work, "lm_head")] == [
        (h * BASE["vocab_size"], 1)]


def test_mistral_attends_to_its_window_in_prefill_and_decode():
    d = BASE["hidden_size"] // BASE["num_attention_heads"]
    for tokens, context, keys in ((40, 0, 16), (1, 60, 16), (10, 0, 10), (1, 12, 12)):
        work = _trace("mistral", tokens, context, sliding_window=16)
        scores, contexts = _matmuls(work, "attention_scores"), _matmuls(work, "attention_context")
        assert {(op.k, op.n) for op in scores} == {(d, keys)}
        assert {(op.k, op.n) for op in contexts} == {(keys, d)}
        assert {op.window for op in scores + contexts} == {16 if keys == 16 else 0}
    # a null window, or one above the keys, is LLaMA's attention
    for window in (None, 64):
        assert [op.shape for op in _trace("mistral", 40, sliding_window=window).ops] == [
            op.shape for op in _trace("llama", 40).ops]


def test_a_window_caps_the_kv_cache_and_runs_fused_or_not():
    arch = load_arch(ROOT / "arch" / "hybrid_large_tcdm.yaml")
    full, windowed = _trace("mistral", 1, 60, sliding_window=None), \
        _trace("mistral", 1, 60, sliding_window=16)
    held = [max(check_l2(arch, w, placed(arch, w, "hybrid"))) for w in (full, windowed)]
    assert held[1] * 60 == held[0] * 16  # (K and V of 16 keys against 60)
    # a prefill moves every token's K and V into L2: each query attends to a window of them
    prefills = [_trace("mistral", 40, sliding_window=w) for w in (None, 16)]
    assert len({max(check_l2(arch, w, placed(arch, w, "hybrid"))) for w in prefills}) == 1
    fused = fuse_attention(windowed, 8).ops
    assert {op.kind for op in fused if op.role.startswith("attention")} == {"attention",
                                                                           "static_linear"}
    assert not [op for op in fused if op.role in ("attention_scores", "attention_context")]
    for chunk in (0, 8):
        run = dataclasses.replace(arch, pipeline=dataclasses.replace(
            arch.pipeline, attention_key_chunk=chunk))
        latency = [simulate(run, w, "hybrid", timeline=False).summary["total_latency_ns"]
                   for w in (full, windowed)]
        assert latency[1] < latency[0]


def test_qwen2_adds_its_biases_and_windows_the_layers_it_names():
    heads, kv = BASE["num_attention_heads"], BASE["num_key_value_heads"]
    d = BASE["hidden_size"] // heads
    work = _trace("qwen2", 40)
    biases = [(op.name, op.function, op.d_out, op.inputs[0].src) for op in work.ops
              if op.name.startswith("b0.") and op.name.endswith("_bias")]
    assert biases == [("b0.query_bias", "add", heads * d, "b0.query"),
                      ("b0.key_bias", "add", kv * d, "b0.key"),
                      ("b0.value_bias", "add", kv * d, "b0.value")]
    assert {op.n for op in _matmuls(work, "attention_scores")} == {40}  # (no window by default)
    windowed = _trace("qwen2", 40, use_sliding_window=True, sliding_window=16,
                      max_window_layers=1)
    assert [op.n for op in _matmuls(windowed, "attention_scores")] == [40, 16, 16]
