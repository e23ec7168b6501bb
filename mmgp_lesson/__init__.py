"""mmgp_lesson: the helper package of the mmgp-lesson course.

One module per idea (see ``COURSE.md`` in the project's shared notes):

- :mod:`mmgp_lesson.toys` — distributions with exact densities, scores and samplers.
- :mod:`mmgp_lesson.notebooks` — paired MyST/ipynb notebooks and exercise generation.
- :mod:`mmgp_lesson.grading` — running the course's checks on a handed-in notebook.
- :mod:`mmgp_lesson.checks` — one module of check functions per lesson.
"""

__version__ = "0.1.0"
