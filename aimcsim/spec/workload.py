"""Workload traces: YAML -> validated, frozen `Workload`.

A trace lists operations in a topological order. Each row of activations is one token; every
operation consumes and produces `tokens` rows. Shapes are per token:

- `static_linear`: Y = X W with W (d_in x d_out) programmed on AIMC tiles; `role` names the
  layer's place in its block (e.g. `query`) and is what `lora.layers` selects. With
  `last_tokens`, it processes only the sequence's last tokens (the LM head of a prefill: the
  next token's logits need the last one); nothing reads such an op.
- `dynamic_matmul`: per head, rows of a streamed operand (k wide) times an operand held in full
  (k x n), e.g. Q K^T (k = head_dim, n = tokens) or P V (k = tokens, n = head_dim).
- `elementwise`: `function` over `width` values per token (softmax, norm, relu, add, add_norm).

A trace does not write the fourth kind, `attention`: with `pipeline.attention_key_chunk` the
simulator fuses each scores / softmax / context chain into one
(`aimcsim.spec.fusion.fuse_attention`).

Edges name their producer (`from`; `input` is the network input) and are `streaming` (block i of
the consumer needs block i of the producer) or `barrier` (the consumer needs every token first).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from aimcsim.hw.lanes import unnameable
from aimcsim.hw.pmca.params import ELEMENTWISE_FUNCTIONS
from aimcsim.params.fields import (
    Custom,
    choices,
    declare,
    keys,
    read_fields,
    required,
    section_schema,
)
from aimcsim.params.reader import Reader, join, read_yaml

SUPPORTED_VERSIONS = (1,)
KINDS = ("static_linear", "dynamic_matmul", "elementwise")
INPUT = "input"
MAX_TOKENS = 1 << 20  # tokens of a sequence (a physical bound: a million-token context)
MAX_WIDTH = 1 << 24  # values per token of any operand
MAX_HEADS = 4096  # attention heads of one operation


@dataclass(frozen=True)
class Edge:
    src: str
    kind: str  # streaming | barrier


@dataclass(frozen=True)
class Op:
    """One operation of a trace. `d_in`/`d_out` are values per token for every kind."""

    name: str
    block: int
    kind: str
    role: str
    d_in: int
    d_out: int
    inputs: tuple[Edge, ...]
    heads: int = 1  # dynamic_matmul
    k: int = 0  # dynamic_matmul: contraction length per head
    n: int = 0  # dynamic_matmul: output width per head
    function: str = ""  # elementwise
    kv_heads: int = 0  # dynamic_matmul: heads with their own held operand (0: every head)
    chunk: int = 0  # attention (fused, `aimcsim.spec.fusion.fuse_attention`): keys per chunk
    last_tokens: int = 0  # static_linear: it processes the last tokens only (0: every token)
    window: int = 0  # dynamic_matmul, attention: keys attended at most (0: every key)

    @cached_property
    def shape(self) -> tuple:
        """The op without its name, block, role and producers (what the work of a block of it
        depends on; computed once: layers repeat a few shapes, and runs ask often)."""
        return (self.kind, self.d_in, self.d_out, self.heads, self.k, self.n, self.kv_heads,
                self.function, self.chunk, len(self.inputs))

    @property
    def groups(self) -> int:
        """Held operands of a dynamic_matmul or attention: one per kv head (grouped-query
        attention)."""
        return self.kv_heads or self.heads


@dataclass(frozen=True)
class Workload:
    name: str
    tokens: int
    input_width: int
    ops: tuple[Op, ...]
    model: str = ""
    source: str = "<memory>"
    config: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    context: int = 0  # keys the attention spans (0: tokens); a decode step: the KV cache + 1

    def op(self, name: str) -> Op:
        return self._by_name[name]

    def rows(self, op: Op) -> int:
        """Tokens `op` processes: the sequence's, or its last `op.last_tokens`."""
        return op.last_tokens or self.tokens

    @cached_property
    def _by_name(self) -> dict[str, Op]:
        return {op.name: op for op in self.ops}

    def width_of(self, name: str) -> int:
        """Values per token produced by `name` (the network input included)."""
        return self.input_width if name == INPUT else self.op(name).d_out

    @property
    def roles(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for op in self.ops:
            if op.kind == "static_linear":
                seen.setdefault(op.role)
        return tuple(seen)


# ---- the YAML forms, declared once (the reader below and `workload_schema` read them) --------
@dataclass(frozen=True)
class EdgeSpec:
    """One input of an operation."""

    src: Annotated[str, declare("the producer: 'input' or an operation listed earlier",
                                key="from")]
    edge: Annotated[Literal["streaming", "barrier"], declare(
        "streaming: block i of the consumer needs block i of the producer; barrier: the "
        "consumer needs every token first")] = "streaming"


@dataclass(frozen=True, kw_only=True)
class _OpSpec:
    name: Annotated[str, declare("unique operation name (e.g. b0.query)")]
    block: Annotated[int, declare("transformer block index", ge=0, le=1_000_000)] = 0
    role: Annotated[str, declare("the op's place in its block, what lora.layers selects "
                                 "(default: its name)"), Custom()] = ""
    inputs: Annotated[tuple[EdgeSpec, ...], declare("its inputs, at least one"), Custom()]


@dataclass(frozen=True, kw_only=True)
class StaticLinearSpec(_OpSpec):
    """Y = X W with W (d_in x d_out) programmed on AIMC tiles."""

    kind: Annotated[Literal["static_linear"], declare("operation kind")]
    d_in: Annotated[int, declare("input values per token", ge=1, le=MAX_WIDTH)]
    d_out: Annotated[int, declare("output values per token", ge=1, le=MAX_WIDTH)]
    last_tokens: Annotated[int, declare(
        "it processes only the sequence's last tokens, at most `tokens` (the LM head of a "
        "prefill: 1, the next token's logits); nothing may read its output (0: every token)",
        ge=0, le=MAX_TOKENS)] = 0


@dataclass(frozen=True, kw_only=True)
class DynamicMatmulSpec(_OpSpec):
    """Per head, rows of a streamed operand (k wide) times an operand held in full (k x n)."""

    kind: Annotated[Literal["dynamic_matmul"], declare("operation kind")]
    heads: Annotated[int, declare("attention heads", ge=1, le=MAX_HEADS)] = 1
    k: Annotated[int, declare("contraction length per head", ge=1, le=MAX_WIDTH)]
    n: Annotated[int, declare("output width per head", ge=1, le=MAX_WIDTH)]
    kv_heads: Annotated[int, declare(
        "heads with a held operand of their own: grouped-query attention shares one among "
        "heads / kv_heads query heads, and the held input has kv_heads x k (or n) values per "
        "token (0: every head has its own)", ge=0, le=MAX_HEADS)] = 0
    window: Annotated[int, declare(
        "keys attended at most (sliding-window attention: the last ones): k or n spans them "
        "where the workload has more (0: every key)", ge=0, le=MAX_TOKENS)] = 0


@dataclass(frozen=True, kw_only=True)
class ElementwiseSpec(_OpSpec):
    """`function` over `width` values per token."""

    kind: Annotated[Literal["elementwise"], declare("operation kind")]
    function: Annotated[Literal[ELEMENTWISE_FUNCTIONS], declare("the function")]
    width: Annotated[int, declare("values per token", ge=1, le=MAX_WIDTH)]


_OP_SPECS = {"static_linear": StaticLinearSpec, "dynamic_matmul": DynamicMatmulSpec,
             "elementwise": ElementwiseSpec}


_TOP = ("version", "name", "model", "source", "config", "tokens", "context", "input", "ops")
_OP_KEYS = {kind: keys(cls)[:-1] for kind, cls in _OP_SPECS.items()}  # ops carry no source


def load_workload(path: str | Path) -> Workload:
    """Load and validate a workload trace; raises `SpecError` naming file and YAML path."""
    return parse_workload(read_yaml(path), str(path))


def parse_workload(doc: Any, file: str = "<memory>") -> Workload:
    r = Reader(file)
    top = r.mapping(doc, "", _TOP, required=("version", "tokens", "input", "ops"))
    if "version" in top:
        r.version(top, SUPPORTED_VERSIONS)
    name = r.take(top, "", "name", str, default=Path(file).stem)
    model = r.take(top, "", "model", str, default="")
    tokens = r.take(top, "", "tokens", int, minimum=1, maximum=MAX_TOKENS)
    context = r.take(top, "", "context", int, minimum=1, maximum=MAX_TOKENS, default=tokens)
    if isinstance(context, int) and isinstance(tokens, int) and context < tokens:
        r.error("context", f"{context} keys cannot be fewer than the {tokens} tokens that "
                "attend to them")
    inp = r.mapping(top.get("input", {}), "input", ("width",), required=("width",))
    input_width = r.take(inp, "input", "width", int, minimum=1, maximum=MAX_WIDTH)
    config = top.get("config", {})
    if not isinstance(config, dict):
        r.error("config", "expected a mapping (the model configuration the trace came from)")
        config = {}
    widths: dict[str, int] = {INPUT: input_width}
    ops: list[Op] = []
    partial: dict[str, int] = {}  # ops of the last tokens only -> their last_tokens
    for i, raw in enumerate(r.sequence(top.get("ops", []), "ops")):
        p = join("ops", i)
        op = _op(r, raw, p, widths, context)
        if op is None:
            continue
        for j, edge in enumerate(op.inputs):
            if edge.src in partial:
                r.error(join(join(p, "inputs"), j), f"{edge.src!r} processes only the last "
                        f"{partial[edge.src]} token(s) (last_tokens): nothing may read it")
        if op.last_tokens:
            if isinstance(tokens, int) and op.last_tokens > tokens:
                r.error(join(p, "last_tokens"), f"{op.last_tokens} is above the workload's "
                        f"{tokens} tokens")
            partial[op.name] = op.last_tokens
        widths[op.name] = op.d_out
        ops.append(op)
    if not ops and "ops" in top:
        r.error("ops", "a workload needs at least one operation")
    r.finish()
    return Workload(name, tokens, input_width, tuple(ops), model, file, dict(config),
                    context=context)


def _op(r: Reader, raw: Any, p: str, widths: dict[str, int], keys: int) -> Op | None:
    if not isinstance(raw, dict):
        r.error(p, f"expected a mapping describing an operation, got {type(raw).__name__}")
        return None
    kind = r.take(raw, p, "kind", str, choices=KINDS)
    d = r.mapping(raw, p, _OP_KEYS[kind], required=required(_OP_SPECS[kind]))
    values = read_fields(r, _OP_SPECS[kind], d, p)
    name, block = values["name"], values["block"]
    if name in widths:
        r.error(join(p, "name"), f"duplicate operation name {name!r} (names must be unique)")
    elif isinstance(name, str) and "->" in name and (why := unnameable(name)) is not None:
        r.error(join(p, "name"), why)
    role = r.take(d, p, "role", str, default=name)
    inputs = _inputs(r, d.get("inputs", []), join(p, "inputs"), widths)
    if kind == "static_linear":
        d_in, d_out = values["d_in"], values["d_out"]
        op = Op(name, block, kind, role, d_in, d_out, inputs, last_tokens=values["last_tokens"])
        _check_inputs(r, p, op, widths, streamed=d_in, barrier=None)
    elif kind == "dynamic_matmul":
        heads, k, n, kv = values["heads"], values["k"], values["n"], values["kv_heads"]
        window = values["window"]
        if kv and heads % kv:
            r.error(join(p, "kv_heads"), f"{kv} does not divide heads = {heads} (each kv head "
                    "serves a whole group of query heads)")
        op = Op(name, block, kind, role, heads * k, heads * n, inputs, heads=heads, k=k, n=n,
                kv_heads=kv, window=window)
        groups = kv or heads
        barrier_ok = (groups * k, groups * n)
        _check_inputs(r, p, op, widths, streamed=heads * k, barrier=barrier_ok)
        n_barrier = sum(e.kind == "barrier" for e in inputs)
        if inputs and n_barrier != 1:
            r.error(join(p, "inputs"), f"a dynamic_matmul takes exactly one barrier input (the "
                    f"operand held in full), got {n_barrier}")
        attended = min(keys, window) if window else keys
        if k != attended and n != attended and inputs:
            r.error(p, f"neither k ({k}) nor n ({n}) equals the keys attended ({attended}: "
                    "context, else tokens, at most the window): the held operand must span "
                    "them")
    else:
        function, width = values["function"], values["width"]
        op = Op(name, block, kind, role, width, width, inputs, function=function)
        _check_inputs(r, p, op, widths, streamed=width, barrier=None)
    return op


def _inputs(r: Reader, raw: Any, p: str, widths: dict[str, int]) -> tuple[Edge, ...]:
    edges = []
    items = r.sequence(raw, p)
    if not items and isinstance(raw, list):
        r.error(p, "an operation needs at least one input (use 'input' for the network input)")
    for i, item in enumerate(items):
        ip = join(p, i)
        d = r.mapping(item, ip, keys(EdgeSpec)[:-1], required=required(EdgeSpec))
        edge = read_fields(r, EdgeSpec, d, ip)
        src, kind = edge["src"], edge["edge"]
        if src and src not in widths:
            r.error(join(ip, "from"), f"unknown producer {src!r}: it must be 'input' or an "
                    "operation listed earlier in ops")
        edges.append(Edge(src, kind))
    return tuple(edges)


def _check_inputs(
    r: Reader,
    p: str,
    op: Op,
    widths: dict[str, int],
    *,
    streamed: int,
    barrier: tuple[int, ...] | None,
) -> None:
    for i, edge in enumerate(op.inputs):
        if edge.src not in widths:
            continue
        width = widths[edge.src]
        ip = join(join(p, "inputs"), i)
        if edge.kind == "barrier" and barrier is not None:
            if width not in barrier:
                r.error(ip, f"producer {edge.src!r} gives {width} values per token; this operand "
                        f"must have {' or '.join(map(str, barrier))}")
        elif edge.kind == "barrier" and op.kind != "dynamic_matmul":
            if width != streamed:
                r.error(ip, f"producer {edge.src!r} gives {width} values per token, {op.name!r} "
                        f"expects {streamed}")
        elif width != streamed:
            r.error(ip, f"producer {edge.src!r} gives {width} values per token, {op.name!r} "
                    f"expects {streamed}")


EDGES = choices(EdgeSpec, "edge")


def workload_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a workload trace, from the declarations above."""
    ops = []
    for cls in _OP_SPECS.values():
        schema = section_schema(cls, cls.__name__, source=False)
        schema["properties"]["inputs"] = {
            "type": "array", "minItems": 1,
            "items": section_schema(EdgeSpec, "input", source=False),
            "description": "its inputs, at least one"}
        schema.pop("$defs", None)
        ops.append(schema)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "aimcsim workload trace",
        "type": "object",
        "properties": {
            "version": {"enum": list(SUPPORTED_VERSIONS)},
            "name": {"type": "string"}, "model": {"type": "string"},
            "source": {"type": "string"},
            "config": {"type": "object", "description": "the model configuration the trace "
                       "came from (config.json fields)"},
            "tokens": {"type": "integer", "minimum": 1, "maximum": MAX_TOKENS,
                       "description": "tokens per sequence"},
            "context": {"type": "integer", "minimum": 1, "maximum": MAX_TOKENS,
                        "description": "keys the attention spans (default: tokens); a decode "
                                       "step: the KV cache and the new token"},
            "input": {"type": "object", "additionalProperties": False, "required": ["width"],
                      "properties": {"width": {"type": "integer", "minimum": 1,
                                               "maximum": MAX_WIDTH}}},
            "ops": {"type": "array", "minItems": 1, "items": {"oneOf": ops}},
        },
        "required": ["version", "tokens", "input", "ops"],
        "additionalProperties": False,
    }
