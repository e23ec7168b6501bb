"""mmgp_lesson: the helper package of the mmgp-lesson course.

One module per idea; the lessons import them instead of re-implementing them.

- :mod:`~mmgp_lesson.toys` — distributions with exact densities, scores and samplers (lesson 00 on).
- :mod:`~mmgp_lesson.latent` — the linear-Gaussian latent model: exact evidence, ELBO, IWAE (lesson 01).
- :mod:`~mmgp_lesson.paths` — Gaussian probability paths, exact marginal velocity and score (lesson 02).
- :mod:`~mmgp_lesson.nets` — small MLPs and their training loops (lessons 01, 02, 06).
- :mod:`~mmgp_lesson.sde` — forward/reverse SDEs, the PF-ODE and batched integrators (lessons 03, 04).
- :mod:`~mmgp_lesson.stats` — two-sample statistics with their sampling error (lessons 03, 05).
- :mod:`~mmgp_lesson.masked_tokens` — VQ tokens, masking schedule, confidence-ordered unmasking (lesson 05).
- :mod:`~mmgp_lesson.latent_flow` — rectified flow in a latent (lesson 06).
- :mod:`~mmgp_lesson.ltx_shape` — LTX-Video's shape rule: 8k + 1 frames, sides multiples of 32, frames for a duration.
- :mod:`~mmgp_lesson.families` — six model families behind one ``GenerativeModel`` protocol (lesson 09).
- :mod:`~mmgp_lesson.sample_quality` — precision/recall of samples, Fréchet distance, mode coverage (lesson 09).
- :mod:`~mmgp_lesson.scaling` — best-of-N, Beta power laws, the compute-optimal K (lesson 10).
- :mod:`~mmgp_lesson.refinement` — best-of-N against refinement on the masked-token model (lesson 10).
- :mod:`~mmgp_lesson.capstone` — SmolVLM2 → aMUSEd → LTX-Video, tiny and real modes, the lesson 08 app (lessons 07, 08, CLI).
- :mod:`~mmgp_lesson.errors` — ``CourseError``, the one-line error of bad input.
- :mod:`~mmgp_lesson.plots` — small shared matplotlib helpers.
- :mod:`~mmgp_lesson.notebooks`, :mod:`~mmgp_lesson.grading`, :mod:`~mmgp_lesson.checks` — paired
  notebooks, exercises generated from solutions, and the grader with its per-lesson checks.
"""

__version__ = "0.1.0"
