"""Deprecated: the balance search lives in `aimcsim.explore.search`, beside the space it
searches (`aimcsim.explore.space`) and the sweeps. These names are kept for a while, with a
warning."""

import warnings

from aimcsim.explore.network import _apply, token_curves  # noqa: F401
from aimcsim.explore.search import (
    OBJECTIVES,
    RATINGS,
    SEARCH_COLUMNS,
    SearchPoint,
    SearchResult,
    exhaustive,
    search,
)
from aimcsim.explore.space import (  # noqa: F401
    GROUP,
    SPACE_FIELDS,
    SearchSpace,
    _alone,
    _layer_by_layer,
    _variant,
    _variants,
    load_space,
)

warnings.warn("aimcsim.search moved to aimcsim.explore.search (the space: "
              "aimcsim.explore.space)", DeprecationWarning, stacklevel=2)

__all__ = ["GROUP", "OBJECTIVES", "RATINGS", "SEARCH_COLUMNS", "SPACE_FIELDS", "SearchPoint",
           "SearchResult", "SearchSpace", "exhaustive", "load_space", "search", "token_curves"]
