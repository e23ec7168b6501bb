"""Paired notebooks and exercises generated from solutions.

Every notebook of the course is written as MyST Markdown (``.md``, jupytext format ``md:myst``),
the source of truth, and paired with an output-free ``.ipynb`` twin that Jupyter, nbval and the
book read. :func:`ipynb_text` is the one function that turns a ``.md`` into its twin, so
``mmgp-lesson pair`` (writing) and the tests (comparing) cannot disagree.

Exercise notebooks are made from solution notebooks: every region between a line
``# BEGIN SOLUTION`` and a line ``# END SOLUTION`` is replaced by a stub that raises
``NotImplementedError``; everything else, the check cells included, is kept verbatim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import jupytext
import nbformat

from mmgp_lesson.errors import CourseError  # raised here; mmgp_lesson.grading imports it from here too

NOTEBOOK_DIRS = ("notebooks", "solutions", "exercises")
BEGIN = "# BEGIN SOLUTION"
END = "# END SOLUTION"
STUB = 'raise NotImplementedError("Exercise: replace this line with your code.")'
_MARKER = re.compile(r"^(?P<indent>\s*)# (?P<kind>BEGIN|END) SOLUTION\b")


def ipynb_text(md_path: Path) -> str:
    """The output-free ``.ipynb`` twin of a MyST notebook, as text.

    Cell ids are numbered from the cell's position, so the same ``.md`` always gives the same bytes.
    """
    try:
        notebook = jupytext.read(md_path, fmt="md:myst")
    except Exception as error:  # jupytext raises many types for a malformed file
        raise CourseError(f"{md_path}: not a readable MyST notebook ({error}); fix its syntax") from None
    notebook.metadata.pop("jupytext", None)
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{index:03d}"
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nbformat.writes(notebook) + "\n"


def paired_notebooks(root: Path) -> list[Path]:
    """Every ``.md`` notebook under the course's notebook folders."""
    return sorted(path for folder in NOTEBOOK_DIRS for path in (root / folder).glob("*.md"))


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary name beside ``path`` and move it into place."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    temporary.replace(path)


def pair(root: Path) -> list[Path]:
    """Rewrite the ``.ipynb`` twin of every ``.md`` notebook; return the files that changed."""
    changed = []
    for md_path in paired_notebooks(root):
        twin = md_path.with_suffix(".ipynb")
        text = ipynb_text(md_path)
        if not twin.exists() or twin.read_text() != text:
            write_atomically(twin, text)
            changed.append(twin)
    return changed


@dataclass
class SolutionRegion:
    """One answer region of a solution notebook: 1-based line numbers of its two markers."""

    begin: int
    end: int


def solution_regions(text: str, source: Path) -> list[SolutionRegion]:
    """Find the ``# BEGIN SOLUTION`` … ``# END SOLUTION`` regions, refusing unbalanced markers."""
    regions, open_line = [], None
    for number, line in enumerate(text.splitlines(), start=1):
        match = _MARKER.match(line)
        if not match:
            continue
        if match["kind"] == "BEGIN":
            if open_line is not None:
                raise CourseError(
                    f"{source}:{number}: '{BEGIN}' inside the region opened at line {open_line}; "
                    f"add '{END}' before it"
                )
            open_line = number
        else:
            if open_line is None:
                raise CourseError(f"{source}:{number}: '{END}' without a matching '{BEGIN}'; remove it or open the region")
            regions.append(SolutionRegion(open_line, number))
            open_line = None
    if open_line is not None:
        raise CourseError(f"{source}:{open_line}: solution region opened here is never closed; add '{END}'")
    return regions


def exercise_text(solution_md: Path) -> str:
    """The exercise notebook made from a solution notebook, as MyST text.

    Each answer region becomes one stub line at the indentation of its ``# BEGIN SOLUTION`` marker.
    """
    text = solution_md.read_text()
    lines = text.splitlines(keepends=True)
    regions = solution_regions(text, solution_md)
    if not regions:
        raise CourseError(f"{solution_md}: no '{BEGIN}' region; mark the answer code or move the file out of solutions/")
    out, cursor = [], 0
    for region in regions:
        out.extend(lines[cursor : region.begin - 1])
        indent = _MARKER.match(lines[region.begin - 1])["indent"]
        out.append(f"{indent}{STUB}\n")
        cursor = region.end
    out.extend(lines[cursor:])
    return "".join(out)


def generate_exercises(root: Path) -> list[Path]:
    """Regenerate ``exercises/`` (``.md`` and ``.ipynb``) from ``solutions/``; return what changed.

    All solutions are parsed before anything is written, so a broken one leaves ``exercises/`` as it was.
    """
    texts = {path.name: exercise_text(path) for path in sorted((root / "solutions").glob("*.md"))}
    target = root / "exercises"
    target.mkdir(exist_ok=True)
    changed = []
    for name, text in texts.items():
        md_path = target / name
        if not md_path.exists() or md_path.read_text() != text:
            write_atomically(md_path, text)
            changed.append(md_path)
    for stale in sorted(target.glob("*.md")):
        if stale.name not in texts:
            stale.unlink()
            stale.with_suffix(".ipynb").unlink(missing_ok=True)
            changed.append(stale)
    return changed
