"""The course's one error type for problems a user can fix, reported as one line without a traceback."""


class CourseError(Exception):
    """A problem with the course's files or a command's input: one line naming the problem and the fix."""
