"""MobileBERT trace, generated from the model configuration.

Structure per layer follows the reference implementation (Hugging Face `MobileBertLayer`, with
`use_bottleneck`, `key_query_shared_bottleneck`, `normalization_type: no_norm`, `relu`):

  h (hidden) -> bottleneck.input     dense hidden->true_hidden + NoNorm     = layer_input
  h          -> bottleneck.attention dense hidden->true_hidden + NoNorm     = shared Q/K input
  Q, K = dense(shared), V = dense(h)             (V reads the full-width layer input)
  scores = Q K^T per head, softmax, context = P V per head
  attention.output: dense + (+ layer_input) + NoNorm
  (num_feedforward_networks - 1) x FFN: dense up + relu, dense down, add, NoNorm
  intermediate dense up + relu, output dense down, add, NoNorm
  output bottleneck: dense true_hidden->hidden, add h, NoNorm       = next h

NoNorm is an element-wise affine map (x * gamma + beta); it is fused with the residual add
(`add_norm`) where the reference adds first. The embedding layer is not part of the trace:
its output (hidden wide) is the network input.
"""

from __future__ import annotations

from typing import Any

from aimcsim.traces.builder import TraceBuilder

#: `google/mobilebert-uncased` config.json (the fields the trace uses).
MOBILEBERT_UNCASED: dict[str, Any] = {
    "model": "google/mobilebert-uncased",
    "hidden_size": 512,
    "true_hidden_size": 128,
    "intra_bottleneck_size": 128,
    "intermediate_size": 512,
    "num_attention_heads": 4,
    "num_hidden_layers": 24,
    "num_feedforward_networks": 4,
    "use_bottleneck": True,
    "key_query_shared_bottleneck": True,
    "use_bottleneck_attention": False,
    "normalization_type": "no_norm",
    "hidden_act": "relu",
}


def mobilebert_trace(seq_len: int = 384, config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Workload document (ready for YAML) of MobileBERT at `seq_len` tokens."""
    cfg = dict(MOBILEBERT_UNCASED if config is None else config)
    if seq_len < 1:
        raise ValueError(f"seq_len must be at least 1, got {seq_len}")
    for key, want in (("use_bottleneck", True), ("key_query_shared_bottleneck", True),
                      ("use_bottleneck_attention", False)):
        if cfg.get(key) != want:
            raise ValueError(f"only {key}={want} is modelled (got {cfg.get(key)!r})")
    hidden, inner = cfg["hidden_size"], cfg["true_hidden_size"]
    inter, heads = cfg["intermediate_size"], cfg["num_attention_heads"]
    if inner % heads:
        raise ValueError(f"true_hidden_size {inner} is not divisible by {heads} heads")
    head_dim = inner // heads
    t = TraceBuilder()
    linear, elementwise = t.linear, t.elementwise
    h = "input"
    for b in range(cfg["num_hidden_layers"]):
        x = linear("bottleneck_input", b, "bottleneck_input", h, hidden, inner)
        layer_input = elementwise("bottleneck_input_norm", b, "norm", [x], inner)
        x = linear("bottleneck_attention", b, "bottleneck_attention", h, hidden, inner)
        shared = elementwise("bottleneck_attention_norm", b, "norm", [x], inner)
        q = linear("query", b, "query", shared, inner, inner)
        k = linear("key", b, "key", shared, inner, inner)
        v = linear("value", b, "value", h, hidden, inner)
        c = t.attention(b, q, k, v, heads=heads, head_dim=head_dim, seq_len=seq_len)
        x = linear("attention_output", b, "attention_output", c, inner, inner)
        x = elementwise("attention_add_norm", b, "add_norm", [x, layer_input], inner)
        for f in range(cfg["num_feedforward_networks"]):
            up = linear(f"ffn{f}_intermediate", b, "ffn_intermediate", x, inner, inter)
            up = elementwise(f"ffn{f}_relu", b, "relu", [up], inter)
            down = linear(f"ffn{f}_output", b, "ffn_output", up, inter, inner)
            x = elementwise(f"ffn{f}_add_norm", b, "add_norm", [down, x], inner)
        x = linear("output_bottleneck", b, "output_bottleneck", x, inner, hidden)
        h = elementwise("output_add_norm", b, "add_norm", [x, h], hidden)
    return t.document(name=f"mobilebert-{seq_len}", model=cfg["model"], generator="mobilebert",
                      config=cfg, tokens=seq_len, width=hidden)
