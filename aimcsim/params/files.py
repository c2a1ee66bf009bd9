"""Reading input files safely: regular files only, bounded in size, nesting and expanded
values, every refusal a `SpecError` naming the file.

Every input aimcsim reads from disk comes through here: architecture, settings, technology,
workload, sweep, space and GPU YAML files, `config.json` files, and the files of a results
folder. A reader must never hang (a FIFO waits for a writer forever; `/dev/zero` never ends),
exhaust memory (a sparse file of gigabytes; a YAML alias bomb, a few hundred bytes that
expand to billions of values) or end in a traceback (nesting that overflows Python's stack).
So:

- a file is opened without blocking and refused unless it is a regular file (a folder, FIFO,
  device or socket is named as such), before a byte is read;
- it is refused above a size limit per kind (`LIMIT_BYTES`), checked before reading and
  again on the bytes read (a file that grows while read);
- a parsed document is walked once (`check_tree`): at most `MAX_DEPTH` levels of nesting and
  `MAX_VALUES` values with every YAML alias expanded, so later walks over it stay cheap;
- a table (`read_table`: CSV or Parquet, as results folders hold) is checked for the columns,
  and their kinds, that its readers use.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from aimcsim.errors import SpecError, SpecIssue

MiB = 1 << 20
#: the largest file of each kind aimcsim reads (bytes): a YAML or JSON input is a few KiB to a
#: few MiB (a 1,024-layer trace is about 3 MiB); result tables grow with a sweep's points
LIMIT_BYTES: dict[str, int] = {"yaml": 16 * MiB, "json": 16 * MiB, "csv": 1024 * MiB,
                               "parquet": 4096 * MiB, "arrow": 1024 * MiB}
#: levels of nesting a document may have (architecture files have 4, config.json files 3)
MAX_DEPTH = 64
#: values a document may hold once its YAML aliases are expanded (a large trace holds about
#: 100,000)
MAX_VALUES = 2_000_000

_NAMES = {"yaml": "YAML", "json": "JSON", "csv": "CSV", "parquet": "Parquet",
          "arrow": "Arrow"}
_KINDS = {stat.S_IFDIR: "a folder", stat.S_IFIFO: "a FIFO (named pipe)",
          stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFSOCK: "a socket"}


def _refuse(path: str | Path, message: str) -> SpecError:
    return SpecError(str(path), [SpecIssue("", message)])


def _size(n: int) -> str:
    return f"{n / MiB:,.0f} MiB" if n >= MiB else f"{n:,} bytes"


def read_bytes(path: str | Path, kind: str) -> bytes:
    """The bytes of the regular file `path`, at most `LIMIT_BYTES[kind]` of them."""
    limit = LIMIT_BYTES[kind]
    try:
        # O_NONBLOCK: opening a FIFO returns at once (it is then refused by its type)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except (OSError, ValueError) as exc:
        raise _unopened(path, exc) from None
    try:
        info = os.fstat(fd)
        _check(path, info, kind)
        with open(fd, "rb", closefd=False) as f:
            # the size it has and a byte more, which shows that it grew: asking for the limit
            # at once allocates it (a 57 KB part was read in 75-135 us instead of 20-30)
            data = f.read(info.st_size + 1)
            if info.st_size < len(data) <= limit:  # (it grew: up to the limit and a byte)
                data += f.read(limit + 1 - len(data))
    finally:
        os.close(fd)
    if len(data) > limit:
        raise _refuse(path, f"more than the {_size(limit)} limit of a {_NAMES[kind]} file")
    return data


def regular_file(path: str | Path, kind: str) -> Path:
    """`path`, checked as `read_bytes` checks a file (a regular file within the size limit of
    its kind), for the readers that open a file themselves (Parquet, Arrow, CSV tables)."""
    try:
        info = os.stat(path)
    except (OSError, ValueError) as exc:
        raise _unopened(path, exc) from None
    _check(path, info, kind)
    return Path(path)


def _unopened(path: str | Path, exc: OSError | ValueError) -> SpecError:
    """Why `path` could not be opened or looked at, as a refusal naming it."""
    if isinstance(exc, ValueError):  # a name no file can have (a NUL character)
        return _refuse(repr(str(path))[:80], f"not a file name: {exc}")
    if isinstance(exc, FileNotFoundError):
        return _refuse(path, "file not found")
    why = "a loop of symbolic links" if exc.errno == errno.ELOOP else exc.strerror or str(exc)
    return _refuse(path, f"cannot read file: {why}")


def _check(path: str | Path, info: os.stat_result, kind: str) -> None:
    if not stat.S_ISREG(info.st_mode):
        what = _KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
        raise _refuse(path, f"is {what}, not a regular file: aimcsim reads its "
                      f"{_NAMES[kind]} inputs from regular files only")
    if info.st_size > LIMIT_BYTES[kind]:
        raise _refuse(path, f"{_size(info.st_size)} is above the {_size(LIMIT_BYTES[kind])} "
                      f"limit of a {_NAMES[kind]} file")


#: what a table's column holds, as `read_table` checks it
TEXT, NUMBER, FLAG = "text", "number", "flag"


def read_table(path: Path, columns: Mapping[str, str],
               optional: Mapping[str, str] | None = None) -> Any:
    """A folder's table (`.csv` or `.parquet`), bounded like every input, checked to have
    `columns` of their kinds (`TEXT`, `NUMBER` or `FLAG`; empty cells allowed), and the
    `optional` columns it has of theirs."""
    import pandas as pd  # (here: the readers of YAML and JSON inputs need no pandas)
    import pyarrow as pa

    kind = "parquet" if path.suffix == ".parquet" else "csv"
    regular_file(path, kind)
    try:
        table = pd.read_parquet(path) if kind == "parquet" else pd.read_csv(path)
    except (ValueError, OSError, pa.ArrowException, pd.errors.ParserError,
            UnicodeDecodeError) as exc:
        raise SpecError(str(path), [SpecIssue("", f"not a readable {kind.upper()} table: "
                                                  f"{str(exc)[:120]}")]) from None
    missing = [name for name in columns if name not in table.columns]
    issues = [SpecIssue("", f"missing column(s) {', '.join(missing[:12])}"
                            + (f" and {len(missing) - 12} more" if len(missing) > 12 else ""))
              ] if missing else []
    issues += [SpecIssue(name, f"expected {want} values, got {table[name].dtype}")
               for name, want in {**(optional or {}), **columns}.items()
               if name in table.columns and len(table) and not _is(table[name], want)]
    if issues:
        raise SpecError(str(path), issues[:8])
    return table


def _is(column: Any, kind: str) -> bool:
    import pandas as pd

    if column.isna().all():
        return True
    if kind == NUMBER:
        return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    if kind == FLAG:
        return pd.api.types.is_bool_dtype(column)
    return pd.api.types.is_string_dtype(column) or column.dtype == "object"


def read_text(path: str | Path, kind: str) -> str:
    """`read_bytes` as UTF-8 text (a byte-order mark, as some editors write, is dropped)."""
    data = read_bytes(path, kind)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        byte = exc.object[exc.start]
        raise _refuse(path, f"not UTF-8 text: byte 0x{byte:02x} at offset {exc.start}") from None


def load_json(path: str | Path) -> Any:
    """A JSON file's document, bounded like every input (see the module docstring)."""
    text = read_text(path, "json")
    try:
        doc = json.loads(text)
    except RecursionError:
        raise _refuse(path, f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        where = (f" at line {exc.lineno}, column {exc.colno}"
                 if isinstance(exc, json.JSONDecodeError) else "")
        problem = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)[:80]
        raise _refuse(path, f"invalid JSON{where}: {problem}") from None
    check_tree(doc, path)
    return doc


def check_tree(doc: Any, path: str | Path) -> None:
    """Refuse a document nested deeper than `MAX_DEPTH` or holding more than `MAX_VALUES`
    values with its aliases expanded (one iterative walk, no recursion)."""
    stack: list[tuple[Any, int]] = [(doc, 0)]
    values = 0
    while stack:
        node, depth = stack.pop()
        values += 1
        if values > MAX_VALUES:
            raise _refuse(path, f"holds more than {MAX_VALUES:,} values (counting what its "
                          "YAML aliases repeat)")
        if isinstance(node, Mapping):
            children: Iterable[Any] = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth == MAX_DEPTH:
            raise _refuse(path, f"nested deeper than {MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in children)


def digest(data: bytes | str) -> str:
    """A content digest (SHA-256, hex), as result folders record their inputs'."""
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def source_digest(files: Iterable[Path], root: Path) -> str:
    """Digest of source files by their path below `root` and their content (a new version of
    the code, a new digest)."""
    h = hashlib.sha256()
    for path in files:
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


@cache
def code_digest() -> str:
    """Digest of all of aimcsim's Python source: what a stored result's validity depends on
    besides its inputs (computed once per process, about a millisecond)."""
    root = Path(__file__).resolve().parents[1]
    return source_digest(sorted(root.rglob("*.py")), root)

__all__ = ["FLAG", "LIMIT_BYTES", "MAX_DEPTH", "MAX_VALUES", "NUMBER", "TEXT", "check_tree",
           "code_digest", "digest", "load_json", "read_bytes", "read_table", "read_text",
           "regular_file", "source_digest"]
