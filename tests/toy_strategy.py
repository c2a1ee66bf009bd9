"""A toy pipeline strategy, whole in this one file: three blocks in flight, the cluster's
branch overlapping the tile's (tests/test_strategies.py registers it by importing this)."""

from aimcsim.sim.strategies import BaseStrategy, register


@register
class TripleBuffered(BaseStrategy):
    name = "triple-buffered"
    description = "as double-buffered with three blocks in flight"
    blocks_in_flight = 3
