"""Paired notebooks are in sync and output-free; exercises are generated from solutions."""

import json
import shutil
import subprocess
import sys

import pytest

from mmgp_lesson.notebooks import NOTEBOOK_DIRS, exercise_text, ipynb_text, paired_notebooks

from .conftest import ROOT

NOTEBOOKS = paired_notebooks(ROOT)


def test_every_folder_has_notebooks():
    for folder in NOTEBOOK_DIRS:
        assert list((ROOT / folder).glob("*.md")), f"{folder}/ has no notebooks"


@pytest.mark.parametrize("md_path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_ipynb_twin_is_in_sync(md_path):
    twin = md_path.with_suffix(".ipynb")
    assert twin.exists(), f"{twin} is missing: run 'make pair'"
    assert twin.read_text() == ipynb_text(md_path), f"{twin} is out of sync with {md_path.name}: run 'make pair'"


@pytest.mark.parametrize("md_path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_ipynb_twin_carries_no_outputs(md_path):
    notebook = json.loads(md_path.with_suffix(".ipynb").read_text())
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


def test_every_ipynb_has_its_md():
    for folder in NOTEBOOK_DIRS:
        for twin in (ROOT / folder).glob("*.ipynb"):
            assert twin.with_suffix(".md").exists(), f"{twin} has no .md source"


@pytest.mark.parametrize("solution", sorted((ROOT / "solutions").glob("*.md")), ids=lambda p: p.name)
def test_exercises_are_up_to_date(solution):
    exercise = ROOT / "exercises" / solution.name
    assert exercise.read_text() == exercise_text(solution), f"{exercise} is stale: run 'make exercises'"


@pytest.mark.parametrize("solution", sorted((ROOT / "solutions").glob("*.md")), ids=lambda p: p.name)
def test_each_lesson_has_a_solution_and_answer_and_check_cells(solution):
    text = solution.read_text()
    lesson = solution.name[:2]
    assert (ROOT / "notebooks" / solution.name).exists(), f"{solution.name} has no lesson in notebooks/"
    for kind in ("exercise", "check"):
        assert f":tags: [{kind}-{lesson}-" in text, f"{solution.name} has no cell tagged {kind}-{lesson}-K"


def _run_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "mmgp_lesson.cli", *args], cwd=cwd, capture_output=True, text=True)


def _course_copy(tmp_path):
    for folder in ("solutions", "exercises", "notebooks"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    return tmp_path


def test_unclosed_region_names_file_and_line(tmp_path):
    course = _course_copy(tmp_path)
    solution = course / "solutions" / "00_notation.md"
    lines = solution.read_text().splitlines(keepends=True)
    end_lines = [number for number, line in enumerate(lines) if line.strip() == "# END SOLUTION"]
    begin_line = max(number for number, line in enumerate(lines) if line.strip() == "# BEGIN SOLUTION") + 1
    del lines[end_lines[-1]]
    solution.write_text("".join(lines))
    before = {path: path.read_bytes() for path in (course / "exercises").iterdir()}
    result = _run_cli("exercises", "--root", str(course), cwd=course)
    assert result.returncode != 0
    message = result.stderr.strip()
    assert "\n" not in message and "Traceback" not in message
    assert f"00_notation.md:{begin_line}" in message and "never closed" in message
    assert {path: path.read_bytes() for path in (course / "exercises").iterdir()} == before  # nothing written


def test_exercises_command_regenerates_a_deleted_exercise(tmp_path):
    course = _course_copy(tmp_path)
    (course / "exercises" / "00_notation.md").unlink()
    (course / "exercises" / "00_notation.ipynb").unlink()
    result = _run_cli("exercises", "--root", str(course), cwd=course)
    assert result.returncode == 0, result.stderr
    for suffix in (".md", ".ipynb"):
        assert (course / "exercises" / f"00_notation{suffix}").read_text() == (ROOT / "exercises" / f"00_notation{suffix}").read_text()


def _first(lines, text):
    return next(number for number, line in enumerate(lines) if line.strip() == text)


def _span_cells(lines):
    """Move the first END marker past the end of its cell, into the check cell below."""
    end = _first(lines, "# END SOLUTION")
    marker = lines.pop(end)
    check = next(n for n in range(end, len(lines)) if lines[n].startswith(":tags: [check-"))
    lines.insert(check + 2, marker)
    return _first(lines, "# BEGIN SOLUTION") + 1, "ends in another cell"


def _in_markdown(lines):
    lines.insert(_first(lines, "## Exercise 00.1 — the mixture log-density") + 1, "# BEGIN SOLUTION\n")
    return _first(lines, "## Exercise 00.1 — the mixture log-density") + 2, "outside a code cell"


def _variant(text):
    def edit(lines):
        begin = _first(lines, "# BEGIN SOLUTION")
        lines[begin] = lines[begin].replace("# BEGIN SOLUTION", text)
        return begin + 1, "looks like a solution marker"

    return edit


@pytest.mark.parametrize("edit", [_span_cells, _in_markdown, _variant("### BEGIN SOLUTION"),
                                  _variant("# begin solution"), _variant("#BEGIN SOLUTION"),
                                  _variant("# BEGIN SOLUTION (Exercise 1)")],
                         ids=["spans-cells", "in-markdown", "hashes", "lowercase", "no-space", "trailing-text"])
def test_the_generator_refuses_markup_that_would_leak_or_delete(tmp_path, edit):
    course = _course_copy(tmp_path)
    solution = course / "solutions" / "00_notation.md"
    lines = solution.read_text().splitlines(keepends=True)
    line, problem = edit(lines)
    solution.write_text("".join(lines))
    before = {path: path.read_bytes() for path in (course / "exercises").iterdir()}
    result = _run_cli("exercises", "--root", str(course), cwd=course)
    message = result.stderr.strip()
    assert result.returncode == 2 and "\n" not in message and "Traceback" not in message, message
    assert f"00_notation.md:{line}:" in message and problem in message, message
    assert {path: path.read_bytes() for path in (course / "exercises").iterdir()} == before  # nothing written


def test_the_generator_keeps_hand_written_exercises_and_drops_stale_generated_ones(tmp_path):
    course = _course_copy(tmp_path)
    hand_written = course / "exercises" / "99_extra.md"
    hand_written.write_text((ROOT / "exercises" / "00_notation.md").read_text().replace("solutions/00_notation.md", "nowhere"))
    hand_written_text = hand_written.read_text()
    stale = course / "exercises" / "98_renamed.md"
    stale.write_text((ROOT / "exercises" / "00_notation.md").read_text().replace("solutions/00_notation.md", "solutions/98_renamed.md"))
    result = _run_cli("exercises", "--root", str(course), cwd=course)
    assert result.returncode == 0, result.stderr
    assert hand_written.read_text() == hand_written_text and hand_written.with_suffix(".ipynb").exists()
    assert not stale.exists()
