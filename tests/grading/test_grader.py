"""The grader on what students actually hand in: exercises fail as shipped, solutions pass, and
each common way of handing in (helpers, duplicates, a forgotten return, a renamed file, the course's
own solution, numbers copied from the solution pages) gets the row a teacher would give."""

import subprocess
import sys

import nbformat
import pytest
import torch

from mmgp_lesson.checks import exercises_of, reference_mixture
from mmgp_lesson.grading import CHECK_TAG, grade
from tests.conftest import ROOT
from tests.grading.conftest import cell, hand_in, replace_answer, require_bubblewrap, rows_of

LESSONS = sorted(path.stem for path in (ROOT / "solutions").glob("*.ipynb"))


def _check_tags(path):
    notebook = nbformat.read(path, as_version=4)
    return [tag.removeprefix("check-") for c in notebook.cells for tag in c.metadata.get("tags", []) if CHECK_TAG.match(tag)]


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_check_cell_is_a_registered_exercise(lesson):
    registered = [e.key for e in exercises_of(lesson[:2])]
    assert _check_tags(ROOT / "exercises" / f"{lesson}.ipynb") == registered
    for exercise in exercises_of(lesson[:2]):  # the check cell calls this exercise's check on its answer
        source = cell(nbformat.read(ROOT / "exercises" / f"{lesson}.ipynb", as_version=4), f"check-{exercise.key}").source
        assert source.strip() == f"check.{exercise.check.__name__}({exercise.answer})", source


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_exercise_fails_at_every_check_as_shipped(worker, lesson):
    result = grade(ROOT / "exercises" / f"{lesson}.ipynb", worker, seed=7)
    assert [row.exercise for row in result.rows] == _check_tags(ROOT / "exercises" / f"{lesson}.ipynb")
    for row in result.rows:
        assert not row.passed and row.points == 0, f"exercise {row.exercise} passes with the stub: its check is vacuous"
        assert "NotImplementedError" in row.feedback, row.feedback  # the stub, not some other breakage


@pytest.mark.parametrize("lesson", LESSONS)
@pytest.mark.parametrize("seed", [0, 12345])
def test_every_solution_passes_every_check(worker, lesson, seed):
    result = grade(ROOT / "solutions" / f"{lesson}.ipynb", worker, seed=seed)
    assert result.rows and all(row.passed and row.points == row.max_points for row in result.rows), result.rows


def test_a_wrong_answer_gets_targeted_feedback(worker, tmp_path):
    def shift(notebook):
        answer = cell(notebook, "exercise-00-1")
        answer.source = answer.source.replace("return torch.logsumexp(", "return 0.5 + torch.logsumexp(")

    rows = rows_of(grade(hand_in(tmp_path, shift), worker))
    assert not rows["00-1"].passed and "off by a constant +0.5000" in rows["00-1"].feedback
    assert rows["00-2"].passed


def test_helpers_in_untagged_cells_are_used(worker, tmp_path):
    def helper(notebook):
        answer = cell(notebook, "exercise-00-2")
        notebook.cells.insert(notebook.cells.index(answer), nbformat.v4.new_code_cell(
            "def central(f, x, i, h=1e-4):\n    e = torch.zeros_like(x)\n    e[:, i] = h\n"
            "    return (f(x + e) - f(x - e)) / (2 * h)"))
        answer.source = "def finite_difference_score(log_prob, x):\n    return torch.stack([central(log_prob, x, i) for i in range(x.shape[1])], 1)"

    assert rows_of(grade(hand_in(tmp_path, helper), worker))["00-2"].passed


def test_the_last_of_duplicated_answer_cells_wins(worker, tmp_path):
    def duplicate(notebook):
        answer = cell(notebook, "exercise-00-1")
        wrong = nbformat.v4.new_code_cell("def log_prob(mixture, x):\n    return x[:, 0]", metadata={"tags": ["exercise-00-1"]})
        notebook.cells.insert(notebook.cells.index(answer), wrong)  # a wrong first try, then the right one

    assert rows_of(grade(hand_in(tmp_path, duplicate), worker))["00-1"].passed

    def wrong_last(notebook):
        answer = cell(notebook, "exercise-00-1")
        wrong = nbformat.v4.new_code_cell("def log_prob(mixture, x):\n    return x[:, 0]", metadata={"tags": ["exercise-00-1"]})
        notebook.cells.insert(notebook.cells.index(answer) + 1, wrong)

    assert not rows_of(grade(hand_in(tmp_path, wrong_last), worker))["00-1"].passed


def test_a_forgotten_return_is_named(worker, tmp_path):
    edit = replace_answer("exercise-00-1", "def log_prob(mixture, x):\n    value = torch.zeros(len(x))")
    row = rows_of(grade(hand_in(tmp_path, edit), worker))["00-1"]
    assert not row.passed and "returns None: did you forget `return`?" in row.feedback


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_exercise_names_a_forgotten_return(worker, tmp_path, lesson):
    def no_return(notebook):
        for exercise in exercises_of(lesson[:2]):
            answer = cell(notebook, f"exercise-{exercise.key}")
            answer.source = f"def {exercise.answer}(*args, **kwargs):\n    pass"

    result = grade(hand_in(tmp_path, no_return, lesson=lesson), worker)
    for row in result.rows:
        assert not row.passed and "did you forget `return`?" in row.feedback, row


def test_calling_the_courses_own_solution_fails(worker, tmp_path):
    edit = replace_answer("exercise-00-1", "def log_prob(mixture, x):\n    return mixture.log_prob(x)")
    row = rows_of(grade(hand_in(tmp_path, edit), worker))["00-1"]
    assert not row.passed and "the course's own GaussianMixture.log_prob" in row.feedback

    imported = replace_answer("exercise-00-1", "from mmgp_lesson.toys import GaussianMixture as G\n"
                                               "def log_prob(mixture, x):\n    return G.log_prob(mixture, x)")
    row = rows_of(grade(hand_in(tmp_path, imported), worker))["00-1"]
    assert not row.passed and "write it yourself" in row.feedback


def test_numbers_copied_from_the_solution_pages_fail_at_a_fresh_seed(worker, tmp_path):
    from mmgp_lesson.checks.lesson00 import _points

    printed = reference_mixture().log_prob(_points()).tolist()  # what seed 0, the notebooks' seed, shows
    edit = replace_answer("exercise-00-1", f"def log_prob(mixture, x):\n    return torch.tensor({printed!r}, dtype=torch.float64)")
    assert rows_of(grade(hand_in(tmp_path, edit), worker, seed=0))["00-1"].passed
    assert not rows_of(grade(hand_in(tmp_path, edit), worker, seed=99))["00-1"].passed


def test_a_missing_answer_cell_fails_its_exercise(worker, tmp_path):
    def drop(notebook):
        notebook.cells.remove(cell(notebook, "exercise-00-2"))

    rows = rows_of(grade(hand_in(tmp_path, drop), worker))
    assert rows["00-1"].passed
    assert not rows["00-2"].passed and "exercise-00-2 is missing" in rows["00-2"].feedback


def test_a_file_named_for_another_lesson_is_graded_as_its_content(worker, tmp_path):
    result = grade(hand_in(tmp_path, name="03_probability_flow_ode"), worker)
    assert result.lesson == "00" and all(row.passed for row in result.rows)
    assert result.warnings == ["the file name says lesson 03, but its answer cells are lesson 00's: graded as lesson 00"]


def test_untagged_answers_are_graded_by_name_with_a_warning(worker, tmp_path):
    def untag(notebook):
        for c in notebook.cells:
            c.metadata["tags"] = []

    result = grade(hand_in(tmp_path, untag, name="00_notation"), worker)
    assert all(row.passed for row in result.rows) and "by function names" in result.warnings[0]


def _check(*arguments):
    return subprocess.run([sys.executable, "-m", "mmgp_lesson.cli", "check", *map(str, arguments)],
                          capture_output=True, text=True)


def test_check_command_rows_exit_status_and_a_quiet_stderr():
    require_bubblewrap()
    result = _check(ROOT / "solutions" / "00_notation.ipynb", "--seed", "5")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""  # no kernel noise, no warnings
    rows = [line for line in result.stdout.splitlines() if line.startswith("00-")]
    assert len(rows) == 2 and all(" passed " in row for row in rows)
    assert "seed 5 (repeat with --seed 5)" in result.stdout
    failing = _check(ROOT / "exercises" / "00_notation.ipynb")
    assert failing.returncode == 1 and failing.stdout.count("FAILED") == 2


@pytest.mark.parametrize("content, problem", [
    (None, "no such file"),
    ("folder", "is a folder"),
    (b"this is not json", "not a readable Jupyter notebook"),
    (b'{"cells": 3}', "not a readable Jupyter notebook"),
    (b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', "no answer cells"),
    (b'{"cells": [{"cell_type": "code", "source": "", "metadata": {"tags": ["exercise-99-1"]}, "outputs": [],'
     b' "execution_count": null}], "metadata": {}, "nbformat": 4, "nbformat_minor": 4}', "lesson 99 has no graded exercises"),
])
def test_bad_hand_ins_get_one_line_errors(tmp_path, content, problem):
    path = tmp_path / "hand_in.ipynb"
    if content == "folder":
        path = tmp_path / "sub"
        (path / "inner").mkdir(parents=True)
        (path / "inner" / "x.ipynb").write_text("not json")  # a folder is searched; its bad notebook is named
        problem = "not a readable Jupyter notebook"
    elif content is not None:
        path.write_bytes(content)
    result = _check(path, "--no-sandbox")
    assert result.returncode == 2, result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.strip().splitlines() if "warning: --no-sandbox" not in line]
    assert len(errors) == 1 and problem in errors[0], result.stderr


@pytest.mark.parametrize("arguments", [[], ["--jobs", "0", "x.ipynb"], ["--timeout", "-1", "x.ipynb"], ["--bogus", "x.ipynb"]])
def test_usage_errors_exit_64(arguments):
    result = _check(*arguments)
    assert result.returncode == 64 and result.stderr.startswith("mmgp-lesson check: error: ")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_a_missing_sandbox_is_refused_with_the_fix(monkeypatch, tmp_path, capsys):
    from mmgp_lesson.cli import main

    monkeypatch.setattr("shutil.which", lambda name: None)
    status = main(["check", str(ROOT / "solutions" / "00_notation.ipynb")])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and "apt-get install bubblewrap" in err[0] and "--no-sandbox" in err[0]


def test_without_the_sandbox_grading_warns_and_still_grades():
    result = _check(ROOT / "solutions" / "00_notation.ipynb", "--no-sandbox")
    assert result.returncode == 0 and "warning: --no-sandbox" in result.stderr
    assert torch.__version__  # the worker ran outside bubblewrap on the same interpreter
