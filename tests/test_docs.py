"""The README and the documentation site: every command output they show is what the command
prints now, the site builds strictly, and its reference lists every declared field."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from aimcsim.cli import main

ROOT = Path(__file__).resolve().parents[1]
#: an example: an HTML comment naming a command, then a fenced block with what it prints
EXAMPLE = re.compile(r"<!-- example: (aimcsim [^\n]*?) -->\n```[a-z]*\n(.*?)```", re.S)
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def examples(page: Path) -> list[tuple[str, str]]:
    """(command, shown output) of each example on `page`, in order."""
    return EXAMPLE.findall(page.read_text(encoding="utf-8"))


@pytest.mark.parametrize("page", [p for p in PAGES if examples(p)],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_each_example_prints_what_the_page_shows(page, tmp_path, monkeypatch, capsys):
    # a page's examples run in order in a folder of their own that holds the shipped inputs
    for name in ("arch", "workloads", "tech"):
        (tmp_path / name).symlink_to(ROOT / name)
    monkeypatch.chdir(tmp_path)
    for command, shown in examples(page):
        argv = shlex.split(command)[1:]
        capsys.readouterr()
        assert main(argv) == 0, command
        assert capsys.readouterr().out == shown, command


def test_readme_is_a_front_page():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200
    assert "## Quick start" in lines[:40]
    # the quick start's first command is the set-up's, and its output is an example
    setup = re.search(r"<!-- ci:setup:begin -->\n```sh\n(.*?)```", "\n".join(lines), re.S)
    install, tests = setup.group(1).strip().splitlines()
    run = install.split("&& ")[-1]
    assert "[test" not in install and "chromium" not in install
    assert run in [c for c, _ in examples(ROOT / "README.md")]
    assert tests.endswith("pytest") and "chromium" in tests


def _reference() -> dict[str, str]:
    spec = importlib.util.spec_from_file_location("gen_reference", ROOT / "docs" /
                                                  "gen_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.pages()


def _row(page: str, path: str) -> str:
    found = [line for line in page.splitlines() if line.startswith(f"| `{path}` |")]
    assert len(found) == 1, path
    return found[0]


def _shown(number: float) -> str:
    return f"{int(number):,}" if float(number).is_integer() else f"{number:g}"


def test_reference_lists_every_declared_field_with_its_bounds_and_unit():
    from aimcsim.params.fields import keys, numeric_bounds, units
    from aimcsim.spec.schema import arch_schema

    pages = _reference()
    page = pages["reference/architecture.md"]
    sections = [k for k, v in arch_schema()["properties"].items() if "properties" in v]
    sections.append("pmca.matrix_engine")
    declared = 0
    for key in sections:
        cls = _section_class(key)
        if cls is None:
            continue
        bounds, unit = numeric_bounds(cls), units(cls)
        for name in keys(cls):
            if name == "source" or f"`{key}.{name}." in page:  # (a table: its entries)
                continue
            row = _row(page, f"{key}.{name}")
            low, high = bounds.get(name, (None, None))
            if low is not None and high is not None:
                assert f"| {_shown(low)} to {_shown(high)} |" in row, row
            if unit.get(name):
                assert f"| {unit[name]} |" in row, row
            declared += 1
    assert declared > 50


def _section_class(key: str):
    """The declared class of section `key` of an architecture file."""
    from aimcsim.hw.aimc_tile import AimcTile
    from aimcsim.hw.chip import Chip
    from aimcsim.hw.interconnect.params import Interconnect
    from aimcsim.hw.memory import Memory
    from aimcsim.hw.pmca.params import MatrixEngine, Pmca
    from aimcsim.hw.sram_cim import SramCim
    from aimcsim.spec.arch import Lora, Pipeline

    return {"aimc": AimcTile, "pmca": Pmca, "interconnect": Interconnect,
            "pipeline": Pipeline, "lora": Lora, "sram_cim": SramCim, "chip": Chip,
            "memory": Memory, "pmca.matrix_engine": MatrixEngine}.get(key)


def test_reference_lists_the_other_files_commands_and_columns():
    from aimcsim.cli.main import COMMANDS, _parser
    from aimcsim.explore.space import SPACE_FIELDS
    from aimcsim.explore.sweep.definition import SWEEP_KEYS
    from aimcsim.results import LAYER_COLUMNS
    from aimcsim.serve.engine import REQUEST_COLUMNS
    from aimcsim.spec.tech import _SECTIONS
    from aimcsim.spec.workload import workload_schema

    pages = _reference()
    for key in SWEEP_KEYS:
        _row(pages["reference/sweep.md"], key)
    for key in SPACE_FIELDS:
        _row(pages["reference/space.md"], key)
    for column in (*LAYER_COLUMNS, *REQUEST_COLUMNS):
        assert f"| `{column}` |" in pages["reference/outputs.md"]
    for name in workload_schema()["properties"]:
        assert f"| `{name}" in pages["reference/workload.md"]
    assert "| `ops[kind=static_linear].d_in` | integer | 1 to " in pages["reference/workload.md"]
    for section in _SECTIONS:
        assert f"| `{section}." in pages["reference/technology.md"], section
    cli = pages["reference/cli.md"]
    for name in COMMANDS:
        assert f"## `aimcsim {name}`" in cli
        for action in _parser(name).command._actions:
            for option in action.option_strings:
                assert option in cli, (name, option)


def test_the_site_builds_strictly(tmp_path):
    if importlib.util.find_spec("mkdocs") is None:
        if os.environ.get("CI"):
            pytest.fail("mkdocs is not installed: the README's test command installs '.[docs]'")
        pytest.skip("mkdocs is not installed (pip install -e '.[docs]')")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(tmp_path / "site")], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "site" / "reference" / "architecture" / "index.html").is_file()


def test_every_option_with_a_default_says_it_in_its_help():
    import argparse

    from aimcsim.cli.main import COMMANDS, _parser

    for name in COMMANDS:
        parser = _parser(name).command
        formatter = parser._get_formatter()
        for action in parser._actions:
            default = action.default
            if (not action.option_strings or default is None or default is argparse.SUPPRESS
                    or isinstance(default, bool) or default in ([], ())):
                continue
            assert action.help, (name, action.option_strings)
            assert "default" in formatter._get_help_string(action), (name, action.option_strings)
