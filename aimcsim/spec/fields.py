"""Deprecated: the field machinery moved to `aimcsim.params.fields` (the ground floor the
components and the specification share); this name is kept for a while, with a warning."""

import warnings

from aimcsim.params.fields import *  # noqa: F403
from aimcsim.params.fields import __all__  # noqa: F401

warnings.warn("aimcsim.spec.fields moved to aimcsim.params.fields", DeprecationWarning,
              stacklevel=2)
