"""The course's one error type for bad input, in a module that imports nothing.

Kept apart from :mod:`mmgp_lesson.notebooks` (which loads jupytext and nbformat, seconds of
imports) so that the command line and the capstone's input checks can raise and catch it fast.
"""


class CourseError(Exception):
    """A problem with the course's own files or a user's input, reported as one line naming the problem and the fix."""


class UsageError(CourseError):
    """A command line that asks for something refused as a whole (e.g. ``serve --host 0.0.0.0`` without
    an API key): one line like any :class:`CourseError`, but exit status 64 (EX_USAGE), as a usage error."""

    status = 64
