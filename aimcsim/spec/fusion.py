"""Fused attention: each scores / softmax / context chain of a workload as one `attention`
op tiled over keys (`fuse_attention`), the form the simulator and the GPU model run."""

from __future__ import annotations

from dataclasses import replace

from aimcsim.spec.workload import Edge, Op, Workload


def fuse_attention(workload: Workload, chunk: int) -> Workload:
    """The workload with each attention chain fused into one `attention` op tiled over keys
    in chunks of `chunk` (0: the workload as it is).

    A chain is a `dynamic_matmul` over the keys (Q K^T: n = keys), read only by a softmax that
    is read only by a `dynamic_matmul` contracting over the keys (P V: k = keys) with the same
    heads. The fused op streams Q (the scores' streamed input) and holds K and V (their
    barrier inputs); it is named after the chain's common prefix (`b0.attention_scores` and
    `b0.attention_context` give `b0.attention`), role `attention`, and its consumers read it
    in place of the context matmul. Chains that do not match stay as they are.
    """
    if not chunk:
        return workload
    keys = workload.context or workload.tokens
    readers: dict[str, list[Op]] = {}
    for op in workload.ops:
        for edge in op.inputs:
            readers.setdefault(edge.src, []).append(op)
    fused: dict[str, Op] = {}  # scores name -> fused op
    gone: dict[str, str] = {}  # softmax and context names -> the fused op's name
    for s in workload.ops:
        # (the keys attended: all of them, or the last of a sliding window)
        spans = min(keys, s.window) if s.window else keys
        if s.kind != "dynamic_matmul" or s.n != spans or len(readers.get(s.name, ())) != 1:
            continue
        f = readers[s.name][0]
        if (f.kind != "elementwise" or f.function != "softmax" or len(f.inputs) != 1
                or len(readers.get(f.name, ())) != 1):
            continue
        c = readers[f.name][0]
        if (c.kind != "dynamic_matmul" or c.k != spans or c.heads != s.heads
                or c.groups != s.groups or c.window != s.window
                or c.inputs[0] != Edge(f.name, "streaming")):
            continue
        name = _common_name(s.name, c.name)
        if any(op.name == name for op in workload.ops):
            name = f"{s.name}+{c.name}"
        fused[s.name] = Op(name, s.block, "attention", "attention", s.d_in, c.d_out,
                           (*s.inputs, *c.inputs[1:]), heads=s.heads, k=s.k, n=spans,
                           kv_heads=s.kv_heads, chunk=min(chunk, spans), window=s.window)
        gone[f.name] = gone[c.name] = name
    if not fused:
        return workload
    ops = []
    for op in workload.ops:
        if op.name in gone:
            continue
        op = fused.get(op.name, op)
        if any(e.src in gone for e in op.inputs):
            op = replace(op, inputs=tuple(Edge(gone.get(e.src, e.src), e.kind)
                                          for e in op.inputs))
        ops.append(op)
    return replace(workload, ops=tuple(ops))


def _common_name(first: str, last: str) -> str:
    """`b0.attention_scores`, `b0.attention_context` -> `b0.attention`; else `first+last`."""
    common = first[:next((i for i, (a, b) in enumerate(zip(first, last, strict=False))
                          if a != b), min(len(first), len(last)))]
    stem = common.rstrip("_.")
    _, dot, tail = stem.rpartition(".")
    return stem if dot and tail and stem not in (first, last) else f"{first}+{last}"
