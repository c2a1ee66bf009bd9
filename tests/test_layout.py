"""The package's shape (DESIGN.md, "Package layout"): no import circle among its modules
(imports under `TYPE_CHECKING`, inside functions and in package `__init__` files count), every
folder importing only the floors below it, and modules, classes and functions of a size one
can read (numba kernels aside). Read from the sources with `ast`; nothing is imported."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "aimcsim"

#: the floor of each top-level module or folder of `aimcsim`, lowest first, as DESIGN.md
#: orders its layers (params, hw, spec, traces, sim, analytic, explore, serve, outputs,
#: cli); the modules the layout does not name sit between them by what they import. A
#: module may import only modules of its own folder or of a lower floor.
FLOORS = {
    "errors": 0, "identity": 0, "workers": 0,
    "keys": 1,  # (the old home of `identity`)
    "params": 1,
    "hw": 2,
    "spec": 3, "validation_macros": 3,
    "traces": 4, "mapping": 4, "cost": 4, "results": 4,
    "sim": 5, "gpu": 5,
    "analytic": 6, "simulator": 6, "validation_gpu": 6, "engine": 6,
    "__init__": 7,  # the package face: `simulate`, `load_arch`, ... on first use
    "explore": 8, "decode": 8, "reload": 8, "validation": 8,
    "sweep": 9, "search": 9,
    "serve": 10,
    "plots": 11,
    "outputs": 12,
    "report": 13, "trace_export": 13,
    "cli": 14,
}
MAX_MODULE_LINES, MAX_CLASS_LINES, MAX_FUNCTION_LINES = 450, 400, 80


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imported(module: str, node: ast.Import | ast.ImportFrom, package: bool) -> set[str]:
    """The modules of `aimcsim` an import statement of `module` names (a name imported from
    a package that is a submodule of it counts as that submodule)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = node.module or ""
        if node.level:
            here = module.split(".") if package else module.split(".")[:-1]
            here = here[:len(here) - node.level + 1]
            base = ".".join([*here, *([node.module] if node.module else [])])
        names = [base, *(f"{base}.{a.name}" for a in node.names)]
    found = set()
    for name in names:
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        if name.startswith("aimcsim") and name != module:
            found.add(name)
    return found


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                graph[module] |= _imported(module, node, path.name == "__init__.py")
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(MODULES):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_no_import_circle():
    assert _circles(_graph()) == []


def test_a_circle_is_found_where_there_is_one():
    graph = defaultdict(set, {"aimcsim.a": {"aimcsim.b"}, "aimcsim.b": {"aimcsim.c"},
                              "aimcsim.c": {"aimcsim.a"}})
    MODULES.update(dict.fromkeys(("aimcsim.a", "aimcsim.b", "aimcsim.c"), PACKAGE))
    try:
        assert _circles(graph) == [["aimcsim.a", "aimcsim.b", "aimcsim.c"]]
    finally:
        for name in ("aimcsim.a", "aimcsim.b", "aimcsim.c"):
            del MODULES[name]


def test_every_top_level_module_and_folder_has_a_floor():
    assert {_top(m) for m in MODULES} <= set(FLOORS), "give a new module its floor here"


def test_each_folder_imports_only_the_floors_below_it():
    upward = sorted(f"{a} -> {b}" for a, targets in _graph().items() for b in targets
                    if _top(a) != _top(b) and FLOORS[_top(a)] <= FLOORS[_top(b)])
    assert upward == []


def _kernel(node: ast.AST) -> bool:
    """A numba-compiled function (`@njit`, `@numba.njit(...)`, `@jit`)."""
    for decorator in getattr(node, "decorator_list", ()):
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name in ("njit", "jit"):
            return True
    return False


@pytest.mark.parametrize("module", sorted(MODULES))
def test_sizes_one_can_read(module):
    path = MODULES[module]
    tree = ast.parse(path.read_text())
    too_long = []
    kernels = [n for n in ast.walk(tree) if _kernel(n)]
    kernel_lines = sum(n.end_lineno - n.lineno + 1 for n in kernels)
    lines = len(path.read_text().splitlines())
    if lines - kernel_lines > MAX_MODULE_LINES:
        too_long.append(f"module: {lines} lines ({kernel_lines} of numba kernels)")
    for node in ast.walk(tree):
        if not isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        size = node.end_lineno - node.lineno + 1
        if isinstance(node, ast.ClassDef) and size > MAX_CLASS_LINES:
            too_long.append(f"class {node.name}: {size} lines")
        if (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not _kernel(node)
                and size > MAX_FUNCTION_LINES):
            too_long.append(f"function {node.name}: {size} lines")
    assert too_long == []


def test_old_names_still_work_with_a_warning():
    """A word keeps one meaning (issue: engine, keys, spec, mapping); the old spellings stay
    importable for a while, each with a DeprecationWarning naming the new one."""
    import importlib
    import sys

    from aimcsim import mapping
    from aimcsim.identity import Same
    from aimcsim.params import fields
    from aimcsim.spec.fusion import fuse_attention

    for name in [m for m in sys.modules if m == "aimcsim.sweep" or m.startswith("aimcsim.sweep.")]:
        del sys.modules[name]
    with pytest.warns(DeprecationWarning, match="aimcsim.explore.sweep"):
        old = importlib.import_module("aimcsim.sweep.spec")
    from aimcsim.explore.sweep import definition, load_sweep

    assert old is definition and importlib.import_module("aimcsim.sweep").load_sweep is load_sweep
    assert sys.modules["aimcsim.sweep"].spec is definition  # (`aimcsim.sweep.spec.X`)
    sys.modules.pop("aimcsim.report", None)
    from aimcsim.outputs.report import report

    with pytest.warns(DeprecationWarning, match="aimcsim.outputs.report"):
        assert importlib.import_module("aimcsim.report").report is report
    sys.modules.pop("aimcsim.keys", None)
    with pytest.warns(DeprecationWarning, match="aimcsim.identity"):
        assert importlib.import_module("aimcsim.keys").Same is Same
    with pytest.warns(DeprecationWarning, match="aimcsim.spec.fusion"):
        assert mapping.fuse_attention is fuse_attention
    with pytest.warns(DeprecationWarning, match="declare"):
        field = fields.spec("a width", ge=1, le=8, unit="B")
    new = fields.declare("a width", ge=1, le=8, unit="B")
    assert repr(field) == repr(new)
