"""Input files -> validated, frozen configuration objects."""

from aimcsim.spec.arch import Arch, load_arch, parse_arch
from aimcsim.spec.workload import Workload, load_workload, parse_workload

__all__ = ["Arch", "Workload", "load_arch", "load_workload", "parse_arch", "parse_workload"]
