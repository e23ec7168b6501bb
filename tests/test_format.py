"""Every notebook's code is ruff-formatted (``make format``), so code cells fit the book's column."""

import subprocess
import sys
from pathlib import Path

import jupytext
import pytest

from mmgp_lesson.notebooks import paired_notebooks

from .conftest import ROOT

RUFF = Path(sys.executable).with_name("ruff")


def unformatted(md_path: Path) -> list[str]:
    """The code cells that ``make format`` would change, as jupytext's pipe does it.

    The notebook goes to ruff as a py:percent script and the cells come back from ruff's output;
    blank lines ruff puts between cells are not part of any cell, so only the cells are compared.
    """
    notebook = jupytext.read(md_path)
    script = jupytext.writes(notebook, fmt="py:percent")
    result = subprocess.run([str(RUFF), "format", "-"], input=script, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, f"ruff cannot format {md_path.name}: {result.stderr[:500]}"
    formatted = jupytext.reads(result.stdout, fmt="py:percent")
    before = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    after = [cell.source for cell in formatted.cells if cell.cell_type == "code"]
    assert len(before) == len(after)
    return [old.splitlines()[0] for old, new in zip(before, after) if old != new]


@pytest.mark.parametrize("md_path", paired_notebooks(ROOT), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebook_code_is_formatted(md_path):
    cells = unformatted(md_path)
    assert cells == [], f"{md_path.relative_to(ROOT)}: code cells not formatted (run 'make format'): {cells}"
