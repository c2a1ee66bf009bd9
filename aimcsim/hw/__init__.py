"""Hardware components: pure cost functions and the state their SimPy processes share."""
