"""Deprecated: sweeps live in `aimcsim.explore.sweep`, beside the search they share their axes
with (the sweep file's module is `aimcsim.explore.sweep.definition`). The old names, and the
old submodules (`aimcsim.sweep.run`, `.store`, `.points`, `.spec`), are kept for a while, with
a warning."""

import sys
import warnings

from aimcsim.explore.sweep import *  # noqa: F403
from aimcsim.explore.sweep import __all__ as __all__
from aimcsim.explore.sweep import definition, points, run, store

warnings.warn("aimcsim.sweep moved to aimcsim.explore.sweep", DeprecationWarning, stacklevel=2)

for _name, _module in (("run", run), ("store", store), ("points", points), ("spec", definition)):
    sys.modules[f"{__name__}.{_name}"] = _module
    globals()[_name] = _module  # (`import aimcsim.sweep.spec` then `aimcsim.sweep.spec.X`)
