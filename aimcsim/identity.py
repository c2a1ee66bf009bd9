"""Parts of memo keys: objects compared by identity (`Same`), and values passed through a memo
without being part of its key (`Carried`)."""

from __future__ import annotations

from typing import Any


class Same:
    """Objects compared by identity, for memos (hashing a whole workload costs more than
    placing it); a memo holding it keeps them, so their identities are not reused while
    memoised."""

    __slots__ = ("objects",)

    def __init__(self, *objects: Any) -> None:
        self.objects = objects

    def __hash__(self) -> int:
        return hash(tuple(map(id, self.objects)))

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Same) and len(other.objects) == len(self.objects)
                and all(a is b for a, b in zip(self.objects, other.objects, strict=True)))


class Carried:
    """A value passed through a memo without being part of its key (all compare equal): what
    the memoised function reads of it is in the key already."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __hash__(self) -> int:
        return 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Carried)
