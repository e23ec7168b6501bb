"""Check functions the exercise notebooks call, one module per lesson.

A check measures the learner's answer against the exact one. It raises :class:`CheckFailed` with
one sentence that says what is wrong and where to look, or prints one line starting with
``passed:``. Each check is registered with :func:`exercise`: its key (``"00-1"``), the name of the
learner's function, the points it is worth and the course functions that *are* the answer (an answer
that calls them fails).

A check never touches the learner's objects. It calls the learner's function through
:func:`call_answer`, which returns the answer as plain data (:mod:`mmgp_lesson.checks.data`). In a
notebook the function runs in the learner's kernel; under ``mmgp-lesson check`` it is a
:class:`RemoteAnswer` that runs in a sandboxed worker (:mod:`mmgp_lesson.grading`), while the check
and its reference values stay in the grader's process. Arguments handed to the learner's function are
data, package objects, or module-level functions — never a closure — since the grader pickles them
to the worker.

Test inputs are drawn from :func:`generator` and :func:`rng`, seeded by the grading run
(:func:`seeded`); in a notebook the seed is 0, so the numbers on the solution pages repeat there.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib
import importlib.util
import sys
from dataclasses import dataclass
from typing import Callable

from mmgp_lesson.checks.data import DataError, decode, describe, encode


class CheckFailed(AssertionError):
    """An answer that does not pass; its message is the one-sentence feedback."""


class AnswerRaised(CheckFailed):
    """The learner's function raised; ``error_type`` names the exception (e.g. ``"KeyError"``)."""

    def __init__(self, feedback: str, error_type: str, message: str):
        super().__init__(feedback)
        self.error_type, self.message = error_type, message


@dataclass(frozen=True)
class Exercise:
    """One graded exercise: ``check(answer_function)`` judges the function named ``answer``."""

    key: str
    check: Callable
    answer: str
    points: float = 1.0
    references: tuple[str, ...] = ()

    @property
    def lesson(self) -> str:
        return self.key.split("-")[0]


EXERCISES: dict[str, Exercise] = {}
_CURRENT: contextvars.ContextVar[Exercise | None] = contextvars.ContextVar("exercise", default=None)
_SEED: contextvars.ContextVar[int] = contextvars.ContextVar("seed", default=0)
_PASSED: contextvars.ContextVar[list | None] = contextvars.ContextVar("passed", default=None)


def exercise(key: str, *, answer: str, points: float = 1.0, references: tuple[str, ...] = ()):
    """Register a check as exercise ``key`` (``"LL-K"``) of the learner's function ``answer``.

    ``references`` are ``"module:qualified.name"`` of the course functions that compute the answer
    itself; calling one from the answer fails the exercise.
    """

    def register(check):
        @functools.wraps(check)
        def run(function):
            token = _CURRENT.set(EXERCISES[key])
            try:
                return check(function)
            finally:
                _CURRENT.reset(token)

        EXERCISES[key] = Exercise(key, run, answer, float(points), tuple(references))
        return run

    return register


def exercises_of(lesson: str) -> list[Exercise]:
    """The registered exercises of lesson ``lesson`` (e.g. ``"00"``), in order; imports its module.

    A lesson without a check module has none.
    """
    if importlib.util.find_spec(f"mmgp_lesson.checks.lesson{lesson}") is None:
        return []
    importlib.import_module(f"mmgp_lesson.checks.lesson{lesson}")
    return sorted((e for e in EXERCISES.values() if e.lesson == lesson), key=lambda e: int(e.key.split("-")[1]))


# ---------------------------------------------------------------- seeded test inputs


@contextlib.contextmanager
def seeded(seed: int):
    """Draw every check's test inputs from ``seed`` inside this block (0: the notebooks' numbers)."""
    token = _SEED.set(int(seed))
    try:
        yield
    finally:
        _SEED.reset(token)


def _stream(offset: int) -> int:
    base = _SEED.get()
    if base == 0:
        return offset
    import numpy as np

    return int(np.random.SeedSequence([base, offset]).generate_state(1)[0])


def generator(offset: int = 0):
    """A ``torch.Generator`` for a check's inputs: stream ``offset`` of the run's seed."""
    import torch

    return torch.Generator().manual_seed(_stream(offset))


def rng(offset: int = 0):
    """A numpy ``Generator`` for a check's inputs: stream ``offset`` of the run's seed."""
    import numpy as np

    return np.random.default_rng(_stream(offset))


# ---------------------------------------------------------------- calling the learner's function


def resolve(reference: str):
    """The function named ``"module:qualified.name"``."""
    module, _, name = reference.partition(":")
    target = importlib.import_module(module)
    for part in name.split("."):
        target = getattr(target, part)
    return target


def run_answer(function, args: tuple, runner=None, references: tuple[str, ...] = ()) -> dict:
    """Call ``runner(function, *args)`` (or ``function(*args)``) and describe what happened, as data.

    Returns ``{"value": json}``, ``{"raised": [type, message]}``, ``{"unreadable": description}`` or
    ``{"reference": name}`` when the call ran one of ``references``. The same function serves the
    learner's kernel and the grader's sandboxed worker, so both report an answer the same way.
    """
    codes = {getattr(resolve(ref), "__code__", None): ref for ref in references}
    used = []

    def watch(frame, event, arg):
        if event == "call" and frame.f_code in codes and not used:
            used.append(codes[frame.f_code])

    previous = sys.getprofile()
    sys.setprofile(watch if references else previous)
    try:
        value = runner(function, *args) if runner is not None else function(*args)
    except (Exception, SystemExit) as error:
        sys.setprofile(previous)
        message = str(error).strip().splitlines()
        return {"reference": used[0]} if used else {"raised": [type(error).__name__, message[0][:300] if message else ""]}
    finally:
        sys.setprofile(previous)
    if used:
        return {"reference": used[0]}
    try:
        return {"value": encode(value)}
    except Exception:  # an object whose conversion itself fails is no data
        return {"unreadable": describe(value)}


class RemoteAnswer:
    """The learner's function ``name`` as the grader sees it: calls go to the sandboxed worker.

    ``call(args, runner, references)`` returns :func:`run_answer`'s outcome from the worker, or
    ``{"failed": feedback}`` when the worker hit a limit. Made by :mod:`mmgp_lesson.grading`.
    """

    def __init__(self, name: str, call: Callable[[tuple, object, tuple], dict]):
        self.__name__, self._call = name, call

    def call(self, args, runner, references) -> dict:
        return self._call(args, runner, references)


def call_answer(function, *args, runner=None, returns: str = "the value the exercise describes"):
    """Call the learner's ``function`` and return its answer as plain data.

    ``runner`` (a module-level function) calls it in the learner's process when a check needs more
    than the return value (gradients, a loop). ``returns`` says what the answer should be, for the
    feedback when it is something else. A stub that still raises ``NotImplementedError``, an answer
    that raises, returns ``None`` or a non-data object, or calls the course's own solution fails.
    """
    name = getattr(function, "__name__", "function")
    current = _CURRENT.get()
    references = current.references if current else ()
    if isinstance(function, RemoteAnswer):
        outcome = function.call(args, runner, references)
    else:
        outcome = run_answer(function, args, runner, references)
    if "failed" in outcome:  # from the grader: the worker hit a limit, or the function is missing
        raise CheckFailed(outcome["failed"])
    if "reference" in outcome:
        short = outcome["reference"].rpartition(":")[2]
        raise CheckFailed(f"your {name} calls the course's own {short}, which is what this exercise asks you to write: write it yourself")
    if "raised" in outcome:
        error_type, message = outcome["raised"]
        if error_type == "NotImplementedError":
            raise AnswerRaised("your function still raises NotImplementedError: replace the stub with your code", error_type, message)
        raise AnswerRaised(f"your {name} raised {error_type}: {message}", error_type, message)
    if "unreadable" in outcome:
        raise CheckFailed(f"your {name} returns {outcome['unreadable']}; it should return {returns}")
    try:
        value = decode(outcome["value"])
    except DataError as error:
        raise CheckFailed(f"your {name} returns {error}; it should return {returns}") from None
    if value is None:
        raise CheckFailed(f"your {name} returns None: did you forget `return`?")
    return value


def answer_tensor(function, *args, runner=None):
    """:func:`call_answer`, with the answer converted to a float64 tensor for exact comparisons."""
    import torch

    value = call_answer(function, *args, runner=runner, returns="a tensor of numbers")
    try:
        return torch.as_tensor(value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise CheckFailed(f"your {getattr(function, '__name__', 'function')} returns {describe(value)}, not numbers; it should return a tensor") from None


def answer_number(function, *args, runner=None) -> float:
    """:func:`call_answer`, with the answer converted to one Python float (a 0-d array counts)."""
    import numpy as np

    value = call_answer(function, *args, runner=runner, returns="a number")
    try:
        return float(np.asarray(value, dtype=np.float64))
    except (TypeError, ValueError):
        raise CheckFailed(f"your {getattr(function, '__name__', 'function')} should return one number") from None


# ---------------------------------------------------------------- judging


def require(condition: bool, feedback: str) -> None:
    """Raise :class:`CheckFailed` with ``feedback`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(feedback)


def close(value, exact, tolerance: float = 1e-10) -> bool:
    """``value`` has ``exact``'s shape and differs by at most ``tolerance · max(1, max |exact|)``.

    The checks compare float64 algebra, so the tolerance is a few orders of magnitude above round-off.
    """
    return value.shape == exact.shape and bool((value - exact).abs().max() <= tolerance * max(1.0, exact.abs().max().item()))


def passed(message: str) -> None:
    """Report a passed check on one line (to the grader's collector, see :func:`collect_passed`)."""
    collector = _PASSED.get()
    if collector is None:
        print(f"passed: {message}")
    else:
        collector.append(message)


@contextlib.contextmanager
def collect_passed():
    """Inside this block :func:`passed` appends its message to the yielded list instead of printing."""
    messages = []
    token = _PASSED.set(messages)
    try:
        yield messages
    finally:
        _PASSED.reset(token)


def reference_mixture():
    """The checks' 2-D, three-component mixture: unequal weights, full covariances, separated means."""
    from mmgp_lesson.toys import GaussianMixture

    return GaussianMixture(
        weights=[0.5, 0.3, 0.2],
        means=[[-2.0, 0.0], [2.0, 1.0], [0.0, -2.5]],
        covariances=[[[1.0, 0.3], [0.3, 0.5]], [[0.4, 0.0], [0.0, 1.2]], [[0.7, -0.2], [-0.2, 0.3]]],
    )


def _one_line(shell, etype, value, tb, tb_offset=None):
    """IPython shows a failed check as its one sentence, not a traceback through this package.

    ``_showtraceback`` is how the shell (a terminal, or ipykernel's error message) displays a
    structured traceback; this one has a single line.
    """
    lines = [f"\x1b[31mCheckFailed\x1b[0m: {value}"]
    shell._showtraceback(etype, value, lines)
    return lines


def _install_notebook_handler() -> None:
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.set_custom_exc((CheckFailed,), _one_line)


_install_notebook_handler()
