"""Kernel timings kept on disk, shared by every process on the machine (sweep workers, later
runs): a cycle-level kernel is simulated once per machine, not once per process.

A timing is a function of the cluster's parameters, the data type, the kernel and its
arguments, and of the code that computes it: the store is one SQLite file per version of the
cluster model's source (`aimcsim/hw/pmca/*.py` and the units it reads, hashed), keyed by the
parameters' repr, the data type, the kernel's name and its arguments. A stored value is the
`KernelStats` the kernel returned, field by field, so a run from the store is bit-identical to
one that simulates every kernel (tested).

The file is not trusted: every entry read is checked before it is used. It must be JSON text
of an object with exactly the `KernelStats` fields, each an int (not a bool or a float) from
0 to `model.MAX_COUNT` (2**53), its cycles the sum of compute, DMA, stall and overhead cycles
(`KernelStats.from_record`); and the model must find it plausible for the kernel and its
arguments (`CycleLevelPmca.implausible`): the counters that depend on the work alone (MACs,
element results, TCDM and DMA bytes) equal to the kernel's, the overhead the cluster's, and
no fewer cycles than the work takes at the cluster's peak (MACs / peak MACs a cycle, the
conflict-free element-wise schedule, DMA bytes / bandwidth). An entry that fails is ignored:
the kernel is simulated and its entry rewritten. A store that holds such an entry, or cannot
be opened, read or written (not a database, a foreign table), gives one `KernelStoreWarning`
per process, naming its file and what was wrong; one that cannot be used is then not used
(the kernels run as without it). A wrong entry that passes every check (a plausible timing
of another shape's kernel under this key, say) is believed.

Where: `$AIMCSIM_KERNEL_MEMO` (a directory; `off` turns the store off), else
`$XDG_CACHE_HOME/aimcsim` (`~/.cache/aimcsim`). Deleting the directory is always safe.
"""

from __future__ import annotations

import inspect
import json
import os
import sqlite3
import warnings
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

from aimcsim.errors import KernelStoreWarning
from aimcsim.params.files import source_digest

_SOURCES = Path(__file__).resolve().parent
ENV = "AIMCSIM_KERNEL_MEMO"


def code_version() -> str:
    """Digest of the source that computes kernel timings (a new version, a new store)."""
    package = _SOURCES.parents[1]
    return source_digest([*sorted(_SOURCES.glob("*.py")), package / "spec" / "units.py"],
                         package)


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
    """One SQLite file of kernel timings: `get` and `put` by key; errors turn it off. It
    warns once (`warn`), whatever goes wrong how often."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._failed = False
        self._warned = False

    def warn(self, problem: str) -> None:
        """A `KernelStoreWarning` naming this store, the first time only (a poisoned store
        would otherwise give one per entry)."""
        if not self._warned:
            self._warned = True
            warnings.warn(f"kernel store {self.path}: {problem} (this process warns about "
                          f"this store once)", KernelStoreWarning, stacklevel=3)

    def _off(self, error: Exception) -> None:
        self._failed, self._db = True, None
        self.warn(f"not used ({type(error).__name__}: {error}); the kernels are simulated")

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
            except (OSError, sqlite3.Error) as error:
                self._off(error)
        return self._db

    def get(self, key: str) -> str | None:
        """The text stored under `key`, or None (no entry, or the store unusable). Raises
        ValueError when the entry holds no text (NULL, a number, a blob: another writer's)."""
        db = self._connect()
        if db is None:
            return None
        try:
            row = db.execute("SELECT value FROM kernels WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as error:
            self._off(error)
            return None
        if row is None:
            return None
        if not isinstance(row[0], str):
            raise ValueError(f"the value is not text but {type(row[0]).__name__}")
        return row[0]

    def put(self, key: str, value: dict[str, Any]) -> None:
        """Store `value` (JSON) under `key`, over whatever the key held."""
        db = self._connect()
        if db is None:
            return
        try:
            db.execute("INSERT OR REPLACE INTO kernels (key, value) VALUES (?, ?)",
                       (key, json.dumps(value)))
        except sqlite3.Error as error:
            self._off(error)


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
    `accumulate` by name. The model gives `memo_key` (what its timings depend on besides the
    kernel) and `implausible(kernel, arguments, stats)`, which checks an entry read back
    against the kernel's work (see the module docstring)."""
    name = method.__name__
    parameters = list(inspect.signature(method).parameters)[1:]  # by name, after self

    @wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        kv = store()
        if kv is None:
            return method(self, *args, **kwargs)
        key = f"{self.memo_key}|{name}|{args!r}|{sorted(kwargs.items())!r}"
        try:
            text = kv.get(key)
            if text is not None:  # by name (Signature.bind would cost as much as the check)
                arguments = {**dict(zip(parameters, args, strict=False)), **kwargs}
                return _believed(self, name, arguments, text)
        except ValueError as error:
            call = ", ".join([*map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())])
            kv.warn(f"ignored its entry of {name}({call}): {error}; the kernel is simulated "
                    f"and the entry rewritten (as are later bad entries)")
        stats = method(self, *args, **kwargs)
        kv.put(key, {f: getattr(stats, f) for f in stats.__dataclass_fields__})
        return stats

    return wrapper


def _believed(model: Any, kernel: str, arguments: dict[str, Any], text: str) -> Any:
    """The `KernelStats` an entry's text holds, once checked (the module docstring says
    what); raises ValueError saying what is wrong."""
    try:
        record = json.loads(text)
    except (ValueError, RecursionError) as error:  # RecursionError: arrays nested too deep
        raise ValueError(f"not JSON ({error})") from None
    stats = type_of_stats().from_record(record)
    problem = model.implausible(kernel, arguments, stats)
    if problem:
        raise ValueError(problem)
    return stats


def type_of_stats() -> type:
    from aimcsim.hw.pmca.model import KernelStats  # (model imports this package's modules)

    return KernelStats


_VERSION = code_version()

__all__ = ["ENV", "KernelStore", "code_version", "memo_dir", "persisted", "store"]
