"""The `aimcsim` command line: `main` (aimcsim/cli/main.py) and a module per command."""

from aimcsim.cli.main import main

__all__ = ["main"]
