"""Paired notebooks and exercises generated from solutions.

Every notebook of the course is written as MyST Markdown (``.md``, jupytext format ``md:myst``),
the source of truth, and paired with an output-free ``.ipynb`` twin that Jupyter, nbval and the
book read. :func:`ipynb_text` is the one function that turns a ``.md`` into its twin, so
``mmgp-lesson pair`` (writing) and the tests (comparing) cannot disagree.

Exercise notebooks are made from solution notebooks: every region between a line
``# BEGIN SOLUTION`` and a line ``# END SOLUTION`` *of one code cell* is replaced by a stub that
raises ``NotImplementedError``; everything else, the check cells included, is kept verbatim. Markup
that would leak a solution or swallow a check — a region spanning cells, a marker in a Markdown
cell, a misspelt marker — is refused with its file and line, before anything is written.
The title changes too: a solution page is titled "NN · Solutions: …" and its exercise page
"NN · Exercises: …".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import jupytext
import nbformat

from mmgp_lesson.errors import CourseError

NOTEBOOK_DIRS = ("notebooks", "solutions", "exercises")
BEGIN = "# BEGIN SOLUTION"
END = "# END SOLUTION"
STUB = 'raise NotImplementedError("Exercise: replace this line with your code.")'
_MARKER = re.compile(r"^(?P<indent>\s*)# (?P<kind>BEGIN|END) SOLUTION\s*$")
_LOOSE_MARKER = re.compile(r"#+\s*(BEGIN|END)\s*_?SOLUTION", re.IGNORECASE)  # what a typo still looks like
_CODE_CELL = re.compile(r"^```\{code-cell\}")
GENERATED = "<!-- Generated from solutions/{name} by `mmgp-lesson exercises`; course authors edit that file. -->"
_SOLUTION_TITLE = re.compile(r"^(# \d\d · )Solutions: ", re.M)


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


def _code_cell_of_each_line(text: str) -> list[int | None]:
    """For each line of a MyST notebook, the number of the code cell it lies in (None: outside one)."""
    cells, current, count = [], None, 0
    for line in text.splitlines():
        if current is None and _CODE_CELL.match(line):
            count += 1
            current = count
            cells.append(None)  # the fence line itself
        elif current is not None and line.rstrip() == "```":
            current = None
            cells.append(None)
        else:
            cells.append(current)
    return cells


def solution_regions(text: str, source: Path) -> list[SolutionRegion]:
    """Find the ``# BEGIN SOLUTION`` … ``# END SOLUTION`` regions, refusing markup that would leak.

    Raises :class:`CourseError` at ``file:line`` for an unbalanced, nested, misspelt or
    cell-spanning marker, or a marker outside a code cell.
    """
    regions, open_line = [], None
    cell_of = _code_cell_of_each_line(text)
    for number, line in enumerate(text.splitlines(), start=1):
        match = _MARKER.match(line)
        if not match:
            if _LOOSE_MARKER.search(line):
                raise CourseError(f"{source}:{number}: {line.strip()!r} looks like a solution marker but is not one; "
                                  f"write exactly '{BEGIN}' or '{END}' on a line of its own")
            continue
        if cell_of[number - 1] is None:
            raise CourseError(f"{source}:{number}: '{line.strip()}' outside a code cell; solution regions belong in code cells")
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
            if cell_of[open_line - 1] != cell_of[number - 1]:
                raise CourseError(f"{source}:{open_line}: the solution region opened here ends in another cell (line {number}); "
                                  f"close it with '{END}' in the same cell")
            regions.append(SolutionRegion(open_line, number))
            open_line = None
    if open_line is not None:
        raise CourseError(f"{source}:{open_line}: solution region opened here is never closed; add '{END}'")
    return regions


def _front_matter_length(lines: list[str]) -> int:
    """How many lines the ``---`` … ``---`` front matter at the top takes (0 without one)."""
    if not lines or lines[0].strip() != "---":
        return 0
    return next((i + 1 for i, line in enumerate(lines) if i > 0 and line.strip() == "---"), 0)


def exercise_text(solution_md: Path) -> str:
    """The exercise notebook made from a solution notebook, as MyST text.

    Each answer region becomes one stub line at the indentation of its ``# BEGIN SOLUTION`` marker,
    and the title "NN · Solutions: …" becomes "NN · Exercises: …".
    """
    text = solution_md.read_text()
    lines = text.splitlines(keepends=True)
    regions = solution_regions(text, solution_md)
    if not regions:
        raise CourseError(f"{solution_md}: no '{BEGIN}' region; mark the answer code or move the file out of solutions/")
    top = _front_matter_length(lines)
    out, cursor = lines[:top] + ["\n", GENERATED.format(name=solution_md.name) + "\n"], top
    for region in regions:
        out.extend(lines[cursor : region.begin - 1])
        indent = _MARKER.match(lines[region.begin - 1])["indent"]
        out.append(f"{indent}{STUB}\n")
        cursor = region.end
    out.extend(lines[cursor:])
    return _SOLUTION_TITLE.sub(r"\1Exercises: ", "".join(out), count=1)


def generate_exercises(root: Path) -> list[Path]:
    """Regenerate ``exercises/`` (``.md`` and ``.ipynb``) from ``solutions/``; return what changed.

    All solutions are parsed before anything is written, so a broken one leaves ``exercises/`` as it was.
    An exercise whose solution is gone is removed only if this command generated it; a hand-written
    exercise notebook (without the "Generated from" line) is never touched.
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
        if stale.name not in texts and GENERATED.format(name=stale.name) in stale.read_text():
            stale.unlink()
            stale.with_suffix(".ipynb").unlink(missing_ok=True)
            changed.append(stale)
    return changed
