"""One simulation, split by concern (`prepare`: what a run derives from its inputs, once)."""
