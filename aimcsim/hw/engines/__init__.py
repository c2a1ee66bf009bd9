"""Where a layer's LoRA branch X A B runs: engines behind one protocol, registered by name.

An engine is a class registered in `ENGINES`; its name is the `lora.engine` value. It says:

- `beside_tile`: False, the branch runs on the layer's cluster (A and B resident in its TCDM,
  the block programs' `pre` kernels: `aimcsim.hw.pmca.programs`); True, on units of its own
  beside the tile, which read the block's input as the tile does and send U over the tile's
  link for the cluster to add;
- `section`: the architecture file's section it reads (`read`: validated; None: none) and
  `tech_section`: the technology file's (MAC energy, area and leakage of one unit:
  `aimcsim.spec.tech.CimTech`);
- for engines beside the tile: `units` (how many a layer takes), `branch_ps` (a block's
  time), `branch_macs` (its MACs); `label`: its name in tables and figures.

The simulator books the units as one FIFO server per layer (timeline lane `cim:<op>`), counts
their MACs in `cim_macs` and prices them as `energy_cim_pj`, their area as `cim_mm2`. A new
engine is one module with `@register` (tests/test_engines.py adds one from its own file).
This module imports nothing above the hardware: the specification reads it.
"""

from aimcsim.hw.engines import cluster, sram_cim  # noqa: F401  (the built-in engines)
from aimcsim.hw.engines.base import (
    ENGINES,
    LoraEngine,
    described,
    engine,
    engine_names,
    register,
    sections,
    tech_sections,
)

__all__ = ["ENGINES", "LoraEngine", "described", "engine", "engine_names", "register",
           "sections", "tech_sections"]
