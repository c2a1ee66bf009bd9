"""Traces of BERT encoders, GPT-2 decoders and LLaMA decoders from their Hugging Face
`config.json` (prefill: every token of the sequence at once).

Per layer, following the reference implementations (Hugging Face `BertLayer`, `GPT2Block`,
`LlamaDecoderLayer`); static layers carry the roles `lora.layers` selects (query, key, value,
attention_output, ffn_gate, ffn_intermediate, ffn_output):

- BERT (post-norm): Q, K, V (hidden -> hidden); attention; attention output; add and LayerNorm;
  intermediate (hidden -> intermediate) and GELU; output (intermediate -> hidden); add and
  LayerNorm.
- GPT-2 (pre-norm): LayerNorm; `c_attn` as its three column blocks Q, K, V (hidden -> hidden
  each: the same MACs, tiled per block); causal attention; `c_proj`; add; LayerNorm; `c_fc`
  (hidden -> n_inner, default 4 hidden) and GELU; `c_proj` back; add. A final LayerNorm.
- LLaMA (pre-norm): RMSNorm; Q (hidden -> heads x head_dim), K and V (hidden -> kv_heads x
  head_dim); RoPE on Q and K; grouped-query attention; O; add; RMSNorm; gate and up (hidden ->
  intermediate), SiLU of gate times up (SwiGLU), down; add. A final RMSNorm.

Embeddings and the language-model head are not traced (the network input is the embedded
sequence), as for MobileBERT. The decoders also trace one decode step (`context`: the keys the
new token attends to, the KV cache and itself): one token through every layer, its attention
over the whole context, K and V of the earlier tokens brought by DMA from where the cache lives
(the cluster's L2), the new token's K and V appended.
"""

from __future__ import annotations

from typing import Any

from aimcsim.traces.builder import TraceBuilder


def _need(cfg: dict[str, Any], family: str, *keys: str) -> list[int]:
    missing = [k for k in keys if not isinstance(cfg.get(k), int) or cfg[k] < 1]
    if missing:
        raise ValueError(f"a {family} config.json needs whole numbers >= 1 for "
                         f"{', '.join(missing)}")
    return [cfg[k] for k in keys]


def _heads(hidden: int, heads: int, family: str) -> int:
    if hidden % heads:
        raise ValueError(f"{family}: hidden size {hidden} is not divisible by {heads} heads")
    return hidden // heads


def _mha(t: TraceBuilder, b: int, src: str, hidden: int, heads: int, seq_len: int) -> str:
    """Q, K, V (hidden -> hidden) of `src`, attention, and the output projection."""
    q = t.linear("query", b, "query", src, hidden, hidden)
    k = t.linear("key", b, "key", src, hidden, hidden)
    v = t.linear("value", b, "value", src, hidden, hidden)
    c = t.attention(b, q, k, v, heads=heads, head_dim=hidden // heads, seq_len=seq_len)
    return t.linear("attention_output", b, "attention_output", c, hidden, hidden)


def _gelu_mlp(t: TraceBuilder, b: int, src: str, residual: str, hidden: int, inner: int
              ) -> str:
    """Up (hidden -> inner), GELU, down, and the residual add."""
    up = t.linear("ffn_intermediate", b, "ffn_intermediate", src, hidden, inner)
    up = t.elementwise("ffn_gelu", b, "gelu", [up], inner)
    down = t.linear("ffn_output", b, "ffn_output", up, inner, hidden)
    return t.elementwise("ffn_add", b, "add", [down, residual], hidden)


def bert_trace(seq_len: int, cfg: dict[str, Any], model: str, generator: str,
               name: str = "") -> dict[str, Any]:
    hidden, inter, heads, layers = _need(cfg, "bert", "hidden_size", "intermediate_size",
                                         "num_attention_heads", "num_hidden_layers")
    _heads(hidden, heads, "bert")
    t = TraceBuilder()
    h = "input"
    for b in range(layers):
        x = _mha(t, b, h, hidden, heads, seq_len)
        x = t.elementwise("attention_add", b, "add", [x, h], hidden)
        x = t.elementwise("attention_layernorm", b, "layernorm", [x], hidden)
        y = _gelu_mlp(t, b, x, x, hidden, inter)
        h = t.elementwise("ffn_layernorm", b, "layernorm", [y], hidden)
    return t.document(name=name or f"{generator}-{seq_len}", model=model, generator=generator,
                      config=cfg, tokens=seq_len, width=hidden)


def gpt2_trace(seq_len: int, cfg: dict[str, Any], model: str, generator: str,
               name: str = "", context: int = 0) -> dict[str, Any]:
    hidden, heads, layers = _need(cfg, "gpt2", "n_embd", "n_head", "n_layer")
    inner = cfg.get("n_inner") or 4 * hidden
    _heads(hidden, heads, "gpt2")
    t = TraceBuilder()
    h = "input"
    for b in range(layers):
        n = t.elementwise("ln_1", b, "layernorm", [h], hidden)
        x = _mha(t, b, n, hidden, heads, context or seq_len)
        h1 = t.elementwise("attention_add", b, "add", [x, h], hidden)
        n2 = t.elementwise("ln_2", b, "layernorm", [h1], hidden)
        h = _gelu_mlp(t, b, n2, h1, hidden, inner)
    t.elementwise("ln_f", layers - 1, "layernorm", [h], hidden)
    return t.document(name=name or f"{generator}-{seq_len}", model=model, generator=generator,
                      config=cfg, tokens=seq_len, width=hidden, context=context)


def llama_trace(seq_len: int, cfg: dict[str, Any], model: str, generator: str,
                name: str = "", context: int = 0) -> dict[str, Any]:
    hidden, inter, heads, layers = _need(cfg, "llama", "hidden_size", "intermediate_size",
                                         "num_attention_heads", "num_hidden_layers")
    kv = cfg.get("num_key_value_heads") or heads
    head_dim = cfg.get("head_dim") or _heads(hidden, heads, "llama")
    if heads % kv:
        raise ValueError(f"llama: num_key_value_heads {kv} does not divide "
                         f"num_attention_heads {heads}")
    t = TraceBuilder()
    h = "input"
    for b in range(layers):
        n = t.elementwise("input_rmsnorm", b, "rmsnorm", [h], hidden)
        q = t.linear("query", b, "query", n, hidden, heads * head_dim)
        k = t.linear("key", b, "key", n, hidden, kv * head_dim)
        v = t.linear("value", b, "value", n, hidden, kv * head_dim)
        q = t.elementwise("query_rope", b, "rope", [q], heads * head_dim)
        k = t.elementwise("key_rope", b, "rope", [k], kv * head_dim)
        c = t.attention(b, q, k, v, heads=heads, head_dim=head_dim,
                        seq_len=context or seq_len, kv_heads=kv if kv != heads else 0)
        x = t.linear("attention_output", b, "attention_output", c, heads * head_dim, hidden)
        h1 = t.elementwise("attention_add", b, "add", [x, h], hidden)
        n2 = t.elementwise("post_attention_rmsnorm", b, "rmsnorm", [h1], hidden)
        gate = t.linear("ffn_gate", b, "ffn_gate", n2, hidden, inter)
        up = t.linear("ffn_intermediate", b, "ffn_intermediate", n2, hidden, inter)
        gate = t.elementwise("ffn_silu", b, "silu", [gate], inter)
        g = t.elementwise("ffn_gated", b, "mul", [gate, up], inter)
        down = t.linear("ffn_output", b, "ffn_output", g, inter, hidden)
        h = t.elementwise("ffn_add", b, "add", [down, h1], hidden)
    t.elementwise("final_rmsnorm", layers - 1, "rmsnorm", [h], hidden)
    return t.document(name=name or f"{generator}-{seq_len}", model=model, generator=generator,
                      config=cfg, tokens=seq_len, width=hidden, context=context)


#: Families whose traces can be decode steps (the encoders have none).
DECODERS = ("gpt2", "llama")

#: Trace generators by the config's `model_type`.
FAMILIES = {"bert": bert_trace, "gpt2": gpt2_trace, "llama": llama_trace}


__all__ = ["DECODERS", "FAMILIES", "bert_trace", "gpt2_trace", "llama_trace"]
