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
