"""What the cluster runs for one token block of each operation, and the TCDM it needs.

Pure functions of the operation, the block size and the cluster model; the simulator, the
analytic model and the tests share them. Buffers (element size `eb` bytes, P tokens per block):

static_linear with LoRA (hybrid mode), weights A (d_in x r) and B (r x d_out) resident; the
tile output of a block is P*d_out per row slice (S slices):
  pipeline.tile_output = in-place (default, as hand-written kernels): the tile output lands in
    the LoRA output buffer and U = T B accumulates onto it (C += T B).
    bytes = (P*d_in + P*r + S*P*d_out) * eb
    pre  = matmul(P, d_in, r)                                (needs X only)
    post = [add over (S-1)*P*d_out] then matmul(P, r, d_out, accumulate)   (needs the output)
  pipeline.tile_output = separate: U has a buffer of its own, computed before the tile output.
    bytes = (P*d_in + P*r + P*d_out + S*P*d_out) * eb
    pre  = matmul(P, d_in, r) then matmul(P, r, d_out)       (needs X only)
    post = [add over (S-1)*P*d_out] then add over P*d_out    (needs the tile output)
  Either way `post` starts with the partial-sum reduction of aimc-only mode, then adds the
  LoRA branch: the hybrid block does the aimc-only work and more.
static_linear with LoRA on SRAM-CIM macros (lora.engine: sram-cim): A and B live in the macros,
  U arrives over the tile's link: bytes = (S*P*d_out + P*d_out) * eb, pre = none,
  post = [add over (S-1)*P*d_out] then add over P*d_out.
static_linear without LoRA: only row-sliced matrices touch the cluster: partial sums
  S*P*d_out, post = add over (S-1)*P*d_out.
dynamic_matmul (per head h of H, streamed rows P x k, held operand k x n kept in cluster L2;
  G groups of H/G heads share a held operand: G = kv_heads with grouped-query attention, else H):
  rows P*H*k, one group's held operand k*n (DMA'd into TCDM per group), output P*H*n.
  pre  = G x (dma(k*n*eb) then (H/G) x matmul(P, k, n))
  with pmca.dma_double_buffer: two held-operand buffers; the DMA of group g+1 runs during a
  matmul of group g: dma, (G-1) x matmul-with-dma, (H-G+1) x matmul.
attention (fused, `pipeline.attention_key_chunk` = c > 0; H heads in G groups, head widths dk
  of Q and K and dv of V, n keys in J = ceil(n / c) chunks; K and V held in cluster L2): per
  group and chunk j of c_j keys, the DMA brings K_j (dk x c_j) and V_j (c_j x dv) into TCDM,
  then per head: S = Q K_j (matmul(P, dk, c_j)), the online softmax of S (softmax over P*c_j:
  running max, exponentials, running sum), for j > 0 the rescale of O by exp(m_old - m_new)
  (mul over P*dv), O (+)= S V_j (matmul(P, c_j, dv), accumulating for j > 0); at the end
  O /= the running sum (mul over P*H*dv). With pmca.dma_double_buffer the next chunk's DMA
  runs during the first head's S of this one. MACs equal the unfused Q K^T and P V.
  bytes = (P*H*dk + buffers*c*(dk + dv) + P*c + P*H*dv + 2*P*H) * eb (Q, K and V chunks, one
  head's scores, O, the running max and sum).
elementwise over `width` values: one buffer P*width per input, result written in place.
Matmul kernels may pad rows of their operands (`KernelStats.padding_bytes`): a block's bytes
include that padding.
  pre  = elementwise(function, P*width)
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from functools import cached_property, lru_cache, reduce
from typing import Any

from aimcsim.hw.aimc_tile import TileMapping
from aimcsim.hw.pmca.model import KernelStats, PmcaModel


@dataclass(frozen=True)
class BlockProgram:
    """Cluster work of one block: `pre` needs the streamed inputs only, `post` the tile output."""

    pre: KernelStats | None
    post: KernelStats | None
    tcdm_bytes: int
    bank_width_bytes: int  # of the cluster's TCDM: what one counted access moves
    # with pipeline.output_chunk: the post phase chunk by chunk, (bytes pulled from the
    # tiles, kernel) each; `post` is their sum (the counters)
    chunks: tuple[tuple[int, KernelStats], ...] | None = None

    @property
    def uses_cluster(self) -> bool:
        return self.pre is not None or self.post is not None

    @cached_property
    def counts(self) -> tuple[int, int, int, int, int]:
        """Its kernels' event counters: macs, element_ops, tcdm_read_bytes, tcdm_write_bytes,
        dma_bytes (the `layers` columns of the same names); the TCDM bytes are bank traffic,
        the kernels' word accesses (`KernelStats.tcdm_reads`, `tcdm_writes`) x the bank
        width."""
        kernels = [k for k in (self.pre, self.post) if k is not None]
        return (sum(k.macs for k in kernels), sum(k.element_ops for k in kernels),
                sum(k.tcdm_reads for k in kernels) * self.bank_width_bytes,
                sum(k.tcdm_writes for k in kernels) * self.bank_width_bytes,
                sum(k.dma_bytes for k in kernels))


def block_sizes(total: int, size: int) -> list[int]:
    """`total` in pieces of `size`: full pieces, then the remainder (token blocks of a
    sequence, key chunks of attention, column chunks of a layer's output)."""
    full, rest = divmod(total, size)
    return [size] * full + ([rest] if rest else [])


def _padding(pre: KernelStats | None, post: KernelStats | None) -> int:
    """Bytes the kernels' operand layouts add (rows padded so they start in different banks);
    counted with the block, also for the rows of resident weights, which overstates a
    double-buffered block's need by at most those rows' padding."""
    return sum(k.padding_bytes for k in (pre, post) if k is not None)


@dataclass(frozen=True)
class Shape:
    """What of an op its cluster work depends on (`op_shape`: the fields of
    `aimcsim.spec.workload.Op.shape`, by name; `inputs` is their count)."""

    kind: str
    d_in: int
    d_out: int
    heads: int
    k: int
    n: int
    kv_heads: int
    function: str
    chunk: int
    inputs: int
    name: str = ""

    @property
    def groups(self) -> int:
        return self.kv_heads or self.heads


def lora_weight_bytes(op: Any, rank: int, eb: int) -> int:
    """A (d_in x r) and B (r x d_out), resident in TCDM for the whole run."""
    return (op.d_in * rank + rank * op.d_out) * eb


def block_program(
    model: PmcaModel,
    op: Any,
    tokens: int,
    *,
    eb: int,
    tile: TileMapping | None = None,
    rank: int | None = None,
    tile_output: str = "in-place",
    cim: bool = False,
    output_chunk: int = 0,
) -> BlockProgram:
    """Cluster work and TCDM working set of one block of `tokens` tokens of `op`.

    `tile` is the crossbar mapping of a static op; `rank` its LoRA rank (None: no adapter);
    `tile_output` where the tile output lands with LoRA (`pipeline.tile_output`); `cim`: the
    branch runs on SRAM-CIM macros (`aimcsim.hw.sram_cim`) and the cluster only adds U;
    `output_chunk` (`pipeline.output_chunk`) the output columns of a static op's post phase
    at a time. Memoised by what the program depends on (the op's shape, not its name or edges): the
    layers of a model repeat a few shapes.
    """
    if op.kind == "static_linear" and tile is None:
        raise ValueError(f"static op {op.name!r} needs its tile mapping")
    chunk = output_chunk if op.kind == "static_linear" and 0 < output_chunk < op.d_out else 0
    return _program(model, op_shape(op), tokens, eb, tile, rank, tile_output, cim, chunk)


def op_shape(op: Any) -> tuple:
    """What of an op its cluster work depends on (not its name, place or producers)."""
    return op.shape


@lru_cache(maxsize=1 << 16)
def _program(model: PmcaModel, shape: tuple, tokens: int, eb: int, tile: TileMapping | None,
             rank: int | None, tile_output: str, cim: bool, output_chunk: int) -> BlockProgram:
    op = Shape(*shape)
    if op.kind == "static_linear":
        return _static(model, op, tokens, eb, tile, rank, tile_output, cim, output_chunk)
    if op.kind == "dynamic_matmul":
        held = op.k * op.n * eb
        plain = model.matmul(tokens, op.k, op.n)
        per_group = op.heads // op.groups  # query heads sharing one held operand
        if model.pmca.dma_double_buffer:  # the next group's operand comes during this one
            overlapped = model.matmul(tokens, op.k, op.n, dma_bytes=held).times(op.groups - 1)
            pre = model.dma(held).then(overlapped).then(
                plain.times(op.heads - (op.groups - 1)))
            buffers = 2
        else:
            pre = model.dma(held).then(plain.times(per_group)).times(op.groups)
            buffers = 1
        live = tokens * op.heads * op.k + buffers * op.k * op.n + tokens * op.heads * op.n
        return BlockProgram(pre, None, live * eb + _padding(pre, None),
                            model.pmca.bank_width_bytes)
    if op.kind == "attention":
        return _attention(model, op, tokens, eb)
    pre = model.elementwise(op.function, tokens * op.d_out)
    return BlockProgram(pre, None, tokens * op.d_in * op.inputs * eb,
                        model.pmca.bank_width_bytes)


def _static(model: PmcaModel, op: Shape, tokens: int, eb: int, tile: TileMapping, rank: int | None,
            tile_output: str, cim: bool, chunk: int) -> BlockProgram:
    """A static op's block (see the module docstring); with `chunk` (0 < chunk < d_out) its
    post phase runs on that many output columns at a time."""
    slices = tile.row_splits

    def post_of(cols: int) -> KernelStats | None:
        """The post phase over `cols` output columns: the partial sums, then the LoRA add."""
        adds = tokens * cols * (slices - 1)
        reduce = model.elementwise("add", adds) if adds else None
        if rank is None:
            lora_out = None
        elif cim:  # U arrives from the macros: Y + U on the cluster
            lora_out = model.elementwise("add", tokens * cols)
        elif tile_output == "in-place":
            lora_out = model.matmul(tokens, rank, cols, accumulate=True)
        elif tile_output == "separate":
            lora_out = model.elementwise("add", tokens * cols)
        else:
            raise ValueError(f"tile_output {tile_output!r} is not in-place or separate")
        if reduce is None:
            return lora_out
        return reduce if lora_out is None else reduce.then(lora_out)

    cols = chunk or op.d_out
    sizes = block_sizes(op.d_out, cols)
    posts = [post_of(c) for c in sizes]  # (all None, or none: it depends on rank and slices)
    post = reduce(KernelStats.then, posts) if posts[0] is not None else None
    # TCDM: one chunk's partial sums (and U from the macros) at a time
    pulled = slices + (1 if cim and rank is not None else 0)  # values per output column
    held = tokens * cols * pulled
    if rank is None:
        pre, live = None, held if slices > 1 else 0
    elif cim:
        pre, live = None, held
    else:
        xa = model.matmul(tokens, op.d_in, rank)
        if tile_output == "in-place":
            pre, live = xa, tokens * (op.d_in + rank) + held
        else:  # separate: U = T B whole, before the tile output
            pre = xa.then(model.matmul(tokens, rank, op.d_out))
            live = tokens * (op.d_in + rank + op.d_out) + held
    chunks = None
    if chunk and post is not None:
        chunks = tuple((c * pulled * tokens * eb, k) for c, k in zip(sizes, posts, strict=True))
        # the chunks' kernels reuse one buffer: the first chunk's row padding counts
        post = dataclasses.replace(post, padding_bytes=posts[0].padding_bytes)
    return BlockProgram(pre, post, live * eb + _padding(pre, post), model.pmca.bank_width_bytes,
                        chunks)


def _attention(model: PmcaModel, op: Shape, tokens: int, eb: int) -> BlockProgram:
    """The fused attention of one block (see the module docstring)."""
    heads, dk, dv = op.heads, op.k, op.d_out // op.heads
    chunk = min(op.chunk, op.n)
    sizes = block_sizes(op.n, chunk)
    steps = [(c, j == 0) for _ in range(op.groups) for j, c in enumerate(sizes)]
    double = model.pmca.dma_double_buffer
    per_group = heads // op.groups
    kinds: Counter[tuple[int, bool, int]] = Counter()  # (keys, first chunk, DMA alongside)
    for i, (c, first) in enumerate(steps):
        ahead = (dk + dv) * steps[i + 1][0] * eb if double and i + 1 < len(steps) else 0
        kinds[(c, first, ahead)] += 1
    pre = model.dma((dk + dv) * steps[0][0] * eb) if double else None
    for (c, first, ahead), count in kinds.items():
        head = model.elementwise("softmax", tokens * c)
        if not first:
            head = head.then(model.elementwise("mul", tokens * dv))
        head = head.then(model.matmul(tokens, c, dv, accumulate=not first))
        step = model.matmul(tokens, dk, c, dma_bytes=ahead).then(head)
        if per_group > 1:
            step = step.then(model.matmul(tokens, dk, c).then(head).times(per_group - 1))
        if not double:
            step = model.dma((dk + dv) * c * eb).then(step)
        step = step.times(count)
        pre = step if pre is None else pre.then(step)
    pre = pre.then(model.elementwise("mul", tokens * heads * dv))
    # the kernels reuse the same buffers: their row padding once, at the full chunk
    padding = (model.matmul(tokens, dk, chunk).padding_bytes
               + model.matmul(tokens, chunk, dv, accumulate=True).padding_bytes)
    pre = dataclasses.replace(pre, padding_bytes=padding)
    buffers = 2 if double else 1
    live = (tokens * heads * dk + buffers * chunk * (dk + dv) + tokens * chunk
            + tokens * heads * dv + 2 * tokens * heads)
    return BlockProgram(pre, None, live * eb + padding, model.pmca.bank_width_bytes)
