"""The one error type of the capstone: a problem with the user's input, stated with its fix."""

from __future__ import annotations

from mmgp_lesson.errors import CourseError


class CapstoneError(CourseError):
    """Bad input to the capstone pipeline (a file, a setting, a missing checkpoint).

    The message is one line that names the problem and says how to fix it; the CLI prints it
    without a traceback and exits with status 2.
    """
