"""aimcsim: a co-simulator for AIMC tiles paired with RISC-V clusters running LoRA branches."""

from aimcsim.errors import AimcsimError, CapacityError, SpecError
from aimcsim.simulator import Result, simulate
from aimcsim.spec import Arch, Workload, load_arch, load_workload

__version__ = "0.1.0"

__all__ = [
    "AimcsimError",
    "Arch",
    "CapacityError",
    "Result",
    "SpecError",
    "Workload",
    "__version__",
    "load_arch",
    "load_workload",
    "simulate",
]
