"""Package faces that import on first use (PEP 562): a package names what it exports and the
module that defines each, and importing the package imports none of them. So `import aimcsim`
stays light (the command line's `--version`), and a component's package can be imported by
the modules it is made of without an import circle through its face."""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import import_module
from typing import Any


def exports(package: str, homes: dict[str, str], *, submodules: bool = False
            ) -> Callable[[str], Any]:
    """The `__getattr__` of `package`: a name of `homes` (name -> defining module) imported
    from its module when first asked for and kept; with `submodules`, any other name is
    imported as `package.name` (`from aimcsim import plots`)."""

    def __getattr__(name: str) -> Any:
        if name in homes:
            value = getattr(import_module(homes[name]), name)
        elif submodules and not name.startswith("__"):
            try:
                value = import_module(f"{package}.{name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{package}.{name}":
                    raise
                raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
