"""The grader: exercises fail as shipped, solutions pass, and untrusted hand-ins never pass by accident."""

import subprocess
import sys

import nbformat
import pytest

from mmgp_lesson.grading import CHECK_TAG, grade

from .conftest import ROOT

LESSONS = sorted(path.stem for path in (ROOT / "solutions").glob("*.ipynb"))


def _check_count(notebook_path):
    notebook = nbformat.read(notebook_path, as_version=4)
    return sum(bool(CHECK_TAG.match(tag)) for cell in notebook.cells for tag in cell.metadata.get("tags", []))


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_exercise_fails_at_every_check_as_shipped(lesson):
    rows = grade(ROOT / "exercises" / f"{lesson}.ipynb")
    assert len(rows) == _check_count(ROOT / "exercises" / f"{lesson}.ipynb") >= 1
    for row in rows:
        assert not row.passed, f"exercise {row.exercise} passes with the stub: its check is vacuous"
        assert "NotImplementedError" in row.feedback, row.feedback  # the stub, not some other breakage


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_solution_passes_every_check(lesson):
    rows = grade(ROOT / "solutions" / f"{lesson}.ipynb")
    assert rows and all(row.passed for row in rows), [row for row in rows if not row.passed]


def _solved_copy(tmp_path, edit):
    """The lesson-00 solution, edited by ``edit(notebook)``, saved as a hand-in."""
    notebook = nbformat.read(ROOT / "solutions" / "00_notation.ipynb", as_version=4)
    edit(notebook)
    path = tmp_path / "handed_in.ipynb"
    nbformat.write(notebook, path)
    return path


def _cell(notebook, pattern_tag):
    return next(cell for cell in notebook.cells if pattern_tag in cell.metadata.get("tags", []))


def test_a_wrong_answer_gets_targeted_feedback(tmp_path):
    def shift_log_prob(notebook):
        cell = _cell(notebook, "exercise-00-1")
        cell.source = cell.source.replace("return torch.logsumexp(", "return 0.5 + torch.logsumexp(")

    rows = {row.exercise: row for row in grade(_solved_copy(tmp_path, shift_log_prob))}
    assert not rows["00-1"].passed and "off by a constant +0.5000" in rows["00-1"].feedback
    assert rows["00-2"].passed


def test_an_edited_check_cell_is_ignored(tmp_path):
    def cheat(notebook):
        _cell(notebook, "exercise-00-1").source = "def log_prob(mixture, x):\n    return x[:, 0]"
        _cell(notebook, "check-00-1").source = "print('passed: trust me')"

    rows = {row.exercise: row for row in grade(_solved_copy(tmp_path, cheat))}
    assert not rows["00-1"].passed


def test_an_answer_that_replaces_the_check_function_is_caught(tmp_path):
    def cheat(notebook):
        _cell(notebook, "exercise-00-1").source = (
            "def log_prob(mixture, x):\n    return x[:, 0]\n"
            "check.mixture_log_prob = lambda answer: print('passed: trust me')\n"
            "import mmgp_lesson.checks.lesson00 as lesson00\nlesson00.mixture_log_prob = check.mixture_log_prob"
        )

    rows = {row.exercise: row for row in grade(_solved_copy(tmp_path, cheat))}
    assert not rows["00-1"].passed and "log_prob" in rows["00-1"].feedback


def test_a_missing_answer_cell_fails_its_exercise(tmp_path):
    def drop(notebook):
        notebook.cells.remove(_cell(notebook, "exercise-00-2"))

    rows = {row.exercise: row for row in grade(_solved_copy(tmp_path, drop))}
    assert rows["00-1"].passed
    assert not rows["00-2"].passed and "missing" in rows["00-2"].feedback


def test_a_hanging_answer_fails_instead_of_hanging(tmp_path):
    def hang(notebook):
        _cell(notebook, "exercise-00-2").source = "while True:\n    pass"

    rows = {row.exercise: row for row in grade(_solved_copy(tmp_path, hang), cell_timeout=5)}
    assert rows["00-1"].passed
    assert not rows["00-2"].passed and "longer than 5 s" in rows["00-2"].feedback


def test_a_kernel_exit_fails_the_remaining_exercises(tmp_path):
    def exit_kernel(notebook):
        _cell(notebook, "exercise-00-2").source = "import os\nos._exit(0)"

    rows = {row.exercise: row for row in grade(_solved_copy(tmp_path, exit_kernel))}
    assert rows["00-1"].passed
    assert not rows["00-2"].passed and "kernel died" in rows["00-2"].feedback


def _check_cli(path):
    return subprocess.run([sys.executable, "-m", "mmgp_lesson.cli", "check", str(path)], capture_output=True, text=True)


def test_check_command_prints_one_row_per_exercise_and_exit_status(tmp_path):
    result = _check_cli(ROOT / "solutions" / "00_notation.ipynb")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("00-")]
    assert len(rows) == 2 and all(" passed " in row for row in rows)
    failing = _check_cli(ROOT / "exercises" / "00_notation.ipynb")
    assert failing.returncode == 1 and failing.stdout.count("FAILED") == 2


@pytest.mark.parametrize("content, problem", [
    (None, "no such file"),
    (b"this is not json", "not a readable Jupyter notebook"),
    (b'{"cells": 3}', "not a readable Jupyter notebook"),
    (b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', "no answer cells"),
])
def test_bad_hand_ins_get_one_line_errors(tmp_path, content, problem):
    path = tmp_path / "hand_in.ipynb"
    if content is not None:
        path.write_bytes(content)
    result = _check_cli(path)
    assert result.returncode == 2
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and problem in result.stderr
