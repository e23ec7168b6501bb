"""Grading handed-in exercise notebooks: untrusted code in a sandbox, verdicts in the grader.

- :mod:`~mmgp_lesson.grading.grader` — one hand-in: its cells in a worker, the course's checks here.
- :mod:`~mmgp_lesson.grading.worker` — the fork server that runs inside the sandbox.
- :mod:`~mmgp_lesson.grading.client` — the grader's handle on a worker, with its own deadlines.
- :mod:`~mmgp_lesson.grading.sandbox` — the bubblewrap command line, and the threat model.
- :mod:`~mmgp_lesson.grading.gradebook` — a class's hand-ins in parallel, into CSV and JSON.
"""

from mmgp_lesson.grading.grader import ANSWER_TAG, CHECK_TAG, HandIn, Limits, Row, format_rows, grade, read_notebook

__all__ = ["ANSWER_TAG", "CHECK_TAG", "HandIn", "Limits", "Row", "format_rows", "grade", "read_notebook"]
