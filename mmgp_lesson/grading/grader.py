"""Grade one handed-in exercise notebook: the hand-in's code runs in a worker, the verdict here.

Handed-in work is untrusted, as in nbgrader or otter-grader, and more strictly: the grader never runs
the learner's code in its own process and never looks at the learner's objects. Every code cell of
the hand-in (but its copies of the course's check cells) runs in notebook order in a sandboxed worker
(:mod:`mmgp_lesson.grading.worker`); then, for each exercise registered in
:mod:`mmgp_lesson.checks`, the grader runs the course's own check *here*, and the check's calls of the
learner's function go to the worker and come back as plain data (:mod:`mmgp_lesson.checks.data`).
Patching the kernel, the check module, builtins or the reference functions in the worker changes
only the worker. A hang, a crash, an exit, a memory blow-up or a flood of output fails the exercise
it happened in, names the limit, and the worker is restarted for the remaining exercises.
"""

from __future__ import annotations

import pickle
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from mmgp_lesson.checks import CheckFailed, Exercise, RemoteAnswer, collect_passed, exercises_of, seeded
from mmgp_lesson.errors import CourseError
from mmgp_lesson.grading.client import STARTUP_SECONDS, Worker

ANSWER_TAG = re.compile(r"^exercise-(?P<lesson>\d\d)-(?P<number>\d+)$")
CHECK_TAG = re.compile(r"^check-(?P<lesson>\d\d)-(?P<number>\d+)$")
LESSON_IN_NAME = re.compile(r"^(?P<lesson>\d\d)_")


@dataclass
class Limits:
    """What one hand-in may use: seconds per cell or call, seconds in all, memory and output."""

    call_seconds: float = 60.0
    total_seconds: float = 600.0
    memory_mb: int = 2048
    output_mb: int = 10


@dataclass
class Row:
    """One exercise's outcome: its key, whether it passed, the one-line feedback, points and seconds."""

    exercise: str
    passed: bool
    feedback: str
    points: float = 0.0
    max_points: float = 1.0
    seconds: float = 0.0


@dataclass
class HandIn:
    """A graded notebook: who, which lesson, the seed its inputs were drawn from, rows and warnings."""

    path: Path
    student: str
    lesson: str
    seed: int
    rows: list[Row]
    warnings: list[str] = field(default_factory=list)


def _is_outcome(reply: dict) -> bool:
    """Whether a worker's reply has the shape of :func:`mmgp_lesson.checks.run_answer`'s outcome."""
    if len(reply) != 1:
        return False
    (key, value), = reply.items()
    if key == "raised":
        return isinstance(value, list) and len(value) == 2 and all(isinstance(part, str) for part in value)
    return key in ("value", "unreadable", "reference") and isinstance(value, str)


def _tags(cell, pattern: re.Pattern) -> list[str]:
    return [tag for tag in cell.get("metadata", {}).get("tags", []) if pattern.match(tag)]


def read_notebook(path: Path):
    """Read an ``.ipynb`` or MyST ``.md`` notebook, or raise a one-line :class:`CourseError`."""
    import jupytext
    import nbformat

    if path.is_dir():
        raise CourseError(f"{path}: is a folder; give a notebook file, or grade the folder's notebooks as a batch")
    if not path.is_file():
        raise CourseError(f"{path}: no such file; give the path of a filled-in exercise notebook (.ipynb or .md)")
    try:
        if path.suffix == ".md":
            notebook = jupytext.read(path, fmt="md:myst")
        else:
            notebook = nbformat.read(path, as_version=4)
            nbformat.validate(notebook)
    except Exception as error:  # nbformat and jupytext raise many types for damaged files
        reason = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
        raise CourseError(f"{path}: not a readable Jupyter notebook ({reason}); hand in the .ipynb saved by Jupyter") from None
    return notebook


def lesson_of(notebook, path: Path) -> tuple[str, list[str]]:
    """The lesson a hand-in answers (from its answer cells' tags, else its file name) and warnings."""
    tagged = {ANSWER_TAG.match(tag)["lesson"] for cell in notebook.cells for tag in _tags(cell, ANSWER_TAG)}
    named = LESSON_IN_NAME.match(path.name)
    if len(tagged) > 1:
        raise CourseError(f"{path}: answer cells of lessons {', '.join(sorted(tagged))}; hand in one lesson's exercise notebook")
    if not tagged:
        if named is None:
            raise CourseError(f"{path}: no answer cells tagged exercise-LL-K and no lesson number in the file name; hand in the exercise notebook from exercises/")
        return named["lesson"], [f"no answer cells carry exercise tags: graded as lesson {named['lesson']} (from the file name) by function names"]
    lesson = tagged.pop()
    if named is not None and named["lesson"] != lesson:
        return lesson, [f"the file name says lesson {named['lesson']}, but its answer cells are lesson {lesson}'s: graded as lesson {lesson}"]
    return lesson, []


def student_of(path: Path) -> str:
    """The student id: the file's stem, or its folder's name when the file keeps the lesson's name."""
    stem = path.stem
    return path.parent.name if LESSON_IN_NAME.match(stem) and path.parent.name else stem


class _Run:
    """One hand-in in one worker: its cells run once, re-run after a restart, its exercises checked."""

    def __init__(self, worker: Worker, lesson: str, cells: list, tags: dict[str, set[int]], limits: Limits):
        self.worker, self.lesson, self.cells, self.tags, self.limits = worker, lesson, cells, tags, limits
        self.deadline = time.monotonic() + limits.total_seconds
        self.status: dict[int, tuple[str, str]] = {}  # cell index -> ("ok" | "error" | "died", text)
        self.alive = False

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def _limit(self) -> float:
        return max(0.5, min(self.limits.call_seconds, self.remaining()))

    def death(self, reply: dict, timeout: float) -> str:
        """Why the worker's child ended, in the learner's terms, naming the limit."""
        kind, detail, limits = reply.get("died"), reply.get("detail"), self.limits
        if kind == "timeout":
            if timeout < limits.call_seconds:
                return f"used up the notebook's total of {limits.total_seconds:g} s (--total)"
            return f"ran longer than {limits.call_seconds:g} s (the per-call limit, --timeout): look for an endless loop"
        return {
            "cpu": f"used more than {limits.total_seconds:g} s of CPU time (the notebook's limit, --total)",
            "output": f"printed more than {limits.output_mb} MB (the output limit): print less",
            "memory": f"ran out of memory (the limit is {limits.memory_mb} MB, --memory)",
            "exit": f"ended the worker process (exit status {detail}): remove exit(), sys.exit() or os._exit()",
            "signal": f"crashed the worker ({detail})",
            "reply": f"broke the worker's reply ({detail})",
        }.get(kind, "stopped the grading worker from answering")

    def start(self) -> None:
        """Start a fresh child and run every cell that has not killed one, in notebook order."""
        limits = self.limits
        reply = self.worker.request({"op": "spawn", "lesson": self.lesson, "timeout": STARTUP_SECONDS, "limits": {
            "cpu_seconds": max(1, int(self.remaining()) + 1), "memory_mb": limits.memory_mb, "output_mb": limits.output_mb}},
            STARTUP_SECONDS)  # the first hand-in of a lesson imports its modules into the worker
        if not reply.get("ready"):
            self.worker.kill()  # a fresh worker for the next try
            raise CourseError(f"the grading worker could not start a hand-in ({self.death(reply, STARTUP_SECONDS)})")
        self.alive = True
        for index, source in self.cells:
            if self.status.get(index, ("",))[0] == "died":
                continue
            if self.remaining() <= 0:
                self.status.setdefault(index, ("died", self.death({"died": "timeout"}, 0)))
                continue
            timeout = self._limit()
            reply = self.worker.request({"op": "cell", "source": source, "timeout": timeout}, timeout)
            if "died" in reply:
                self.status[index] = ("died", self.death(reply, timeout))
                return self.start()
            self.status.setdefault(index, ("ok", "") if reply.get("ok") else ("error", str(reply.get("error", "an error"))[:300]))

    def call(self, exercise: Exercise, answer_cells: list[int]):
        """The function :class:`RemoteAnswer` uses: one call of the learner's function in the worker."""

        def call(args, runner, references) -> dict:
            if not self.alive:
                self.start()
            if self.remaining() <= 0:
                return {"failed": f"calling your {exercise.answer}: {self.death({'died': 'timeout'}, 0)}"}
            timeout = self._limit()
            reply = self.worker.request({"op": "call", "answer": exercise.answer, "args": pickle.dumps(args),
                                         "runner": pickle.dumps(runner), "references": list(references),
                                         "timeout": timeout}, timeout)
            if "died" in reply:
                self.alive = False
                return {"failed": f"calling your {exercise.answer}: {self.death(reply, timeout)}"}
            if "missing" in reply:
                if not answer_cells:
                    return {"failed": f"the answer cell tagged exercise-{exercise.key} is missing and your notebook defines no "
                                      f"{exercise.answer}: copy the cell back from the exercise notebook and fill it in"}
                return {"failed": f"your notebook defines no function {exercise.answer}: keep the name the exercise gives"}
            if _is_outcome(reply):
                return reply
            self.alive = False
            self.worker.kill()
            return {"failed": f"calling your {exercise.answer}: the worker sent something that is no answer"}

        return call

    def check(self, exercise: Exercise, seed: int) -> Row:
        """Run the course's check of ``exercise`` here, calling the learner's function in the worker."""
        started = time.monotonic()
        answer_cells = [index for index, _ in self.cells if index in self._tagged(exercise)]
        last = self.status.get(answer_cells[-1]) if answer_cells else None
        if self.remaining() <= 0:
            feedback, ok = f"not graded: the notebook {self.death({'died': 'timeout'}, 0)}", False
        elif last is not None and last[0] != "ok":
            feedback, ok = (f"your answer cell {last[1]}" if last[0] == "died" else f"your answer cell failed: {last[1]}"), False
        else:
            with seeded(seed), collect_passed() as messages:
                try:
                    exercise.check(RemoteAnswer(exercise.answer, self.call(exercise, answer_cells)))
                    feedback, ok = (messages[-1] if messages else "passed"), True
                except CheckFailed as error:
                    feedback, ok = str(error), False
                except Exception as error:  # a check that cannot judge what it got fails, never passes
                    feedback, ok = f"the check could not judge your answer ({type(error).__name__}: {error})", False
        return Row(exercise.key, ok, feedback.splitlines()[0] if feedback else "", exercise.points if ok else 0.0,
                   exercise.points, round(time.monotonic() - started, 3))

    def _tagged(self, exercise: Exercise) -> set[int]:
        return self.tags.get(f"exercise-{exercise.key}", set())


def grade(path: Path, worker: Worker | None = None, seed: int = 0, limits: Limits | None = None) -> HandIn:
    """Grade the hand-in at ``path`` with the course's checks; one :class:`Row` per exercise.

    ``worker`` is reused when given (batch grading); else one is started and closed here. ``seed``
    draws the checks' test inputs (0 gives the notebooks' own numbers).
    """
    path, limits = Path(path), limits or Limits()
    notebook = read_notebook(path)
    lesson, warnings = lesson_of(notebook, path)
    exercises = exercises_of(lesson)
    if not exercises:
        raise CourseError(f"{path}: lesson {lesson} has no graded exercises; check the lesson number")
    cells, tags = [], {}
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code" or _tags(cell, CHECK_TAG):
            continue  # the hand-in's copies of the check cells: the grader runs its own
        cells.append((index, cell.source))
        for tag in _tags(cell, ANSWER_TAG):
            tags.setdefault(tag, set()).add(index)
    own = worker is None
    worker = worker or Worker()
    try:
        run = _Run(worker, lesson, cells, tags, limits)
        run.start()
        rows = [run.check(exercise, seed) for exercise in exercises]
        if worker.process is not None:  # end this hand-in's processes now (a dead worker took them along)
            worker.request({"op": "stop"}, 10)
    finally:
        if own:
            worker.close()
    return HandIn(path, student_of(path), lesson, seed, rows, warnings)


def format_rows(rows: list[Row]) -> str:
    """A plain table: exercise, result, feedback."""
    width = max([len("exercise")] + [len(row.exercise) for row in rows])
    lines = [f"{'exercise':<{width}}  result  feedback"]
    lines += [f"{row.exercise:<{width}}  {'passed' if row.passed else 'FAILED'}  {row.feedback}" for row in rows]
    points = sum(row.points for row in rows), sum(row.max_points for row in rows)
    lines.append(f"{sum(row.passed for row in rows)} passed, {sum(not row.passed for row in rows)} failed ({points[0]:g} of {points[1]:g} points)")
    return "\n".join(lines)
