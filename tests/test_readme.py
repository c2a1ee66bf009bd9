"""The README's printed figures are the command's output, to the character."""

from __future__ import annotations

import re

from aimcsim.cli import main


def test_readme_default_run_prints_what_the_readme_shows(root, tmp_path, capsys):
    readme = (root / "README.md").read_text()
    shown = re.search(r"The first command prints[^\n]*\n\n```\n(.*?)```", readme, re.S).group(1)
    assert main(["run", str(root / "arch" / "hybrid.yaml"),
                 str(root / "workloads" / "mobilebert.yaml"), "--mode", "both",
                 "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out.replace(str(tmp_path / "out"), "out")
    assert printed == shown


def test_readme_serve_example_prints_what_the_readme_shows(root, capsys):
    readme = (root / "README.md").read_text()
    shown = re.search(r"The serve command prints:\n\n```\n(.*?)```", readme, re.S).group(1)
    assert main(["serve", str(root / "arch" / "hybrid_large_tcdm.yaml"), "llama-3.2-1b",
                 "--requests", "200", "--rate", "20", "--set", "memory.l2_bytes=4194304"]) == 0
    assert capsys.readouterr().out == shown


def test_readme_serve_loads_print_what_the_readme_shows(root, capsys):
    readme = (root / "README.md").read_text()
    shown = re.search(r"The load command prints:\n\n```\n(.*?)```", readme, re.S).group(1)
    assert main(["serve", str(root / "arch" / "hybrid_large_tcdm.yaml"), "llama-3.2-1b",
                 "--requests", "300", "--rate", "5", "10", "15", "20", "25", "30", "--set",
                 "memory.l2_bytes=4194304"]) == 0
    assert capsys.readouterr().out == shown
