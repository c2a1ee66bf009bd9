"""Exploring a design space: the exact search (`aimcsim.search`) and its space (`space`),
the network at the searched settings (`network`), and sweeps (`aimcsim.sweep`)."""
