"""Pipeline strategies: how a static layer's tile branch and cluster branch share its blocks.

A strategy is a class registered in `STRATEGIES` (its name is the `pipeline.strategy` value
the architecture file, run settings, sweeps and the search accept). It declares what the
simulator (`aimcsim.sim.network`, `aimcsim.sim.blocks`), the closed form
(`aimcsim.analytic`), the TCDM check (`aimcsim.sim.feasibility`) and the search ask of
it:

- `blocks_in_flight`: how many of a layer's blocks hold their TCDM working set at once (the
  next block is admitted while the earlier ones finish);
- `pre_waits_for_tile`: whether the cluster's `pre` kernels (T = X A, U = T B) of a block
  start only after its tile branch has delivered the output (one after the other), or as
  soon as the block's input is on the cluster; `pre_start(input_ready_ps, tile_output_ps)`
  is that instant in the closed form.

A new strategy is one class with `@register` (tests/test_strategies.py adds one from its own
file and runs it end to end). The specification reads the names through the registry at
the ground floor (`aimcsim.params.registry`), which imports this module when first read.
"""

from __future__ import annotations

from typing import ClassVar, Protocol

from aimcsim.params.registry import STRATEGIES as _REGISTRY


class Strategy(Protocol):
    name: ClassVar[str]
    description: ClassVar[str]
    blocks_in_flight: ClassVar[int]
    pre_waits_for_tile: ClassVar[bool]

    def pre_start(self, input_ready_ps: int, tile_output_ps: int) -> int:
        """When the block's `pre` kernels may start on the cluster."""
        ...


class BaseStrategy:
    """`pre_start` from `pre_waits_for_tile` (what the built-in strategies share)."""

    pre_waits_for_tile: ClassVar[bool] = False

    def pre_start(self, input_ready_ps: int, tile_output_ps: int) -> int:
        return tile_output_ps if self.pre_waits_for_tile else input_ready_ps


#: every registered strategy, by its `pipeline.strategy` name, in the order registered (the
#: registry lives at the ground floor, `aimcsim.params.registry`, so the specification reads
#: its names; this module holds the built-in members)
STRATEGIES = _REGISTRY
register = STRATEGIES.register


def strategy(name: str) -> Strategy:
    """The registered strategy `name` (ValueError listing the registered ones)."""
    return STRATEGIES.get(name)


def strategy_names() -> tuple[str, ...]:
    return STRATEGIES.names()


def described() -> str:
    """The strategies for the `pipeline.strategy` field's description."""
    return "; ".join(f"{s.name}: {s.description}" for s in STRATEGIES.values())


@register
class Sequential(BaseStrategy):
    name = "sequential"
    description = "tile, then cluster, per block"
    blocks_in_flight = 1
    pre_waits_for_tile = True


@register
class Overlapped(BaseStrategy):
    name = "overlapped"
    description = "the cluster computes X A B while the tile computes X W, one block in flight"
    blocks_in_flight = 1


@register
class DoubleBuffered(Overlapped):
    name = "double-buffered"
    description = ("as overlapped with two blocks in flight, so the tile and the link fill "
                   "block i+1 while the cluster finishes block i")
    blocks_in_flight = 2


__all__ = ["STRATEGIES", "BaseStrategy", "Strategy", "described", "register", "strategy",
           "strategy_names"]
