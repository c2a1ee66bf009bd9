"""The cluster (PMCA): one package for everything that prices its work.

- `model`: `KernelStats`, the `PmcaModel` protocol the simulation talks to, and the
  `throughput` model (closed forms of every kernel).
- `cycle_level`: the cycle-level model (`CycleLevelPmca`), the registry of models
  (`CLUSTER_MODELS`, `cluster_model`), one kernel from the CLI (`run_kernel`); `stream`: the
  numba kernel of element-wise functions and DMA transfers.
- The matmul kernels, each with its closed form and numba kernel: `microtile` (streaming
  Snitch cores), `loaduse` (PULP cores with `sdotp`), `redmule` (the matrix engine); `tcdm`:
  the banks' arbitration and the buffers' placement they share; `traffic`: every kernel's TCDM
  word accesses by formula (the cycle-level kernels count the ones they are granted).
- `programs`: the kernels one block of a layer runs (`block_program`) and the TCDM it holds;
  `feasibility`: whether a placement's blocks fit the TCDM (`check_tcdm`); `pool`: the cores
  and the TCDM pool in the event engine; `params`: the `pmca` section's fields.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aimcsim.params.lazy import exports

# imported on first use (`aimcsim.params.lazy`): the modules of this package import each other
# and `aimcsim.spec.workload`, which reads `params`; an eager face made that a circle
_HOMES = {**dict.fromkeys(("CLUSTER_MODELS", "KERNEL_OPS", "CycleLevelPmca", "cluster_model",
                           "run_kernel"), "aimcsim.hw.pmca.cycle_level"),
          **dict.fromkeys(("KernelStats", "PmcaModel", "ThroughputPmca"),
                          "aimcsim.hw.pmca.model"),
          **dict.fromkeys(("BlockProgram", "block_program", "lora_weight_bytes"),
                          "aimcsim.hw.pmca.programs")}

__all__ = ["CLUSTER_MODELS", "KERNEL_OPS", "BlockProgram", "CycleLevelPmca", "KernelStats",
           "PmcaModel", "ThroughputPmca", "block_program", "cluster_model",
           "lora_weight_bytes", "run_kernel"]

if TYPE_CHECKING:
    from aimcsim.hw.pmca.cycle_level import (
        CLUSTER_MODELS,
        KERNEL_OPS,
        CycleLevelPmca,
        cluster_model,
        run_kernel,
    )
    from aimcsim.hw.pmca.model import KernelStats, PmcaModel, ThroughputPmca
    from aimcsim.hw.pmca.programs import BlockProgram, block_program, lora_weight_bytes

__getattr__ = exports(__name__, _HOMES, submodules=True)
