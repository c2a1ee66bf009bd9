"""Input files -> validated, frozen configuration objects.

The names below are imported on first use (PEP 562). The field machinery the documents are
read with (the reader, the declarations, the units) is the ground floor, `aimcsim.params`,
which the components (`aimcsim.hw`) import too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aimcsim.params.lazy import exports

_HOMES = {"Arch": "aimcsim.spec.arch", "load_arch": "aimcsim.spec.arch",
          "parse_arch": "aimcsim.spec.arch", "Workload": "aimcsim.spec.workload",
          "load_workload": "aimcsim.spec.workload", "parse_workload": "aimcsim.spec.workload"}

__all__ = ["Arch", "Workload", "load_arch", "load_workload", "parse_arch", "parse_workload"]

if TYPE_CHECKING:
    from aimcsim.spec.arch import Arch, load_arch, parse_arch
    from aimcsim.spec.workload import Workload, load_workload, parse_workload


__getattr__ = exports(__name__, _HOMES)
