"""What an iteration costs, from the simulator, memoised by exactly what changes it.

In a layer-by-layer run the ops run one after another, so a run's latency is the sum of each
op's increment (its end minus the previous op's end) and each increment depends on that op
alone (that is why `aimcsim.sim.replay` may shift an op's footprint). An iteration runs every
op once over its segments, one after another:

- the ops whose shape does not depend on the context (the linear layers, norms, the LM head)
  over the iteration's decode tokens together, one token per block (as `decode` runs a step),
  the LM head on each of them;
- the ops whose shape does (attention's scores, softmax and context over the KV cache) once per
  decoding request, at its context;
- every admitted prompt as `decode`'s prefill runs it (blocks of `pipeline.parallel_tokens`).

So an iteration's latency is `tokens(T) + sum of attention(c) + sum of prefill(P)`, each term
one simulation memoised by T, c or P: exact for this decomposition, and a lone request gets
`decode`'s time to first token and time per output token. Energy adds the same way: each op's
dynamic energy, and the run's static energy shared by its ops in proportion to their time.
`memo=False` is the reference: every term of every iteration simulated when asked for.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from aimcsim.errors import AimcsimWarning, SettingWarning
from aimcsim.mapping import placed
from aimcsim.sim.feasibility import check_l2
from aimcsim.simulator import simulate
from aimcsim.spec.arch import Arch
from aimcsim.spec.workload import Workload, parse_workload
from aimcsim.traces import model_trace


@dataclasses.dataclass(frozen=True)
class Part:
    """A term of an iteration: latency (ps), energy (pJ, NaN without a technology file), and
    the time its tile groups and clusters were busy, summed over them (ps; as
    `aimcsim.results.UTILISATION` counts them)."""

    latency_ps: int
    energy_pj: float
    tile_busy_ps: int = 0
    cluster_busy_ps: int = 0


class StepCosts:
    """The memoised terms of iterations of `model` on `arch` in `mode` (module docstring)."""

    def __init__(self, arch: Arch, model: str | Path, mode: str = "hybrid", *,
                 memo: bool = True) -> None:
        if arch.pipeline.between_layers != "layer-by-layer":
            raise ValueError(f"{arch.source}: pipeline.between_layers: "
                             f"{arch.pipeline.between_layers}: serving is modelled for "
                             "layer-by-layer runs (allowed: layer-by-layer)")
        self.arch, self.model, self.mode = arch, model, mode
        self.one = dataclasses.replace(arch, pipeline=dataclasses.replace(
            arch.pipeline, parallel_tokens=1))
        self._prefill: dict[int, Part] = {}
        self._tokens: dict[int, Part] = {}
        self._attention: dict[int, Part] = {}
        self._contextual: np.ndarray | None = None  # ops whose shape follows the context
        self._kv: dict[int, np.ndarray] = {}
        self._lone: dict[int, Part] = {}  # the context-free ops of a lone step, by context
        self.clusters = 0  # (at least this many entries in `kv_bytes`)
        self.simulations = 0
        self.tile_groups = self.cluster_count = 0  # (the chip's, from the runs)
        self.memo = memo  # (False: the reference, every term simulated each time it is asked)

    def workload(self, tokens: int, context: int = 0, *, every_token: bool = False
                 ) -> Workload:
        """The trace of `tokens` over `context` keys (a prefill without one); `every_token`:
        the layers a prefill runs on its last tokens only (the LM head) run on every token,
        as in a batch of decode tokens, each of which needs its logits."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SettingWarning)
            doc = model_trace(self.model, tokens, context=context)
        if every_token:
            doc = {**doc, "ops": [{k: v for k, v in op.items() if k != "last_tokens"}
                                  for op in doc["ops"]]}
        return parse_workload(doc, doc["name"])

    def _increments(self, arch: Arch, work: Workload) -> Callable[[np.ndarray | None], Part]:
        """One run: the `Part` of the ops a mask selects (None: every op), from each op's
        latency increment (its end minus the previous op's end), energy and busy times."""
        self.simulations += 1
        with warnings.catch_warnings():
            if self.simulations > 1:  # (what the architecture warns of, said once)
                warnings.simplefilter("ignore", AimcsimWarning)
            result = simulate(arch, work, self.mode, timeline=False)
        columns, summary = result.columns, result.summary
        end_ps = np.rint(np.asarray(columns["end_ns"], dtype=float) * 1000).astype(np.int64)
        if np.any(np.diff(end_ps) < 0):  # (a layer-by-layer run ends its ops in order)
            raise AssertionError("ops of a layer-by-layer run ended out of order")
        inc = np.diff(end_ps, prepend=0)
        # (the run's static energy shared by its ops in proportion to their time)
        energy = summary["energy"]
        static = sum(energy.get("static_pj", {}).values()) if energy else math.nan
        energy_pj = (np.asarray(columns["energy_pj"], dtype=float)
                     + static * inc / max(1, int(end_ps[-1])))
        tiles = np.rint(np.asarray(columns["aimc_busy_ns"], dtype=float) * 1000)
        cores = np.rint((np.asarray(columns["pmca_busy_ns"], dtype=float)
                         + np.asarray(columns["dma_busy_ns"], dtype=float)) * 1000)
        self.tile_groups = int(np.count_nonzero(np.asarray(columns["tiles"]) > 0))
        self.cluster_count = int(summary["clusters"])

        def part(mask: np.ndarray | None) -> Part:
            pick = slice(None) if mask is None else mask
            return Part(int(inc[pick].sum()), float(energy_pj[pick].sum()),
                        int(tiles[pick].sum()), int(cores[pick].sum()))
        return part

    def contextual(self) -> np.ndarray:
        """Which ops' shapes follow the context (compared between the decode steps over 1 and
        2 keys: below any attention window)."""
        if self._contextual is None:
            a, b = self.workload(1, 1).ops, self.workload(1, 2).ops
            self._contextual = np.array([x != y for x, y in zip(a, b, strict=True)])
        return self._contextual

    def kv_bytes(self, context: int) -> np.ndarray:
        """A request's KV cache on each cluster's L2 at `context` keys: what a decode step
        there holds (`aimcsim.sim.feasibility.check_l2`)."""
        kv = self._kv.get(context)
        if kv is None:
            work = self.workload(1, context)
            held = check_l2(self.one, work, placed(self.one, work, self.mode))
            kv = np.zeros(max(self.clusters, len(held)), dtype=np.int64)
            kv[:len(held)] = held
            kv = self._kv[context] = kv
        return kv

    def prefill(self, prompt: int) -> Part:
        """A prompt's prefill, as `decode` runs it."""
        part = self._prefill.get(prompt) if self.memo else None
        if part is None:
            part = self._prefill[prompt] = self._increments(self.arch,
                                                            self.workload(prompt))(None)
        return part

    def attention(self, context: int) -> Part:
        """The context-following ops of one request's decode step at `context` keys."""
        part = self._attention.get(context) if self.memo else None
        if part is None:
            run = self._increments(self.one, self.workload(1, context))
            mask = self.contextual()
            part = self._attention[context] = run(mask)
            # (the other ops of a lone step at this context: `tokens(1, context)`; their
            # static energy follows the run's, whose L2 is priced by the context)
            self._lone[context] = run(~mask)
        return part

    def tokens(self, count: int, context: int) -> Part:
        """The other ops over `count` decode tokens together (one per block, the LM head on
        each); `context`: a lone token's (its step's run gives them), else unused (a trace
        of several tokens is a prefill, whose attention is not kept)."""
        if count == 1:
            if not self.memo or context not in self._lone:
                self.attention(context)  # (its run gives them)
            return self._lone[context]
        part = self._tokens.get(count) if self.memo else None
        if part is None:
            run = self._increments(self.one, self.workload(count, every_token=True))
            part = self._tokens[count] = run(~self.contextual())
        return part


__all__ = ["Part", "StepCosts"]
