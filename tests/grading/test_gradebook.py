"""Batch grading: a class of hand-ins with --jobs 2 into a gradebook that an instructor can load."""

import csv
import json
import subprocess
import sys

from mmgp_lesson.grading.gradebook import COLUMNS
from tests.conftest import ROOT
from tests.grading.conftest import hand_in, replace_answer, require_bubblewrap

WRONG = replace_answer("exercise-00-1", "def log_prob(mixture, x):\n    return x[:, 0]")


def test_twenty_hand_ins_in_parallel_into_csv_and_json(tmp_path):
    require_bubblewrap()
    folder = tmp_path / "lesson00"
    (folder / "sub").mkdir(parents=True)
    expected = {}
    for number in range(20):
        student = f"student{number:02d}"
        if number % 4 == 0:
            hand_in(folder, source="exercises", name=student)  # handed back untouched
            expected[student] = (0, 0)
        elif number % 4 == 1:
            hand_in(folder / "sub", WRONG, name=student)  # folders are searched
            expected[student] = (0, 1)
        else:
            hand_in(folder, name=student)
            expected[student] = (1, 1)
    out = tmp_path / "grades.csv"
    result = subprocess.run([sys.executable, "-m", "mmgp_lesson.cli", "check", str(folder), "--jobs", "2",
                             "--out", str(out), "--seed", "11"], capture_output=True, text=True)
    assert result.returncode == 1, result.stderr  # some failed
    assert result.stderr == ""
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == COLUMNS and len(rows) == 40
    got = {}
    for row in rows:
        got.setdefault(row["student"], {})[row["exercise"]] = (row["passed"] == "True", float(row["points"]))
        assert row["lesson"] == "00" and row["seed"] == "11" and float(row["seconds"]) >= 0 and row["feedback"]
    assert {s: (r["00-1"][0], r["00-2"][0]) for s, r in got.items()} == {s: tuple(map(bool, e)) for s, e in expected.items()}
    assert all(points == (1.0 if passed else 0.0) for r in got.values() for passed, points in r.values())
    document = json.loads(out.with_suffix(".json").read_text())
    assert document["seed"] == 11 and document["sandbox"] is True and len(document["rows"]) == 40
    summary = document["summary"]
    assert summary["00-1"]["graded"] == 20 and summary["00-1"]["passed"] == 10 and summary["00-1"]["pass_rate"] == 0.5
    assert summary["00-2"]["passed"] == 15
    lines = dict((line, count) for line, count in summary["00-1"]["most_frequent_feedback"])
    assert lines["your function still raises NotImplementedError: replace the stub with your code"] == 5
    assert "00-1: 10/20 passed (50%)" in result.stdout


def test_one_unreadable_hand_in_is_named_and_the_rest_graded(tmp_path):
    require_bubblewrap()
    hand_in(tmp_path, name="good")
    (tmp_path / "broken.ipynb").write_text("{ not a notebook")
    result = subprocess.run([sys.executable, "-m", "mmgp_lesson.cli", "check", str(tmp_path), "--out",
                             str(tmp_path / "g.csv")], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"mmgp-lesson check: error: {tmp_path / 'broken.ipynb'}: not a readable Jupyter notebook "
        "(Notebook does not appear to be JSON: '{ not a notebook'); hand in the .ipynb saved by Jupyter"]
    document = json.loads((tmp_path / "g.json").read_text())
    assert [r["student"] for r in document["rows"]] == ["good", "good"] and len(document["unreadable"]) == 1


def test_check_needs_only_the_package_not_a_course_checkout(tmp_path):
    require_bubblewrap()
    import shutil

    package = tmp_path / "site" / "mmgp_lesson"
    shutil.copytree(ROOT / "mmgp_lesson", package, ignore=shutil.ignore_patterns("__pycache__"))
    work = tmp_path / "elsewhere"
    work.mkdir()
    for name in ("carol", "dave"):
        hand_in(work, name=name)
    environment = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(package.parent), "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", "import sys, mmgp_lesson, mmgp_lesson.cli as cli; "
                             "print(mmgp_lesson.__file__); sys.exit(cli.main(sys.argv[1:]))", "check", "carol.ipynb", "dave.ipynb"],
                            capture_output=True, text=True, cwd=work, env=environment)
    assert result.returncode == 0, result.stdout + result.stderr  # all passed
    assert result.stdout.splitlines()[0] == str(package / "__init__.py")  # the copy, with no exercises/ beside it
    assert "carol: lesson 00, 2/2 passed" in result.stdout and "dave: lesson 00, 2/2 passed" in result.stdout
