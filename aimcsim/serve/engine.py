"""Serving a request stream: iteration-level batching, adapter caching, and the results.

The scheduler (Orca and vLLM style) runs iterations back to back while there is work. An
iteration carries one decode token of every running request and, first come first served, the
whole prompts of waiting requests while the iteration's tokens stay within `token_budget` (a
prompt is never split: the traces give a prefill over no earlier context). A prompt's prefill
gives the request's first token; each later iteration one more, until its output tokens are out.

Adapters. Each request names one; a layer's A and B live on its cluster. Before an iteration,
every adapter it uses and the L2 does not hold is loaded from off chip into every cluster's L2
(`aimcsim.reload.switch_cost` from off chip: all clusters at once, sharing the off-chip
bandwidth), one after another. In the iteration the adapters' segments run one after another;
before each segment whose adapter the TCDM does not hold, the clusters bring its A and B from L2
(`switch_cost` from L2). A waiting prompt is admitted only while the iteration's adapters fit in
L2 together (first come first served: the head of the queue waits, and those behind it). The L2
holds `capacity` adapters (what every cluster's `memory.l2_bytes` holds of its slices; unbounded
at 0), kept by `policy`:

- `lru`: a load evicts the least recently used adapter the iteration does not use;
- `lfu`: the least often used (ties: the least recently used);
- `pinned`: adapters 0 .. capacity-2 are in L2 from the start (and adapter 0 in TCDM) and
  stay; any other is loaded into the one adapter's room left for each iteration that uses it,
  and not kept.

With `lru` and `lfu` the chip starts cold: nothing in L2 or TCDM.

Costs come from `aimcsim.serve.costs.StepCosts`. Times are integer ps throughout.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aimcsim.reload import switch_cost
from aimcsim.serve.caches import L2, AdapterCache
from aimcsim.serve.costs import StepCosts
from aimcsim.serve.stream import Request
from aimcsim.spec.arch import Arch

#: `requests.csv`: one row per request
REQUEST_COLUMNS = {
    "request": "its index in the stream",
    "adapter": "the adapter it names",
    "arrival_ns": "when it arrived",
    "prompt_tokens": "tokens of its prompt",
    "output_tokens": "tokens it generated",
    "first_token_ns": "when its first token was out (the end of its prefill's iteration)",
    "done_ns": "when its last token was out",
    "ttft_ns": "time to first token: first_token_ns - arrival_ns",
    "tpot_ns": "time per output token after the first: (done_ns - first_token_ns) / "
               "(output_tokens - 1); NaN for one output token",
    "queue_ns": "from its arrival to the start of the iteration that ran its prefill",
    "adapter_loads": "off-chip loads of its adapter into L2 made for iterations it was in",
    "energy_pj": "its prefill, its decode steps' shares and its share of adapter moves (NaN "
                 "without a technology file)",
}


@dataclass
class _Live:
    """A request under way."""

    req: Request
    start_ps: int = -1
    first_ps: int = -1
    done_ps: int = -1
    generated: int = 0
    loads: int = 0
    energy_pj: float = 0.0
    kv: np.ndarray | None = None  # its KV cache's bytes on each cluster, once admitted


#: `Served.iterations`: one row per iteration
ITERATION_COLUMNS = {
    "start_ns": "when it started",
    "latency_ns": "how long it took (adapter moves, decode tokens, attention, prefills)",
    "decode_tokens": "running requests it carried a token of",
    "prompts": "prompts it admitted (their prefills)",
    "prompt_tokens": "tokens of the prompts it admitted",
    "adapters": "distinct adapters its requests named",
    "loads": "adapters it loaded from off chip into L2",
    "adapters_in_l2": "adapters L2 held after its loads",
    "l2_bytes": "the fullest cluster's L2 in it: KV caches reserved and adapters (0: unbounded "
                "L2, not counted)",
}


@dataclass(frozen=True)
class Served:
    """A served stream: its requests (`REQUEST_COLUMNS`), its iterations
    (`ITERATION_COLUMNS`) and the summary (flat keys)."""

    requests: pd.DataFrame
    iterations: pd.DataFrame
    summary: dict[str, Any]


@dataclass(frozen=True)
class Moves:
    """What moving one adapter costs: its bytes over every cluster, its load from off chip into
    L2 and its move from L2 into TCDM (ps, pJ)."""

    adapter_bytes: int
    load_ps: int
    load_pj: float
    swap_ps: int
    swap_pj: float


class _Scheduler:
    """The iteration loop (see the module docstring)."""

    def __init__(self, costs: StepCosts, stream: list[Request], cache: AdapterCache,
                 moves: Moves, token_budget: int, l2: L2 | None) -> None:
        self.costs, self.cache, self.moves, self.budget = costs, cache, moves, token_budget
        self.l2 = l2
        self.live = [_Live(r) for r in stream]
        self.waiting: deque[_Live] = deque()
        self.running: list[_Live] = []
        self.resident = 0 if cache.policy == "pinned" else None  # the adapter in TCDM
        self.busy_ps = self.loads = self.swaps = self.tile_busy_ps = self.cluster_busy_ps = 0
        self.log: list[tuple[float, float, int, int, int, int, int, int, int]] = []
        self._last = (0, 0)  # (the last iteration's adapters and loads)
        self.l2_peak = self._l2_now = 0  # (the fullest cluster's L2 bytes: KV and adapters)

    def run(self) -> None:
        live, now, nxt = self.live, 0, 0
        while nxt < len(live) or self.waiting or self.running:
            if not self.waiting and not self.running:  # (idle: to the next arrival)
                now = max(now, live[nxt].req.arrival_ps)
            while nxt < len(live) and live[nxt].req.arrival_ps <= now:
                self.waiting.append(live[nxt])
                nxt += 1
            now = self._iteration(now, self._admit())

    def _admit(self) -> list[_Live]:
        """Whole prompts, first come first served, while the tokens, the adapters and the
        KV caches fit."""
        admitted, room = [], self.budget - len(self.running)
        held = {x.req.adapter for x in self.running}  # (the adapters L2 must hold at once)
        waiting, cache, l2 = self.waiting, self.cache, self.l2
        while waiting and waiting[0].req.prompt_tokens <= room:
            x = waiting[0]
            need = cache.needs(held | {x.req.adapter})
            if l2 is None:
                if cache.capacity and need > cache.capacity:
                    break
            else:
                if x.kv is None:  # (reserved for its last step: the prompt and all but one)
                    x.kv = self.costs.kv_bytes(x.req.prompt_tokens + x.req.output_tokens - 1)
                if not l2.fits(x.kv, need):
                    break
                l2.kv_bytes = l2.kv_bytes + x.kv
            room -= x.req.prompt_tokens
            held.add(x.req.adapter)
            admitted.append(waiting.popleft())
        if not admitted and not self.running:
            x = waiting[0]
            kv = ("" if x.kv is None else
                  f"its KV cache ({int(np.max(x.kv))} bytes on a cluster) and ")
            beside = " beside the pinned adapters" if cache.policy == "pinned" else ""
            raise ValueError(f"request {x.req.request} cannot be served alone: {kv}its adapter "
                             f"do not fit L2{beside} (memory.l2_bytes "
                             f"{l2.limit_bytes if l2 else 0}, room for {cache.capacity} "
                             "adapters without KV caches)")
        return admitted

    def _adapters(self, batch: list[_Live]) -> int:
        """Load and move the batch's adapters; their time (ps), their energy shared out."""
        used = {x.req.adapter for x in batch}
        l2 = self.l2
        missing = self.cache.load(used, None if l2 is None else l2.room())
        self._l2_now = 0 if l2 is None else l2.used_bytes(self.cache.holding(used))
        self.l2_peak = max(self.l2_peak, self._l2_now)
        segments = sorted(used, key=lambda a: (a != self.resident, a))
        moved = int(segments[0] != self.resident) + len(segments) - 1
        self.resident = segments[-1]
        m = self.moves
        move_pj = len(missing) * m.load_pj + moved * m.swap_pj
        shares = Counter(x.req.adapter for x in batch)
        for x in batch:
            x.loads += x.req.adapter in missing
            x.energy_pj += move_pj / len(used) / shares[x.req.adapter]
        self.loads += len(missing)
        self.swaps += moved
        self._last = (len(used), len(missing))
        return len(missing) * m.load_ps + moved * m.swap_ps

    def _iteration(self, now: int, admitted: list[_Live]) -> int:
        """Run one iteration from `now`; returns its end."""
        running, costs = self.running, self.costs
        batch = running + admitted
        duration = self._adapters(batch)
        parts = []
        if running:
            part = costs.tokens(len(running), _context(running[0]))
            parts.append(part)
            for x in running:
                att = costs.attention(_context(x))
                parts.append(att)
                x.energy_pj += part.energy_pj / len(running) + att.energy_pj
        for x in admitted:
            pre = costs.prefill(x.req.prompt_tokens)
            parts.append(pre)
            x.energy_pj += pre.energy_pj
            x.start_ps = now
        for p in parts:
            duration += p.latency_ps
            self.tile_busy_ps += p.tile_busy_ps
            self.cluster_busy_ps += p.cluster_busy_ps
        self.log.append((now * 1e-3, duration * 1e-3, len(running), len(admitted),
                         sum(x.req.prompt_tokens for x in admitted), *self._last,
                         len(self.cache.held), self._l2_now))
        self.busy_ps += duration
        end = now + duration
        for x in batch:
            x.generated += 1
            if x.generated == 1:
                x.first_ps = end
            if x.generated == x.req.output_tokens:
                x.done_ps = end
        self.running = [x for x in batch if x.done_ps < 0]
        if self.l2 is not None:
            for x in batch:
                if x.done_ps >= 0:
                    self.l2.kv_bytes = self.l2.kv_bytes - x.kv
        return end


def serve(costs: StepCosts, stream: list[Request], *, cache: AdapterCache, moves: Moves,
          token_budget: int, l2: L2 | None = None, slo_ttft_ns: float = math.inf,
          slo_tpot_ns: float = math.inf) -> Served:
    """Serve `stream` (see the module docstring); `l2`: a bounded L2 (None: unbounded, no KV
    cache or adapter limit but `cache.capacity`)."""
    if not stream:
        raise ValueError("no requests to serve")
    if any(b.arrival_ps < a.arrival_ps for a, b in pairwise(stream)):
        raise ValueError("the stream's arrivals must be in time order")
    big = [r for r in stream if r.prompt_tokens > token_budget]
    if big:
        raise ValueError(f"request {big[0].request}'s prompt of {big[0].prompt_tokens} tokens "
                         f"is above --token-budget {token_budget}: prompts are not split")
    sched = _Scheduler(costs, stream, cache, moves, token_budget, l2)
    sched.run()
    table = _table(sched.live)
    iterations = pd.DataFrame(sched.log, columns=list(ITERATION_COLUMNS))
    return Served(table, iterations, _summary(table, sched, slo_ttft_ns, slo_tpot_ns))


def serve_model(arch: Arch, model: str | Path, stream: list[Request], *, cache: str = "lru",
                token_budget: int = 512, slo_ttft_ns: float = math.inf,
                slo_tpot_ns: float = math.inf, costs: StepCosts | None = None) -> Served:
    """Serve `stream` on `arch` with the LoRA branch on its clusters (`mode: hybrid`): the
    adapters' bytes, L2 capacity and move costs from the architecture (module docstring)."""
    costs = costs or StepCosts(arch, model, "hybrid")
    work = costs.workload(stream[0].prompt_tokens)
    offchip, swap = switch_cost(arch, work, "offchip"), switch_cost(arch, work, "l2")
    l2_bytes = arch.memory.l2_bytes if arch.memory is not None else 0
    capacity, l2 = 0, None
    if l2_bytes:
        slices = np.asarray(offchip.cluster_bytes, dtype=np.int64)
        capacity = min((l2_bytes // b for b in offchip.cluster_bytes if b), default=0)
        if not capacity:
            raise ValueError(f"{arch.source}: memory.l2_bytes {l2_bytes} holds no adapter "
                             f"(a cluster's slice is {max(offchip.cluster_bytes)} bytes)")
        l2 = L2(l2_bytes, slices, np.zeros(len(slices), dtype=np.int64))
        costs.clusters = len(slices)
    moves = Moves(offchip.bytes, round(offchip.latency_ns * 1000), offchip.energy_pj,
                  round(swap.latency_ns * 1000), swap.energy_pj)
    return serve(costs, stream, cache=AdapterCache(capacity, cache), moves=moves,
                 token_budget=token_budget, l2=l2, slo_ttft_ns=slo_ttft_ns, slo_tpot_ns=slo_tpot_ns)


#: `serve_loads`: one row per offered load (and number of adapters and cache policy)
LOAD_COLUMNS = {
    "rate_per_s": "offered requests per second",
    "adapters": "adapters the requests name",
    "cache": "what L2 keeps of the adapters (lru, lfu, pinned)",
    "branch": "where the LoRA branch runs (cluster: lora.engine pmca; sram-cim; or the engine)",
    **{f"{name}_ns_p{q}": f"{what} percentile {q}"
       for name, what in (("ttft", "time to first token"), ("tpot", "time per output token"),
                          ("latency", "request latency")) for q in (50, 90, 99)},
    "throughput_tokens_per_s": "output tokens per second served",
    "busy_fraction": "share of the span the chip ran iterations",
    "adapter_loads": "adapter loads from off chip",
    "slo_attainment": "share of requests within both objectives",
}


def serve_loads(arch: Arch, model: str | Path, points: list[tuple[float, int, str]],
                draw: Callable[[float, int], list[Request]], **options: Any) -> pd.DataFrame:
    """`serve_model` at each (rate, adapters, cache) of `points`, the streams drawn by
    `draw(rate, adapters)`, sharing one memo of the simulations; a row per point
    (`LOAD_COLUMNS`)."""
    costs = options.pop("costs", None) or StepCosts(arch, model, "hybrid")
    branch = BRANCH_OF.get(arch.lora.engine, arch.lora.engine)
    rows = []
    for rate, adapters, cache in points:
        s = serve_model(arch, model, draw(rate, adapters), costs=costs, cache=cache,
                        **options).summary
        rows.append({"rate_per_s": rate, "adapters": adapters, "cache": cache,
                     "branch": branch, **{c: s[c] for c in list(LOAD_COLUMNS)[4:]}})
    return pd.DataFrame(rows, columns=list(LOAD_COLUMNS))


#: `serve --branch`: where the LoRA branch runs, as the `lora.engine` it stands for
BRANCHES = {"cluster": "pmca", "sram-cim": "sram-cim"}
#: the branch a `lora.engine` is named by in tables
BRANCH_OF = {engine: branch for branch, engine in BRANCHES.items()}


def _context(x: _Live) -> int:
    """The keys of a running request's next decode step (its prompt and the tokens out)."""
    return x.req.prompt_tokens + x.generated


def _table(live: list[_Live]) -> pd.DataFrame:
    ns = 1e-3
    rows = {
        "request": [x.req.request for x in live],
        "adapter": [x.req.adapter for x in live],
        "arrival_ns": [x.req.arrival_ps * ns for x in live],
        "prompt_tokens": [x.req.prompt_tokens for x in live],
        "output_tokens": [x.req.output_tokens for x in live],
        "first_token_ns": [x.first_ps * ns for x in live],
        "done_ns": [x.done_ps * ns for x in live],
        "ttft_ns": [(x.first_ps - x.req.arrival_ps) * ns for x in live],
        "tpot_ns": [(x.done_ps - x.first_ps) * ns / (x.req.output_tokens - 1)
                    if x.req.output_tokens > 1 else math.nan for x in live],
        "queue_ns": [(x.start_ps - x.req.arrival_ps) * ns for x in live],
        "adapter_loads": [x.loads for x in live],
        "energy_pj": [x.energy_pj for x in live],
    }
    return pd.DataFrame(rows, columns=list(REQUEST_COLUMNS))


def _summary(table: pd.DataFrame, sched: _Scheduler, slo_ttft_ns: float,
             slo_tpot_ns: float) -> dict[str, Any]:
    span_s = (table.done_ns.max() - table.arrival_ns.min()) * 1e-9
    latency = table.done_ns - table.arrival_ns
    out: dict[str, Any] = {
        "requests": len(table),
        "iterations": len(sched.log),
        "output_tokens": int(table.output_tokens.sum()),
        "throughput_tokens_per_s": float(table.output_tokens.sum() / span_s),
        "throughput_requests_per_s": float(len(table) / span_s),
    }
    for name, values in (("ttft_ns", table.ttft_ns), ("tpot_ns", table.tpot_ns.dropna()),
                         ("latency_ns", latency)):
        for q in (50, 90, 99):
            out[f"{name}_p{q}"] = float(np.percentile(values, q)) if len(values) else math.nan
    tpot_ok = table.tpot_ns.isna() | (table.tpot_ns <= slo_tpot_ns)
    out["slo_attainment"] = float(((table.ttft_ns <= slo_ttft_ns) & tpot_ok).mean())
    out["adapter_loads"] = sched.loads
    out["adapter_swaps"] = sched.swaps
    out["adapter_bytes_offchip"] = sched.loads * sched.moves.adapter_bytes
    out["adapter_bytes_l2"] = sched.swaps * sched.moves.adapter_bytes
    out["adapters_in_l2_peak"] = sched.cache.peak
    out["l2_peak_bytes"] = sched.l2_peak
    out["busy_fraction"] = float(sched.busy_ps * 1e-12 / span_s) if span_s else math.nan
    groups, clusters = (getattr(sched.costs, k, 0) for k in ("tile_groups", "cluster_count"))
    for key, busy, count in (("tile_utilisation", sched.tile_busy_ps, groups),
                             ("cluster_utilisation", sched.cluster_busy_ps, clusters)):
        out[key] = (float(busy * 1e-12 / (count * span_s)) if count and span_s else math.nan)
    out["energy_per_token_pj"] = float(table.energy_pj.sum(skipna=False)  # (NaN: unpriced)
                                       / table.output_tokens.sum())
    return out


__all__ = ["ITERATION_COLUMNS", "LOAD_COLUMNS", "REQUEST_COLUMNS", "Moves",
           "Served", "serve", "serve_loads", "serve_model"]
