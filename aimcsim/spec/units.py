"""Deprecated: the field machinery moved to `aimcsim.params.units` (the ground floor the
components and the specification share); this name is kept for a while, with a warning."""

import warnings

from aimcsim.params.units import *  # noqa: F403
from aimcsim.params.units import __all__  # noqa: F401

warnings.warn("aimcsim.spec.units moved to aimcsim.params.units", DeprecationWarning,
              stacklevel=2)
