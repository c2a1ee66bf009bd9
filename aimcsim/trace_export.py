"""Deprecated: the Chrome trace export lives in `aimcsim.outputs.trace_export`, with the other
files a run writes. `chrome_trace` is kept here for a while, with a warning."""

import warnings

from aimcsim.outputs.trace_export import chrome_trace

warnings.warn("aimcsim.trace_export moved to aimcsim.outputs.trace_export", DeprecationWarning,
              stacklevel=2)

__all__ = ["chrome_trace"]
