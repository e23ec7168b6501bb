"""A job's options from the form fields of ``POST /v1/jobs``, checked with the CLI's own rules and words.

Every field arrives as text. The seed goes through
:func:`~mmgp_lesson.capstone.settings.parse_seed` and the frame and step counts through
:func:`~mmgp_lesson.capstone.settings.check_settings`, the checks of ``mmgp-lesson run``, so a bad
value gets the same one line over HTTP as on the command line.
"""

from __future__ import annotations

from mmgp_lesson.capstone.errors import CapstoneError
from mmgp_lesson.capstone.settings import check_settings, parse_seed
from mmgp_lesson.serve.ab import variant
from mmgp_lesson.serve.config import MAX_CANDIDATES, ServeSettings

IMAGE_STEPS = 12
"""aMUSEd's default number of unmasking steps, as ``mmgp-lesson run --image-steps``."""


def _integer(name: str, text: str | None) -> int | None:
    """``text`` as an int (``None`` when the field was left out), in argparse's words when it is not one."""
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise CapstoneError(f"argument --{name.replace('_', '-')}: invalid int value: {text!r}") from None


def job_options(fields: dict[str, str | None], job_id: str, settings: ServeSettings, default_frames: int) -> dict:
    """The stored options of job ``job_id``: seed, frames, image_steps, video_steps, candidates, variant.

    A field left out takes the CLI's default (``frames``: ``default_frames``; ``video_steps``: the
    mode's, stored as ``None``). The A/B variant is decided from the id (:func:`~mmgp_lesson.serve.ab.variant`);
    a "B" job draws its image in ``settings.ab_image_steps`` steps whatever it asked for.
    """
    seed = parse_seed(fields["seed"]) if fields.get("seed") not in (None, "") else 0
    frames = _integer("frames", fields.get("frames"))
    frames = default_frames if frames is None else frames
    image_steps = _integer("image_steps", fields.get("image_steps"))
    video_steps = _integer("video_steps", fields.get("video_steps"))
    candidates = _integer("candidates", fields.get("candidates"))
    check_settings(frames, None, None, IMAGE_STEPS if image_steps is None else image_steps, video_steps)
    if candidates is not None and not 1 <= candidates <= MAX_CANDIDATES:
        raise CapstoneError(f"--candidates {candidates} is outside 1..{MAX_CANDIDATES}; draw fewer candidates per job")
    arm = variant(job_id, settings.ab_fraction)
    return {
        "seed": seed,
        "frames": frames,
        "image_steps": settings.ab_image_steps if arm == "B" else (IMAGE_STEPS if image_steps is None else image_steps),
        "video_steps": video_steps,
        "candidates": candidates or 1,
        "variant": arm,
    }
