"""Traces of BERT encoders and GPT-2, LLaMA, Mistral and Qwen2 decoders from their Hugging Face
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
- Mistral: LLaMA's layers; each query attends to the last `sliding_window` keys at most
  (Hugging Face `MistralAttention` with its sliding window), in prefill and decode (the
  attention matmuls' `window`; the KV cache holds as many keys).
- Qwen2: LLaMA's layers with a bias on Q, K and V (an add each, on the cluster), and the
  sliding window on the layers from `max_window_layers` on where `use_sliding_window` says.
  A tied LM head (`tie_word_embeddings`) is traced as any: the embedding is not.

Embeddings are not traced (the network input is the embedded sequence), as for MobileBERT. The
decoders end with their language-model head (`lm_head`, hidden -> vocab_size, a static layer
on tiles like the others; `lora.layers: all` leaves it out): a prefill needs the logits of its
last token only (`last_tokens: 1`, as vLLM computes them), a decode step those of its token.
`lm_head=False` leaves it out (the per-layer studies).

The decoders also trace one decode step (`context`: the keys the new token attends to, the KV
cache and itself): one token through every layer, its attention over the whole context, K and V
of the earlier tokens brought by DMA from where the cache lives (the cluster's L2), the new
token's K and V appended.

Each family reads the config.json fields it uses as declared once on its dataclass
(`BertConfig`, `Gpt2Config`, `LlamaConfig`: type, bounds, required or HF's default; see
`aimcsim.traces.hf_config`), so a bad field is refused naming the file, the key and the value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from aimcsim.params.fields import declare
from aimcsim.params.reader import Reader
from aimcsim.spec.workload import MAX_HEADS, MAX_WIDTH
from aimcsim.traces.builder import TraceBuilder
from aimcsim.traces.hf_config import (
    MAX_LAYERS,
    MAX_POSITIONS,
    divides,
    read_family,
    scores_fit,
    within,
)

_WIDE = "at most a workload's MAX_WIDTH values per token"
_LAYERS = ("transformer layers (blocks), at most MAX_LAYERS (1,024: the deepest published "
           "transformers have about 130; the bound keeps a trace small)")
_HEADS = "attention heads, at most a workload's MAX_HEADS"
_PER_HEAD = "each head takes hidden / heads values"


def _rotary(default: int, config: str) -> str:
    return ("positions the model was trained on (rotary, RoPE: a trace of more tokens is "
            f"traced with a warning; absent: {default}, HF {config}'s default)")


def _vocab(default: int, config: str) -> str:
    return (f"tokens of the vocabulary: the LM head's outputs (hidden -> vocab_size); {_WIDE} "
            f"(absent: {default}, HF {config}'s default)")


# ---- the config.json fields each family reads, declared once ---------------------------------
@dataclass(frozen=True, kw_only=True)
class BertConfig:
    """The config.json of a BERT encoder (Hugging Face `BertConfig`)."""

    POSITIONS: ClassVar[str] = "max_position_embeddings"
    LEARNED: ClassVar[bool] = True
    NULLABLE: ClassVar[tuple[str, ...]] = ()

    hidden_size: Annotated[int, declare(f"values per token between layers (Q, K, V and the "
                                        f"attention output are hidden x hidden); {_WIDE}",
                                        ge=1, le=MAX_WIDTH)]
    intermediate_size: Annotated[int, declare(f"values per token of the FFN (up: hidden -> "
                                              f"intermediate); {_WIDE}", ge=1, le=MAX_WIDTH)]
    num_attention_heads: Annotated[int, declare(f"{_HEADS}; they divide hidden_size", ge=1,
                                                le=MAX_HEADS)]
    num_hidden_layers: Annotated[int, declare(_LAYERS, ge=1, le=MAX_LAYERS)]
    max_position_embeddings: Annotated[int, declare(
        "learned absolute positions: a trace of more tokens is refused (absent: 512, "
        "HF BertConfig's default)", ge=1, le=MAX_POSITIONS)] = 512

    def check(self, r: Reader, keys: int) -> list[str]:
        divides(r, "num_attention_heads", self.num_attention_heads, "hidden_size",
                self.hidden_size, _PER_HEAD)
        scores_fit(r, "num_attention_heads", self.num_attention_heads, keys)
        return []


@dataclass(frozen=True, kw_only=True)
class Gpt2Config:
    """The config.json of a GPT-2 decoder (Hugging Face `GPT2Config`)."""

    POSITIONS: ClassVar[str] = "n_positions"
    LEARNED: ClassVar[bool] = True
    NULLABLE: ClassVar[tuple[str, ...]] = ("n_inner",)

    n_embd: Annotated[int, declare(f"values per token between layers (hidden); {_WIDE}", ge=1,
                                   le=MAX_WIDTH)]
    n_head: Annotated[int, declare(f"{_HEADS}; they divide n_embd", ge=1, le=MAX_HEADS)]
    n_layer: Annotated[int, declare(_LAYERS, ge=1, le=MAX_LAYERS)]
    n_inner: Annotated[int, declare(
        f"values per token of the MLP (c_fc: n_embd -> n_inner); {_WIDE} (null or absent, "
        "0 here: 4 x n_embd, as HF's GPT2MLP for GPT2Config's n_inner=None)", ge=1,
        le=MAX_WIDTH)] = 0
    n_positions: Annotated[int, declare(
        "learned absolute positions: a trace of more tokens (or a decode step over more "
        "keys) is refused (absent: 1024, HF GPT2Config's default)", ge=1,
        le=MAX_POSITIONS)] = 1024
    vocab_size: Annotated[int, declare(
        f"tokens of the vocabulary: the LM head's outputs (n_embd -> vocab_size); {_WIDE} "
        "(absent: 50257, HF GPT2Config's default)", ge=1, le=MAX_WIDTH)] = 50257

    @property
    def inner(self) -> int:
        """The MLP's width (n_inner, or 4 x n_embd where the file leaves it to HF)."""
        return self.n_inner or 4 * self.n_embd

    def check(self, r: Reader, keys: int) -> list[str]:
        divides(r, "n_head", self.n_head, "n_embd", self.n_embd, _PER_HEAD)
        if not self.n_inner:
            within(r, "n_embd", f"the MLP's width (n_inner not given) 4 x {self.n_embd}",
                   self.inner)
        scores_fit(r, "n_head", self.n_head, keys)
        return []


@dataclass(frozen=True, kw_only=True)
class LlamaConfig:
    """The config.json of a LLaMA decoder (Hugging Face `LlamaConfig`)."""

    POSITIONS: ClassVar[str] = "max_position_embeddings"
    LEARNED: ClassVar[bool] = False  # rotary (RoPE): past them, a warning
    NULLABLE: ClassVar[tuple[str, ...]] = ("num_key_value_heads", "head_dim")

    hidden_size: Annotated[int, declare(f"values per token between layers; {_WIDE}", ge=1,
                                        le=MAX_WIDTH)]
    intermediate_size: Annotated[int, declare(f"values per token of the SwiGLU MLP (gate and "
                                              f"up: hidden -> intermediate); {_WIDE}", ge=1,
                                              le=MAX_WIDTH)]
    num_attention_heads: Annotated[int, declare("query heads, at most hidden_size and a "
                                                "workload's MAX_HEADS", ge=1, le=MAX_HEADS)]
    num_hidden_layers: Annotated[int, declare(_LAYERS, ge=1, le=MAX_LAYERS)]
    num_key_value_heads: Annotated[int, declare(
        "K and V heads (grouped-query attention: they divide num_attention_heads; null or "
        "absent, 0 here: num_attention_heads, as HF LlamaConfig)", ge=1, le=MAX_HEADS)] = 0
    head_dim: Annotated[int, declare(
        "values per head (q_proj: hidden -> heads x head_dim); null or absent, 0 here: "
        "hidden_size / num_attention_heads, as HF LlamaConfig; given, HF's attention uses it "
        "even where it differs from that quotient, and so does the trace (with a warning)",
        ge=1, le=MAX_WIDTH)] = 0
    max_position_embeddings: Annotated[int, declare(_rotary(2048, "LlamaConfig"), ge=1,
                                                     le=MAX_POSITIONS)] = 2048
    vocab_size: Annotated[int, declare(_vocab(32000, "LlamaConfig"), ge=1,
                                        le=MAX_WIDTH)] = 32000

    #: Q, K and V have a bias (Qwen2): an add after each
    QKV_BIAS: ClassVar[bool] = False
    #: fields whose null means 0 (not their default, as an absent one)
    NULL_IS_ZERO: ClassVar[tuple[str, ...]] = ()

    def window(self, layer: int) -> int:
        """The keys a query of `layer` attends to at most (sliding-window attention; 0: all)."""
        return 0

    @property
    def kv_heads(self) -> int:
        return self.num_key_value_heads or self.num_attention_heads

    @property
    def head_width(self) -> int:
        """Values per head: head_dim, or hidden / heads where the file leaves it to HF."""
        return self.head_dim or self.hidden_size // self.num_attention_heads

    def check(self, r: Reader, keys: int) -> list[str]:
        hidden, heads = self.hidden_size, self.num_attention_heads
        notes = []
        if heads > hidden:
            r.error("num_attention_heads", f"{heads} heads, more than hidden_size = {hidden}")
        elif not self.head_dim:
            divides(r, "num_attention_heads", heads, "hidden_size", hidden,
                    f"{_PER_HEAD} where head_dim is not given")
        elif self.head_dim * heads != hidden:
            notes.append(f"head_dim = {self.head_dim} differs from hidden_size / "
                         f"num_attention_heads = {hidden} / {heads}; HF's LLaMA attention "
                         f"uses head_dim (q_proj: {hidden} -> {heads} x {self.head_dim}), and "
                         "so does the trace")
        if self.num_key_value_heads:
            divides(r, "num_key_value_heads", self.num_key_value_heads,
                    "num_attention_heads", heads, "each K and V head serves a whole group of "
                    "query heads")
        within(r, "head_dim", f"the query width num_attention_heads x head_dim = {heads} x "
               f"{self.head_width}", heads * self.head_width)
        scores_fit(r, "num_attention_heads", heads, keys)
        return notes


@dataclass(frozen=True, kw_only=True)
class MistralConfig(LlamaConfig):
    """The config.json of a Mistral decoder (Hugging Face `MistralConfig`): LLaMA's layers
    with sliding-window attention."""

    NULL_IS_ZERO: ClassVar[tuple[str, ...]] = ("sliding_window",)  # (null: every key)

    sliding_window: Annotated[int, declare(
        "keys a query attends to at most (sliding-window attention: the last ones; the KV "
        "cache keeps as many); null or 0: every key (absent: 4096, HF MistralConfig's "
        "default)", ge=0, le=MAX_POSITIONS)] = 4096
    max_position_embeddings: Annotated[int, declare(_rotary(131072, "MistralConfig"), ge=1,
                                                     le=MAX_POSITIONS)] = 4096 * 32

    def window(self, layer: int) -> int:
        return self.sliding_window


@dataclass(frozen=True, kw_only=True)
class Qwen2Config(LlamaConfig):
    """The config.json of a Qwen2 decoder (Hugging Face `Qwen2Config`): LLaMA's layers with a
    bias on Q, K and V, and sliding-window attention where `use_sliding_window` says."""

    QKV_BIAS: ClassVar[bool] = True
    NULL_IS_ZERO: ClassVar[tuple[str, ...]] = ("sliding_window",)  # (null: every key)

    use_sliding_window: Annotated[bool, declare(
        "layers from max_window_layers on attend to the last sliding_window keys only "
        "(absent: false, HF Qwen2Config's default)")] = False
    sliding_window: Annotated[int, declare(
        "keys a query of a windowed layer attends to at most; null or 0: every key "
        "(absent: 4096, HF Qwen2Config's default)", ge=0, le=MAX_POSITIONS)] = 4096
    max_window_layers: Annotated[int, declare(
        "the layers below it attend to every key (absent: 28, HF Qwen2Config's default)",
        ge=0, le=MAX_LAYERS)] = 28
    max_position_embeddings: Annotated[int, declare(_rotary(32768, "Qwen2Config"), ge=1,
                                                     le=MAX_POSITIONS)] = 32768
    vocab_size: Annotated[int, declare(_vocab(151936, "Qwen2Config"), ge=1,
                                        le=MAX_WIDTH)] = 151936

    def window(self, layer: int) -> int:
        return (self.sliding_window if self.use_sliding_window
                and layer >= self.max_window_layers else 0)


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
               name: str = "", *, file: str = "config.json") -> dict[str, Any]:
    """The prefill of `seq_len` tokens through a BERT encoder of config.json `cfg` (read from
    `file`: the name its errors give)."""
    c = read_family(BertConfig, cfg, file, keys=seq_len)
    hidden, heads = c.hidden_size, c.num_attention_heads
    t = TraceBuilder()
    h = "input"
    for b in range(c.num_hidden_layers):
        x = _mha(t, b, h, hidden, heads, seq_len)
        x = t.elementwise("attention_add", b, "add", [x, h], hidden)
        x = t.elementwise("attention_layernorm", b, "layernorm", [x], hidden)
        y = _gelu_mlp(t, b, x, x, hidden, c.intermediate_size)
        h = t.elementwise("ffn_layernorm", b, "layernorm", [y], hidden)
    return t.document(name=name or f"{generator}-{seq_len}", model=model, generator=generator,
                      config=cfg, tokens=seq_len, width=hidden)


def _lm_head(t: TraceBuilder, block: int, src: str, hidden: int, vocab: int, seq_len: int
             ) -> None:
    """The logits of the last token of `seq_len` (every token of a 1-token trace)."""
    t.linear("lm_head", block, "lm_head", src, hidden, vocab,
             last_tokens=1 if seq_len > 1 else 0)


def gpt2_trace(seq_len: int, cfg: dict[str, Any], model: str, generator: str,
               name: str = "", context: int = 0, *, file: str = "config.json",
               lm_head: bool = True) -> dict[str, Any]:
    """The prefill of `seq_len` tokens (or, with `context`, one decode step over `context`
    keys) through a GPT-2 decoder of config.json `cfg` (read from `file`), ending with its
    LM head unless `lm_head` is False."""
    c = read_family(Gpt2Config, cfg, file, keys=context or seq_len, decode=bool(context))
    hidden, heads, layers = c.n_embd, c.n_head, c.n_layer
    t = TraceBuilder()
    h = "input"
    for b in range(layers):
        n = t.elementwise("ln_1", b, "layernorm", [h], hidden)
        x = _mha(t, b, n, hidden, heads, context or seq_len)
        h1 = t.elementwise("attention_add", b, "add", [x, h], hidden)
        n2 = t.elementwise("ln_2", b, "layernorm", [h1], hidden)
        h = _gelu_mlp(t, b, n2, h1, hidden, c.inner)
    final = t.elementwise("ln_f", layers - 1, "layernorm", [h], hidden)
    if lm_head:
        _lm_head(t, layers - 1, final, hidden, c.vocab_size, seq_len)
    return t.document(name=name or f"{generator}-{seq_len}", model=model, generator=generator,
                      config=cfg, tokens=seq_len, width=hidden, context=context)


def llama_trace(seq_len: int, cfg: dict[str, Any], model: str, generator: str,
                name: str = "", context: int = 0, *, file: str = "config.json",
                lm_head: bool = True, family: type[LlamaConfig] = LlamaConfig,
                ) -> dict[str, Any]:
    """The prefill of `seq_len` tokens (or, with `context`, one decode step over `context`
    keys) through a LLaMA decoder of config.json `cfg` (read from `file`), ending with its
    LM head unless `lm_head` is False. `family`: the config of a LLaMA-shaped family
    (Mistral's sliding window, Qwen2's Q, K and V biases)."""
    c = read_family(family, cfg, file, keys=context or seq_len, decode=bool(context))
    hidden, inter, heads, layers = (c.hidden_size, c.intermediate_size, c.num_attention_heads,
                                    c.num_hidden_layers)
    kv, head_dim = c.kv_heads, c.head_width
    t = TraceBuilder()
    h = "input"
    for b in range(layers):
        n = t.elementwise("input_rmsnorm", b, "rmsnorm", [h], hidden)
        q = t.linear("query", b, "query", n, hidden, heads * head_dim)
        k = t.linear("key", b, "key", n, hidden, kv * head_dim)
        v = t.linear("value", b, "value", n, hidden, kv * head_dim)
        if c.QKV_BIAS:  # (the bias of each, added by the cluster)
            q, k, v = (t.elementwise(f"{x}_bias", b, "add", [src], width) for x, src, width in
                       (("query", q, heads * head_dim), ("key", k, kv * head_dim),
                        ("value", v, kv * head_dim)))
        q = t.elementwise("query_rope", b, "rope", [q], heads * head_dim)
        k = t.elementwise("key_rope", b, "rope", [k], kv * head_dim)
        att = t.attention(b, q, k, v, heads=heads, head_dim=head_dim,
                          seq_len=context or seq_len, kv_heads=kv if kv != heads else 0,
                          window=c.window(b))
        x = t.linear("attention_output", b, "attention_output", att, heads * head_dim, hidden)
        h1 = t.elementwise("attention_add", b, "add", [x, h], hidden)
        n2 = t.elementwise("post_attention_rmsnorm", b, "rmsnorm", [h1], hidden)
        gate = t.linear("ffn_gate", b, "ffn_gate", n2, hidden, inter)
        up = t.linear("ffn_intermediate", b, "ffn_intermediate", n2, hidden, inter)
        gate = t.elementwise("ffn_silu", b, "silu", [gate], inter)
        g = t.elementwise("ffn_gated", b, "mul", [gate, up], inter)
        down = t.linear("ffn_output", b, "ffn_output", g, inter, hidden)
        h = t.elementwise("ffn_add", b, "add", [down, h1], hidden)
    final = t.elementwise("final_rmsnorm", layers - 1, "rmsnorm", [h], hidden)
    if lm_head:
        _lm_head(t, layers - 1, final, hidden, c.vocab_size, seq_len)
    return t.document(name=name or f"{generator}-{seq_len}", model=model, generator=generator,
                      config=cfg, tokens=seq_len, width=hidden, context=context)


def mistral_trace(seq_len: int, cfg: dict[str, Any], model: str, generator: str,
                  name: str = "", context: int = 0, *, file: str = "config.json",
                  lm_head: bool = True) -> dict[str, Any]:
    """`llama_trace` of a Mistral config.json: each query attends to the last
    `sliding_window` keys at most, in prefill and in a decode step."""
    return llama_trace(seq_len, cfg, model, generator, name, context, file=file,
                       lm_head=lm_head, family=MistralConfig)


def qwen2_trace(seq_len: int, cfg: dict[str, Any], model: str, generator: str,
                name: str = "", context: int = 0, *, file: str = "config.json",
                lm_head: bool = True) -> dict[str, Any]:
    """`llama_trace` of a Qwen2 config.json: a bias added to Q, K and V, sliding windows
    where the config asks them."""
    return llama_trace(seq_len, cfg, model, generator, name, context, file=file,
                       lm_head=lm_head, family=Qwen2Config)


#: Families whose traces can be decode steps (the encoders have none).
DECODERS = ("gpt2", "llama", "mistral", "qwen2")

#: Trace generators by the config's `model_type`.
FAMILIES = {"bert": bert_trace, "gpt2": gpt2_trace, "llama": llama_trace,
            "mistral": mistral_trace, "qwen2": qwen2_trace}


__all__ = ["DECODERS", "FAMILIES", "BertConfig", "Gpt2Config", "LlamaConfig", "MistralConfig",
           "Qwen2Config", "bert_trace", "gpt2_trace", "llama_trace", "mistral_trace",
           "qwen2_trace"]
