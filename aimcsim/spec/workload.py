"""Workload traces: YAML -> validated, frozen `Workload`.

A trace lists operations in a topological order. Each row of activations is one token; every
operation consumes and produces `tokens` rows. Shapes are per token:

- `static_linear`: Y = X W with W (d_in x d_out) programmed on AIMC tiles; `role` names the
  layer's place in its block (e.g. `query`) and is what `lora.layers` selects.
- `dynamic_matmul`: per head, rows of a streamed operand (k wide) times an operand held in full
  (k x n), e.g. Q K^T (k = head_dim, n = tokens) or P V (k = tokens, n = head_dim).
- `elementwise`: `function` over `width` values per token (softmax, norm, relu, add, add_norm).

Edges name their producer (`from`; `input` is the network input) and are `streaming` (block i of
the consumer needs block i of the producer) or `barrier` (the consumer needs every token first).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from aimcsim.hw.pmca.params import ELEMENTWISE_FUNCTIONS
from aimcsim.spec._reader import Reader, join, read_yaml

SUPPORTED_VERSIONS = (1,)
KINDS = ("static_linear", "dynamic_matmul", "elementwise")
EDGES = ("streaming", "barrier")
INPUT = "input"


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


@dataclass(frozen=True)
class Workload:
    name: str
    tokens: int
    input_width: int
    ops: tuple[Op, ...]
    model: str = ""
    source: str = "<memory>"
    config: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def op(self, name: str) -> Op:
        return self._by_name[name]

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


_TOP = ("version", "name", "model", "source", "config", "tokens", "input", "ops")
_OP_COMMON = ("name", "block", "kind", "role", "inputs")
_OP_KEYS = {
    "static_linear": (*_OP_COMMON, "d_in", "d_out"),
    "dynamic_matmul": (*_OP_COMMON, "heads", "k", "n"),
    "elementwise": (*_OP_COMMON, "function", "width"),
}


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
    tokens = r.take(top, "", "tokens", int, minimum=1)
    inp = r.mapping(top.get("input", {}), "input", ("width",), required=("width",))
    input_width = r.take(inp, "input", "width", int, minimum=1)
    config = top.get("config", {})
    if not isinstance(config, dict):
        r.error("config", "expected a mapping (the model configuration the trace came from)")
        config = {}
    widths: dict[str, int] = {INPUT: input_width}
    ops: list[Op] = []
    for i, raw in enumerate(r.sequence(top.get("ops", []), "ops")):
        op = _op(r, raw, join("ops", i), widths, tokens)
        if op is not None:
            widths[op.name] = op.d_out
            ops.append(op)
    if not ops and "ops" in top:
        r.error("ops", "a workload needs at least one operation")
    r.finish()
    return Workload(name, tokens, input_width, tuple(ops), model, file, dict(config))


def _op(r: Reader, raw: Any, p: str, widths: dict[str, int], tokens: int) -> Op | None:
    if not isinstance(raw, dict):
        r.error(p, f"expected a mapping describing an operation, got {type(raw).__name__}")
        return None
    kind = r.take(raw, p, "kind", str, choices=KINDS)
    d = r.mapping(raw, p, _OP_KEYS[kind], required=("name", "kind", "inputs"))
    name = r.take(d, p, "name", str)
    if name in widths:
        r.error(join(p, "name"), f"duplicate operation name {name!r} (names must be unique)")
    block = r.take(d, p, "block", int, default=0, minimum=0)
    role = r.take(d, p, "role", str, default=name)
    inputs = _inputs(r, d.get("inputs", []), join(p, "inputs"), widths)
    if kind == "static_linear":
        d_in = r.take(d, p, "d_in", int, minimum=1)
        d_out = r.take(d, p, "d_out", int, minimum=1)
        op = Op(name, block, kind, role, d_in, d_out, inputs)
        _check_inputs(r, p, op, widths, streamed=d_in, barrier=None)
    elif kind == "dynamic_matmul":
        heads = r.take(d, p, "heads", int, default=1, minimum=1)
        k = r.take(d, p, "k", int, minimum=1)
        n = r.take(d, p, "n", int, minimum=1)
        op = Op(name, block, kind, role, heads * k, heads * n, inputs, heads=heads, k=k, n=n)
        barrier_ok = (heads * k, heads * n)
        _check_inputs(r, p, op, widths, streamed=heads * k, barrier=barrier_ok)
        n_barrier = sum(e.kind == "barrier" for e in inputs)
        if inputs and n_barrier != 1:
            r.error(join(p, "inputs"), f"a dynamic_matmul takes exactly one barrier input (the "
                    f"operand held in full), got {n_barrier}")
        if k != tokens and n != tokens and inputs:
            r.error(p, f"neither k ({k}) nor n ({n}) equals tokens ({tokens}): the held operand "
                    "must span the sequence")
    else:
        function = r.take(d, p, "function", str, choices=ELEMENTWISE_FUNCTIONS)
        width = r.take(d, p, "width", int, minimum=1)
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
        d = r.mapping(item, ip, ("from", "edge"), required=("from",))
        src = r.take(d, ip, "from", str)
        kind = r.take(d, ip, "edge", str, default="streaming", choices=EDGES)
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
