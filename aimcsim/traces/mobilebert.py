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

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from aimcsim.params.fields import declare
from aimcsim.params.reader import Reader
from aimcsim.spec.workload import MAX_HEADS, MAX_WIDTH
from aimcsim.traces.builder import TraceBuilder
from aimcsim.traces.hf_config import (
    MAX_LAYERS,
    MAX_POSITIONS,
    check_tokens,
    divides,
    read_family,
    scores_fit,
)

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


#: Stacked FFNs a layer may have: google/mobilebert-uncased stacks 4; 8 (twice that) keeps a
#: layer's trace below 45 operations (a 1,024-layer trace below 45,000).
MAX_FFNS = 8
_WIDE = "at most a workload's MAX_WIDTH values per token"


@dataclass(frozen=True, kw_only=True)
class MobileBertConfig:
    """The config.json of a MobileBERT encoder (Hugging Face `MobileBertConfig`); a user's
    file gives every required field (the bundled `MOBILEBERT_UNCASED` is the default when no
    file is given, never a filler of a file's gaps)."""

    POSITIONS: ClassVar[str] = "max_position_embeddings"
    LEARNED: ClassVar[bool] = True
    NULLABLE: ClassVar[tuple[str, ...]] = ()

    hidden_size: Annotated[int, declare(f"values per token between layers (the bottlenecks' "
                                        f"input and output); {_WIDE}", ge=1, le=MAX_WIDTH)]
    intra_bottleneck_size: Annotated[int, declare(
        f"values per token inside a layer (the bottleneck: hidden -> intra_bottleneck); "
        f"{_WIDE}", ge=1, le=MAX_WIDTH)]
    true_hidden_size: Annotated[int, declare(
        "the width attention and the FFNs run at; HF MobileBertConfig sets it to "
        "intra_bottleneck_size (use_bottleneck), whatever the file says, and so does the "
        "trace (a file giving another value: a warning; absent, 0 here: "
        "intra_bottleneck_size)", ge=1, le=MAX_WIDTH)] = 0
    intermediate_size: Annotated[int, declare(f"values per token of each FFN (up: true_hidden -> "
                                              f"intermediate); {_WIDE}", ge=1, le=MAX_WIDTH)]
    num_attention_heads: Annotated[int, declare("attention heads, at most a workload's MAX_HEADS; "
                                                "they divide true_hidden_size", ge=1,
                                                le=MAX_HEADS)]
    num_hidden_layers: Annotated[int, declare(
        "transformer layers (blocks), at most MAX_LAYERS (1,024: the deepest published "
        "transformers have about 130; the bound keeps a trace small)", ge=1, le=MAX_LAYERS)]
    num_feedforward_networks: Annotated[int, declare(
        "stacked FFNs per layer (google/mobilebert-uncased: 4), at most MAX_FFNS (8: keeps "
        "a layer's trace below 45 operations)", ge=1, le=MAX_FFNS)]
    max_position_embeddings: Annotated[int, declare(
        "learned absolute positions: a trace of more tokens is refused (absent: 512, HF "
        "MobileBertConfig's default)", ge=1, le=MAX_POSITIONS)] = 512
    use_bottleneck: Annotated[Literal[True], declare(
        "bottlenecks around each layer (only true is modelled; absent: true, HF's "
        "default)")] = True
    key_query_shared_bottleneck: Annotated[Literal[True], declare(
        "Q and K read one shared bottleneck of the layer input (only true is modelled; "
        "absent: true, HF's default)")] = True
    use_bottleneck_attention: Annotated[Literal[False], declare(
        "V reads the bottleneck instead of the full-width input (only false is modelled; "
        "absent: false, HF's default)")] = False

    @property
    def inner(self) -> int:
        """The width inside a layer (HF's true_hidden_size: intra_bottleneck_size)."""
        return self.intra_bottleneck_size

    def check(self, r: Reader, keys: int) -> list[str]:
        divides(r, "num_attention_heads", self.num_attention_heads, "true_hidden_size",
                self.inner, "each head takes true_hidden_size / heads values")
        scores_fit(r, "num_attention_heads", self.num_attention_heads, keys)
        if self.true_hidden_size and self.true_hidden_size != self.intra_bottleneck_size:
            return [f"true_hidden_size = {self.true_hidden_size} differs from "
                    f"intra_bottleneck_size = {self.intra_bottleneck_size}; HF "
                    "MobileBertConfig sets true_hidden_size to intra_bottleneck_size "
                    "(use_bottleneck), and so does the trace"]
        return []


#: The name errors give the bundled default configuration.
_BUNDLED = "MOBILEBERT_UNCASED (aimcsim/traces/mobilebert.py)"


def mobilebert_trace(seq_len: int = 384, config: dict[str, Any] | None = None, *,
                     file: str | None = None) -> dict[str, Any]:
    """Workload document (ready for YAML) of MobileBERT at `seq_len` tokens: of the bundled
    `google/mobilebert-uncased` configuration, or of `config` (a config.json's fields and
    the document's `model`, read from `file`: the name its errors give)."""
    cfg = dict(MOBILEBERT_UNCASED if config is None else config)
    check_tokens(seq_len, 0)
    c = read_family(MobileBertConfig, cfg, file or (_BUNDLED if config is None
                                                    else "config.json"), keys=seq_len)
    hidden, inner, inter, heads = (c.hidden_size, c.inner, c.intermediate_size,
                                   c.num_attention_heads)
    head_dim = inner // heads
    t = TraceBuilder()
    linear, elementwise = t.linear, t.elementwise
    h = "input"
    for b in range(c.num_hidden_layers):
        x = linear("bottleneck_input", b, "bottleneck_input", h, hidden, inner)
        layer_input = elementwise("bottleneck_input_norm", b, "norm", [x], inner)
        x = linear("bottleneck_attention", b, "bottleneck_attention", h, hidden, inner)
        shared = elementwise("bottleneck_attention_norm", b, "norm", [x], inner)
        q = linear("query", b, "query", shared, inner, inner)
        k = linear("key", b, "key", shared, inner, inner)
        v = linear("value", b, "value", h, hidden, inner)
        ctx = t.attention(b, q, k, v, heads=heads, head_dim=head_dim, seq_len=seq_len)
        x = linear("attention_output", b, "attention_output", ctx, inner, inner)
        x = elementwise("attention_add_norm", b, "add_norm", [x, layer_input], inner)
        for f in range(c.num_feedforward_networks):
            up = linear(f"ffn{f}_intermediate", b, "ffn_intermediate", x, inner, inter)
            up = elementwise(f"ffn{f}_relu", b, "relu", [up], inter)
            down = linear(f"ffn{f}_output", b, "ffn_output", up, inter, inner)
            x = elementwise(f"ffn{f}_add_norm", b, "add_norm", [down, x], inner)
        x = linear("output_bottleneck", b, "output_bottleneck", x, inner, hidden)
        h = elementwise("output_add_norm", b, "add_norm", [x, h], hidden)
    model = cfg.get("model", MOBILEBERT_UNCASED["model"])
    return t.document(name=f"mobilebert-{seq_len}", model=model, generator="mobilebert",
                      config=cfg, tokens=seq_len, width=hidden)
