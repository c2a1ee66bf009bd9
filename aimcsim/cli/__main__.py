"""`python -m aimcsim.cli`: the `aimcsim` command."""

from aimcsim.cli.main import main

raise SystemExit(main())
