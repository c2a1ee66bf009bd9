"""Deprecated: the event engine's pieces moved where they belong (`FifoServer`:
`aimcsim.hw.servers`; `OpStats`: `aimcsim.sim.stats`; `paused_gc`: `aimcsim.sim.collector`;
`PS_PER_NS`: `aimcsim.params.units`), so that "engine" means only a LoRA or matrix engine.
These names are kept for a while, with a warning."""

import warnings

from aimcsim.hw.servers import FifoServer
from aimcsim.params.units import PS_PER_NS
from aimcsim.sim.collector import paused_gc
from aimcsim.sim.stats import OpStats

warnings.warn("aimcsim.engine is split into aimcsim.hw.servers, aimcsim.sim.stats, "
              "aimcsim.sim.collector and aimcsim.params.units", DeprecationWarning, stacklevel=2)

__all__ = ["PS_PER_NS", "FifoServer", "OpStats", "paused_gc"]
