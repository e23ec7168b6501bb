"""Check functions the exercise notebooks call, one module per lesson.

A check measures the learner's answer against the exact one. It raises :class:`CheckFailed` with
one sentence that says what is wrong and where to look, or prints one line starting with
``passed:``. The grader (``mmgp-lesson check``) reads those outcomes from the check cells.
"""

from __future__ import annotations


class CheckFailed(AssertionError):
    """An answer that does not pass; its message is the one-sentence feedback."""


def call_answer(function, *args):
    """Call the learner's ``function``; a stub that still raises ``NotImplementedError`` fails the check."""
    try:
        return function(*args)
    except NotImplementedError:
        raise CheckFailed("your function still raises NotImplementedError: replace the stub with your code") from None


def answer_tensor(function, *args):
    """:func:`call_answer`, with the answer converted to a float64 tensor for exact comparisons."""
    import torch

    return torch.as_tensor(call_answer(function, *args), dtype=torch.float64)


def require(condition: bool, feedback: str) -> None:
    """Raise :class:`CheckFailed` with ``feedback`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(feedback)


def passed(message: str) -> None:
    """Report a passed check on one line."""
    print(f"passed: {message}")
