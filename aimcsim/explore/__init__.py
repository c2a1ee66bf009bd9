"""Exploring a design space: the exact search (`search`) over its space (`space`), the
network at the searched settings (`network`), and sweeps (`aimcsim.explore.sweep`)."""
