"""Grade a handed-in exercise notebook with the course's own check cells.

Handed-in work is untrusted (as in nbgrader or otter-grader). The grader therefore takes only the
learner's *answer cells* (tagged ``exercise-LL-K``) from the handed-in notebook and runs them inside
the course's pristine exercise notebook, whose check cells (tagged ``check-LL-K``) it keeps as
shipped. Edited or deleted check cells change nothing; a missing answer cell, an answer that
raises, a cell that runs too long and a kernel that exits all give failed rows, never a pass.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from mmgp_lesson.notebooks import CourseError

ANSWER_TAG = re.compile(r"^exercise-(?P<lesson>\d\d)-(?P<number>\d+)$")
CHECK_TAG = re.compile(r"^check-(?P<lesson>\d\d)-(?P<number>\d+)$")
COURSE_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Row:
    """One exercise's outcome: its tag, whether it passed, and the one-line feedback."""

    exercise: str
    passed: bool
    feedback: str


def _tags(cell, pattern: re.Pattern) -> list[str]:
    return [tag for tag in cell.get("metadata", {}).get("tags", []) if pattern.match(tag)]


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read an ``.ipynb`` or MyST ``.md`` notebook, or raise a one-line :class:`CourseError`."""
    if not path.is_file():
        raise CourseError(f"{path}: no such file; give the path of a filled-in exercise notebook (.ipynb or .md)")
    try:
        if path.suffix == ".md":
            notebook = jupytext.read(path, fmt="md:myst")
        else:
            notebook = nbformat.read(path, as_version=4)
            nbformat.validate(notebook)
    except Exception as error:
        reason = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
        raise CourseError(f"{path}: not a readable Jupyter notebook ({reason}); hand in the .ipynb saved by Jupyter") from None
    return notebook


def official_exercise(lesson: str, root: Path = COURSE_ROOT) -> tuple[Path, nbformat.NotebookNode]:
    """The course's own exercise notebook for lesson ``lesson`` (e.g. ``"00"``)."""
    matches = sorted((root / "exercises").glob(f"{lesson}_*.ipynb"))
    if not matches:
        raise CourseError(f"no exercise notebook for lesson {lesson} under {root / 'exercises'}; run 'mmgp-lesson exercises' in the course folder")
    return matches[0], nbformat.read(matches[0], as_version=4)


def _fresh_checks(lesson: str) -> nbformat.NotebookNode:
    """A cell that re-imports the lesson's check module, so an answer cell cannot have replaced ``check``."""
    return nbformat.v4.new_code_cell(
        "import importlib as _importlib\n"
        "import mmgp_lesson.checks as _checks\n"
        f"import mmgp_lesson.checks.lesson{lesson} as _lesson_checks\n"
        "_importlib.reload(_checks)\n"
        "check = _importlib.reload(_lesson_checks)"
    )


def assemble(handed_in: nbformat.NotebookNode, official: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, set[str]]:
    """The official notebook with each answer cell replaced by the learner's cell of the same tag.

    Before every check cell the grader re-imports the check module (:func:`_fresh_checks`).
    Returns the notebook to run and the set of answer tags the learner's notebook lacks.
    """
    answers = {}
    for cell in handed_in.cells:
        for tag in _tags(cell, ANSWER_TAG):
            answers.setdefault(tag, cell.source)
    assembled, missing = nbformat.from_dict(official), set()
    cells = []
    for cell in assembled.cells:
        for tag in _tags(cell, ANSWER_TAG):
            if tag in answers:
                cell.source = answers[tag]
            else:
                missing.add(tag)
        for tag in _tags(cell, CHECK_TAG):
            cells.append(_fresh_checks(CHECK_TAG.match(tag)["lesson"]))
        cells.append(cell)
    assembled.cells = cells
    return assembled, missing


def _error_line(cell) -> str | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            message = str(output.get("evalue", "")).strip().splitlines()
            if output["ename"] == "CheckFailed" and message:
                return message[0]
            return f"{output['ename']}: {message[0] if message else ''}".strip()
    return None


def _passed_line(cell) -> str:
    for output in cell.get("outputs", []):
        for line in str(output.get("text", "")).splitlines():
            if line.startswith("passed:"):
                return line.removeprefix("passed:").strip()
    return "check cell ran without error"


def grade(path: Path, cell_timeout: int = 120, root: Path = COURSE_ROOT) -> list[Row]:
    """Run the course's checks on the handed-in notebook at ``path``; one :class:`Row` per exercise."""
    handed_in = read_notebook(path)
    lessons = {ANSWER_TAG.match(tag)["lesson"] for cell in handed_in.cells for tag in _tags(cell, ANSWER_TAG)}
    if len(lessons) != 1:
        found = "no" if not lessons else f"{len(lessons)} lessons'"
        raise CourseError(f"{path}: {found} answer cells tagged exercise-LL-K; hand in one lesson's exercise notebook from exercises/")
    _, official = official_exercise(lessons.pop(), root)
    notebook, missing = assemble(handed_in, official)

    halted, halted_index = None, len(notebook.cells)  # why and where execution stopped early, if it did
    with tempfile.TemporaryDirectory() as workdir:
        client = NotebookClient(notebook, timeout=cell_timeout, allow_errors=True, kernel_name="python3",
                                resources={"metadata": {"path": workdir}})
        with client.setup_kernel():
            for index, cell in enumerate(notebook.cells):
                if cell.cell_type != "code":
                    continue
                try:
                    client.execute_cell(cell, index)
                except CellTimeoutError:
                    halted, halted_index = f"cell {index} ran longer than {cell_timeout} s: look for an endless loop", index
                    break
                except DeadKernelError:
                    halted, halted_index = f"the kernel died while running cell {index}: remove exit(), os._exit() or whatever crashed it", index
                    break

    answer_errors, rows = {}, []
    for index, cell in enumerate(notebook.cells):
        for tag in _tags(cell, ANSWER_TAG):
            error = halted if index == halted_index else _error_line(cell)
            if error:
                answer_errors[tag.removeprefix("exercise-")] = error
        for tag in _tags(cell, CHECK_TAG):
            key = tag.removeprefix("check-")
            if f"exercise-{key}" in missing:
                rows.append(Row(key, False, f"the answer cell tagged exercise-{key} is missing: copy it back from the exercise notebook and fill it in"))
            elif key in answer_errors:
                rows.append(Row(key, False, f"your answer cell failed: {answer_errors[key]}"))
            elif index >= halted_index:
                rows.append(Row(key, False, f"not run: {halted}"))
            elif (error := _error_line(cell)) is not None:
                rows.append(Row(key, False, error))
            else:
                rows.append(Row(key, True, _passed_line(cell)))
    return rows


def format_rows(rows: list[Row]) -> str:
    """A plain table: exercise, result, feedback."""
    width = max([len("exercise")] + [len(row.exercise) for row in rows])
    lines = [f"{'exercise':<{width}}  result  feedback"]
    lines += [f"{row.exercise:<{width}}  {'passed' if row.passed else 'FAILED'}  {row.feedback}" for row in rows]
    lines.append(f"{sum(row.passed for row in rows)} passed, {sum(not row.passed for row in rows)} failed")
    return "\n".join(lines)
