"""Every published kernel figure of docs/validation.md, held to its tolerance."""

from __future__ import annotations

import pytest

from aimcsim.validation import CASES, ROOT, markdown


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_published_figure_within_tolerance(case):
    assert abs(case.error()) <= case.tolerance, (case.name, case.ours(), case.published)


def test_the_document_is_the_current_table():
    """docs/validation.md is what the model gives today (regenerate with
    `python -m aimcsim.validation > docs/validation.md`)."""
    assert (ROOT / "docs" / "validation.md").read_text() == markdown() + "\n"
