"""Request streams on the chip: arrivals, iteration-level batching, adapter caching
(`aimcsim.serve.engine`), each iteration's cost from the simulator (`aimcsim.serve.costs`)."""
