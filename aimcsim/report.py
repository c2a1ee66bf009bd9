"""Deprecated: the report lives in `aimcsim.outputs.report`, beside the run folder it reads
and the figures it embeds. `report` is kept here for a while, with a warning."""

import warnings

from aimcsim.outputs.report import report

warnings.warn("aimcsim.report moved to aimcsim.outputs.report", DeprecationWarning, stacklevel=2)

__all__ = ["report"]
