"""Generate the reference pages at build time (mkdocs-gen-files runs this file): every field
of the architecture, technology, workload, sweep and search-space files from their
declarations, the command line from its parser, and the output columns from `aimcsim.results`
and `aimcsim.serve`. Nothing here is typed by hand; `tests/test_docs.py` checks the pages
against the declarations. Run alone (`python docs/gen_reference.py OUT`), it writes the pages
into OUT."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: page name -> (title, what the page lists)
PAGES = {
    "architecture": ("Architecture files", "an architecture file (`arch/*.yaml`)"),
    "technology": ("Technology files", "a technology file (`tech/*.yaml`)"),
    "workload": ("Workload traces", "a workload trace (`workloads/*.yaml`)"),
}


def rows(schema: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(dotted path, declaration) of every value a schema declares, sections walked into:
    a list of mappings as `path[]`, a table keyed by name as `path.<name>`."""
    for name, node in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        inner = _object(node)
        if inner is not None:  # (a table's entries without a meaning of their own: its)
            yield from ((p, n if n.get("description") else {**n, "description": inner.get(
                "description", "")}) for p, n in rows(inner, f"{path}."))
            continue
        items = node.get("items") if node.get("type") == "array" else None
        if isinstance(items, dict) and "properties" in items:
            yield path, node
            yield from rows(items, f"{path}[].")
            continue
        if isinstance(items, dict) and "oneOf" in items:  # (a list of several kinds)
            yield path, node
            for option in items["oneOf"]:
                const = option.get("properties", {}).get("kind", {}).get("const")
                yield from rows(option, f"{path}[kind={const}]." if const else f"{path}[].")
            continue
        table = node.get("additionalProperties")
        if isinstance(table, dict) and node.get("type") == "object":
            if "properties" in table:
                yield from rows(table, f"{path}.<name>.")
            else:
                yield f"{path}.<name>", {**table, "description": node.get(
                    "description", table.get("description", ""))}
            continue
        yield path, node


def _object(node: dict[str, Any]) -> dict[str, Any] | None:
    """The section a value is (an object with its own fields, or one of several types that
    is), else None."""
    if node.get("type") == "object" and "properties" in node:
        return node
    for option in node.get("anyOf", ()):
        if option.get("type") == "object" and "properties" in option:
            return {**option, "description": node.get("description", "")}
    return None


def kind(node: dict[str, Any]) -> str:
    """A declaration's type as a reader says it."""
    if "enum" in node:
        return "one of " + ", ".join(f"`{v}`" for v in node["enum"])
    if "const" in node:
        return f"`{node['const']}`"
    if "anyOf" in node:
        return " or ".join(kind(option) for option in node["anyOf"])
    if node.get("type") == "array":
        items = node.get("items")
        return f"list of {kind(items)}" if isinstance(items, dict) and items else "list"
    if node.get("type") == "object":
        return "mapping"
    return str(node.get("type", "any"))


def bounds(node: dict[str, Any]) -> str:
    """Inclusive (or exclusive) bounds of a number, as `low to high`."""
    low = node.get("minimum", node.get("exclusiveMinimum"))
    high = node.get("maximum", node.get("exclusiveMaximum"))
    if low is None and high is None:
        for option in node.get("anyOf", ()):
            found = bounds(option)
            if found:
                return found
        return ""
    left = "" if low is None else ("> " if "exclusiveMinimum" in node else "") + _number(low)
    right = "" if high is None else ("< " if "exclusiveMaximum" in node else "") + _number(high)
    return f"{left} to {right}" if left and right else left or right


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def field_table(schema: dict[str, Any]) -> str:
    """The declarations as a Markdown table: path, type, bounds, unit, default, meaning."""
    lines = ["| path | type | bounds | unit | default | meaning |", "|---|---|---|---|---|---|"]
    for path, node in rows(schema):
        default = json.dumps(node["default"]) if "default" in node else ""
        lines.append(f"| `{path}` | {_cell(kind(node))} | {bounds(node)} | "
                     f"{node.get('unit', '')} | {_cell(default)} | "
                     f"{_cell(node.get('description', ''))} |")
    return "\n".join(lines) + "\n"


def schema_page(page: str) -> str:
    from aimcsim.spec.schema import arch_schema, technology_schema
    from aimcsim.spec.workload import workload_schema

    schema = {"architecture": arch_schema, "technology": technology_schema,
              "workload": workload_schema}[page]()
    title, what = PAGES[page]
    return (f"# {title}\n\nEvery value {what} can give, generated from the fields' "
            "declarations (the same ones that validate the files and that `aimcsim schema` "
            "writes as JSON Schema). A path is dotted as `--set`, sweep axes and constraints "
            "name it. Bounds are inclusive unless marked.\n\n"
            f"{schema.get('description', '')}\n\n" + field_table(schema))


def sweep_page() -> str:
    from aimcsim.explore.sweep.definition import SWEEP_KEYS

    lines = ["# Sweep files", "", "The keys of a sweep file (`aimcsim sweep FILE`), from the "
             "table `load_sweep` reads them by. An axis names any architecture path of "
             "[Architecture files](architecture.md), and its values are checked against that "
             "field's type and bounds.", "",
             "| key | type | bounds | default | meaning |", "|---|---|---|---|---|"]
    for key, (type_, bound, default, meaning) in SWEEP_KEYS.items():
        lines.append(f"| `{key}` | {_cell(type_)} | {_cell(bound)} | {_cell(default)} | "
                     f"{_cell(meaning)} |")
    from aimcsim.serve.sweep import OPTIONS

    lines += ["", "## The serve section", "", "Its options (`aimcsim.serve.sweep.OPTIONS`), "
              "those of `aimcsim serve`; each but `model` can be an axis, `serve.<option>`.",
              "", "| option | type | bounds or values | default | meaning |",
              "|---|---|---|---|---|"]
    names = {int: "integer", float: "number", str: "string"}
    for key, (type_, bound, default, meaning) in OPTIONS.items():
        shown = ("" if bound is None else ", ".join(bound) if isinstance(bound[0], str)
                 else f"{bound[0]:g} to {bound[1]:g}" + (" (above 0)" if type_ is float
                                                         else ""))
        lines.append(f"| `{key}` | {names[type_]} | {_cell(shown)} | "
                     f"{_cell('none' if default is None else str(default))} | "
                     f"{_cell(meaning)} |")
    return "\n".join(lines) + "\n"


def space_page() -> str:
    import dataclasses

    from aimcsim.explore.space import SPACE_FIELDS, SearchSpace
    from aimcsim.spec.schema import arch_schema

    declared = dict(rows(arch_schema()))
    defaults = {f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
                for f in dataclasses.fields(SearchSpace)}
    lines = ["# Search spaces", "", "The keys of a search-space file (`aimcsim search ARCH "
             "WORKLOAD --space FILE`, `version: 1`): each a list of values of the architecture "
             "field it sets, checked against that field's declaration. A key left out takes "
             "the default below (none: the architecture's own value).", "",
             "| key | sets | type | bounds | unit | default |", "|---|---|---|---|---|---|"]
    for key, path in SPACE_FIELDS.items():
        node = declared[path]
        default = defaults[key]
        shown = "the architecture's own" if default is None else ", ".join(map(str, default))
        lines.append(f"| `{key}` | `{path}` | list of {_cell(kind(node))} | {bounds(node)} | "
                     f"{node.get('unit', '')} | {_cell(shown)} |")
    return "\n".join(lines) + "\n"


def cli_page() -> str:
    from aimcsim.cli.main import COMMANDS, _parser

    lines = ["# Command line", "", "Every command's `--help`, from the parser itself.", "",
             "```", _parser().format_help().rstrip(), "```", ""]
    for name in COMMANDS:
        parser = _parser(name).command
        lines += [f"## `aimcsim {name}`", "", "```", parser.format_help().rstrip(), "```", ""]
    return "\n".join(lines)


def outputs_page() -> str:
    from aimcsim import results
    from aimcsim.serve import engine

    tables = [("Layers tables (`layers.csv`, `layers.parquet`)", results.LAYER_COLUMNS),
              ("Utilisation (`summary.json`)", results.UTILISATION),
              ("Timeline (`timeline.parquet`)", results.TIMELINE_COLUMNS),
              ("Served requests (`requests.csv`)", engine.REQUEST_COLUMNS),
              ("Serving iterations", engine.ITERATION_COLUMNS),
              ("Serving loads (`load.csv`)", engine.LOAD_COLUMNS)]
    lines = ["# Output columns", "", "The columns of every table aimcsim writes, from the "
             "declarations the writers use.", ""]
    for title, columns in tables:
        lines += [f"## {title}", "", "| column | meaning |", "|---|---|"]
        lines += [f"| `{name}` | {_cell(meaning)} |" for name, meaning in columns.items()]
        lines.append("")
    lines += ["## Critical-path causes (`critical_path.csv`)", "",
              ", ".join(f"`{c}`" for c in results.CAUSES), ""]
    return "\n".join(lines)


def pages() -> dict[str, str]:
    """Every generated page, by its path under docs/."""
    out = {f"reference/{name}.md": schema_page(name) for name in PAGES}
    out["reference/sweep.md"] = sweep_page()
    out["reference/space.md"] = space_page()
    out["reference/cli.md"] = cli_page()
    out["reference/outputs.md"] = outputs_page()
    return out


def _write_with_gen_files() -> None:
    import mkdocs_gen_files

    for path, text in pages().items():
        with mkdocs_gen_files.open(path, "w") as f:
            f.write(text)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    folder = parser.parse_args().out
    for name, text in pages().items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
elif __name__ == "<run_path>":  # (mkdocs-gen-files runs the file by runpy.run_path)
    _write_with_gen_files()
