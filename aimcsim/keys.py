"""Deprecated: the parts of memo keys live in `aimcsim.identity` ("keys" are a YAML file's).
These names are kept for a while, with a warning."""

import warnings

from aimcsim.identity import Carried, Same

warnings.warn("aimcsim.keys is now aimcsim.identity", DeprecationWarning, stacklevel=2)

__all__ = ["Carried", "Same"]
