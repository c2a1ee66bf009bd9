"""Kernel timings kept on disk, shared by every process on the machine (sweep workers, later
runs): a cycle-level kernel is simulated once per machine, not once per process.

A timing is a function of the cluster's parameters, the data type, the kernel and its
arguments, and of the code that computes it: the store is one SQLite file per version of the
cluster model's source (`aimcsim/hw/pmca/*.py` and the units it reads, hashed), keyed by the
parameters' repr, the data type, the kernel's name and its arguments. A stored value is the
`KernelStats` the kernel returned, field by field, so a run from the store is bit-identical to
one that simulates every kernel (tested).

Where: `$AIMCSIM_KERNEL_MEMO` (a directory; `off` turns the store off), else
`$XDG_CACHE_HOME/aimcsim` (`~/.cache/aimcsim`). A store that cannot be opened or written is
not used (the kernels run as without it). Deleting the directory is always safe.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

_SOURCES = Path(__file__).resolve().parent
ENV = "AIMCSIM_KERNEL_MEMO"


def code_version() -> str:
    """Digest of the source that computes kernel timings (a new version, a new store)."""
    digest = hashlib.sha256()
    files = [*sorted(_SOURCES.glob("*.py")), _SOURCES.parents[1] / "spec" / "units.py"]
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def memo_dir() -> Path | None:
    """The store's directory, or None when `$AIMCSIM_KERNEL_MEMO` is `off`."""
    where = os.environ.get(ENV, "")
    if where.lower() == "off":
        return None
    if where:
        return Path(where)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "aimcsim"


class KernelStore:
    """One SQLite file of kernel timings: `get` and `put` by key; errors turn it off."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._failed = False

    def _connect(self) -> sqlite3.Connection | None:
        if self._db is None and not self._failed:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=OFF")  # a cache: a lost write is recomputed
                db.execute("CREATE TABLE IF NOT EXISTS kernels (key TEXT PRIMARY KEY, "
                           "value TEXT NOT NULL)")
                self._db = db
            except (OSError, sqlite3.Error):
                self._failed = True
        return self._db

    def get(self, key: str) -> dict[str, Any] | None:
        db = self._connect()
        if db is None:
            return None
        try:
            row = db.execute("SELECT value FROM kernels WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error:
            self._failed, self._db = True, None
            return None
        return json.loads(row[0]) if row else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        db = self._connect()
        if db is None:
            return
        try:
            db.execute("INSERT OR IGNORE INTO kernels (key, value) VALUES (?, ?)",
                       (key, json.dumps(value)))
        except sqlite3.Error:
            self._failed, self._db = True, None


_STORES: dict[Path, KernelStore] = {}  # one connection per file and process (a cache)


def store() -> KernelStore | None:
    """The store `$AIMCSIM_KERNEL_MEMO` names for this code version (read at each call, so
    a test or a caller can point it elsewhere), or None."""
    where = memo_dir()
    if where is None:
        return None
    path = where / f"kernels-{_VERSION}.sqlite"
    if path not in _STORES:
        _STORES[path] = KernelStore(path)
    return _STORES[path]


def persisted(method: Callable[..., Any]) -> Callable[..., Any]:
    """Keep a cluster model's kernel timings (a method returning `KernelStats`) in the store.
    Arguments are taken as the model's methods are called: positional, then `dma_bytes` and
    `accumulate` by name."""
    name = method.__name__

    @wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        kv = store()
        if kv is None:
            return method(self, *args, **kwargs)
        key = f"{self.memo_key}|{name}|{args!r}|{sorted(kwargs.items())!r}"
        hit = kv.get(key)
        if hit is not None:
            return type_of_stats()(**hit)
        stats = method(self, *args, **kwargs)
        kv.put(key, {f: getattr(stats, f) for f in stats.__dataclass_fields__})
        return stats

    return wrapper


def type_of_stats() -> type:
    from aimcsim.hw.pmca.model import KernelStats  # (model imports this package's modules)

    return KernelStats


_VERSION = code_version()

__all__ = ["ENV", "KernelStore", "code_version", "memo_dir", "persisted", "store"]
