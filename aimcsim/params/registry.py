"""Registries of plug-ins (pipeline strategies, ...), at the ground floor so that the
specification can read their names without importing the layer that defines them.

A `Registry` holds named instances of registered classes; its built-in members live in the
module `builtins` names, imported the first time the registry is read (a lazy import: the
specification below the simulator reads the simulator's strategies without a static import
of them). A plug-in registers with `@registry.register` before a file naming it is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import import_module
from typing import Any


class Registry:
    """Named plug-ins of one kind (`what`, for messages), built-ins from module `builtins`."""

    def __init__(self, what: str, builtins: str) -> None:
        self.what, self._builtins = what, builtins
        self._members: dict[str, Any] = {}
        self._loading = False

    def _load(self) -> dict[str, Any]:
        if not self._loading:
            self._loading = True  # (the built-ins' module registers into this one)
            try:
                import_module(self._builtins)
            except BaseException:
                self._loading = False  # (asked again, it tries again)
                raise
        return self._members

    def register(self, cls: type) -> type:
        """Register class `cls` (a decorator) under its `name`, which must be new."""
        members = self._load()
        if cls.name in members:
            raise ValueError(f"{self.what} {cls.name!r} is registered already")
        members[cls.name] = cls()
        return cls

    def get(self, name: str) -> Any:
        """The member `name` (ValueError listing the registered ones)."""
        members = self._load()
        if name not in members:
            raise ValueError(f"{self.what} {name!r} is not registered; registered: "
                             f"{', '.join(members)}")
        return members[name]

    def names(self) -> tuple[str, ...]:
        return tuple(self._load())

    def pop(self, name: str) -> Any:
        return self._load().pop(name)

    def values(self) -> list[Any]:
        return list(self._load().values())

    def __getitem__(self, name: str) -> Any:
        return self._load()[name]

    def __contains__(self, name: object) -> bool:
        return name in self._load()

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._load()))

    def __len__(self) -> int:
        return len(self._load())


#: pipeline strategies (`pipeline.strategy`), defined in `aimcsim.sim.strategies`
STRATEGIES = Registry("pipeline strategy", "aimcsim.sim.strategies")
#: kinds of sweep point beyond a run of the simulator, each a section of a sweep file that
#: replaces its workloads (`serve`: a request stream per point, `aimcsim.serve.sweep`)
SWEEP_KINDS = Registry("sweep section", "aimcsim.serve.sweep")


__all__ = ["STRATEGIES", "SWEEP_KINDS", "Registry"]
