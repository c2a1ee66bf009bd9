"""aimcsim: a co-simulator for AIMC tiles paired with RISC-V clusters running LoRA branches.

The names below are imported on first use (PEP 562), so that `import aimcsim` (and the
command line's `--version` and `--help`) need not load the simulator, pandas or numba.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aimcsim.params.lazy import exports

__version__ = "0.1.0"

#: each public name, and the module that defines it
_HOMES = {
    "AimcsimError": "aimcsim.errors", "CapacityError": "aimcsim.errors",
    "SpecError": "aimcsim.errors", "Result": "aimcsim.simulator",
    "simulate": "aimcsim.simulator", "Arch": "aimcsim.spec", "Workload": "aimcsim.spec",
    "load_arch": "aimcsim.spec", "load_workload": "aimcsim.spec",
}

__all__ = ["AimcsimError", "Arch", "CapacityError", "Result", "SpecError", "Workload",
           "__version__", "load_arch", "load_workload", "simulate"]

if TYPE_CHECKING:
    from aimcsim.errors import AimcsimError, CapacityError, SpecError
    from aimcsim.simulator import Result, simulate
    from aimcsim.spec import Arch, Workload, load_arch, load_workload


__getattr__ = exports(__name__, _HOMES, submodules=True)


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])
