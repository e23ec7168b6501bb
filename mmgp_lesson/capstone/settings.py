"""Checks of the user's settings that run before any model is imported or built.

This module imports nothing heavy, so ``mmgp-lesson run`` refuses a bad prompt, frame count or
size in a fraction of a second, with one line naming the problem and the fix.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mmgp_lesson.capstone.errors import CapstoneError
from mmgp_lesson.ltx_shape import (
    SPATIAL_COMPRESSION,
    TEMPORAL_COMPRESSION,
    is_valid_frame_count,
    is_valid_side,
    nearest_frame_count,
    nearest_side,
)

MAX_SIDE = 1280
"""The largest video height/width accepted (LTX-Video is trained up to 1216 pixels wide)."""
MAX_FRAMES = 32 * TEMPORAL_COMPRESSION + 1
"""The longest clip accepted: 8 * 32 + 1 = 257 frames, about ten seconds at 24 fps."""
MAX_STEPS = 200
MODES = ("auto", "tiny", "real")
"""``tiny``: tiny random models; ``real``: the published checkpoints; ``auto``: real where all three are found."""
DEVICES = ("cpu", "cuda")
SEED_RANGE = (0, 2**63 - 1)
"""Seeds accepted: what torch's CPU generator takes as a non-negative int64."""


def parse_seed(text: str) -> int:
    """The seed written as ``text``: an integer in :data:`SEED_RANGE`, else a one-line error.

    Shared by ``mmgp-lesson run`` (``--seed``) and the HTTP service (the ``seed`` form field).
    """
    low, high = SEED_RANGE
    try:
        value = int(text)
    except ValueError:
        raise CapstoneError(f"{text!r} is not an integer; pass a whole number in {low}..2^63-1") from None
    if not low <= value <= high:
        raise CapstoneError(f"{text} is outside {low}..2^63-1 (torch's generator seeds); pass a smaller seed")
    return value


EMPTY_PROMPT = "the prompt is empty; pass a prompt with words in it (or a video the model can caption)"


class Prompt(str):
    """Text that :func:`check_prompt` has accepted: it has visible words.

    The rule for prompts: **a prompt is checked once, where it enters the package**. Every public
    entry that takes a prompt (the CLI's ``--prompt``, :class:`~mmgp_lesson.capstone.pipeline.MMGPPipeline`'s
    call, :class:`~mmgp_lesson.capstone.image.ImageStage` and :class:`~mmgp_lesson.capstone.video.VideoStage`
    called on their own, as the lessons do) passes it through :func:`check_prompt`, which checks a plain
    ``str`` and returns a ``Prompt``; a ``Prompt`` handed on to the next component is not checked again.
    So one run checks the user's prompt once (in the CLI, or in the pipeline's call when the pipeline is
    the entry) and a stage used alone still refuses an empty prompt.
    """

    __slots__ = ()


def check_prompt(text: str, problem: str = EMPTY_PROMPT) -> Prompt:
    """``text`` as a :class:`Prompt`; a one-line error (``problem``) if it has no visible text.

    A ``Prompt`` is returned as it is: it was checked where it entered.
    """
    if isinstance(text, Prompt):
        return text
    if not text.strip():
        raise CapstoneError(problem)
    return Prompt(text)


def check_prompts(prompts: list[str]) -> list[Prompt]:
    """:func:`check_prompt` on each of a non-empty list of prompts."""
    if not prompts:
        raise CapstoneError(EMPTY_PROMPT)
    return [check_prompt(prompt) for prompt in prompts]


def check_video_shape(frames: int, height: int, width: int) -> None:
    """Raise a one-line error unless ``frames = 8k + 1`` and height/width are sane multiples of 32.

    The rule is :mod:`mmgp_lesson.ltx_shape`'s: LTX-Video's VAE compresses 32x32 pixels and 8
    frames into one latent and keeps the first frame on its own.
    """
    if not is_valid_frame_count(frames) or frames > MAX_FRAMES:
        nearest = min(MAX_FRAMES, nearest_frame_count(frames))
        raise CapstoneError(
            f"--frames {frames} is not 8k+1 in 1..{MAX_FRAMES} (the LTX VAE packs {TEMPORAL_COMPRESSION} frames "
            f"per latent after the first); use --frames {nearest}"
        )
    for name, value in (("height", height), ("width", width)):
        if not SPATIAL_COMPRESSION <= value <= MAX_SIDE:
            raise CapstoneError(f"--{name} {value} is outside {SPATIAL_COMPRESSION}..{MAX_SIDE} pixels; pick e.g. --{name} 512")
        if not is_valid_side(value):
            raise CapstoneError(
                f"--{name} {value} is not divisible by {SPATIAL_COMPRESSION} (the LTX VAE's spatial compression); "
                f"use --{name} {nearest_side(value)}"
            )


def check_settings(frames: int, height: int | None, width: int | None, image_steps: int, video_steps: int | None) -> None:
    """Check the generation settings of a run (``None`` means the mode's default, always valid)."""
    check_video_shape(frames, height or 512, width or 704)
    for name, steps in (("--image-steps", image_steps), ("--video-steps", video_steps)):
        if steps is not None and not 1 <= steps <= MAX_STEPS:
            raise CapstoneError(f"{name} {steps} is outside 1..{MAX_STEPS}; the defaults are 12 (image) and 50 (video)")


def check_device(device: str | None) -> None:
    """Refuse ``--device cuda`` at once on a Linux machine with no NVIDIA driver loaded (no torch import needed).

    ``None`` (choose automatically) and ``cpu`` always pass; elsewhere the pipeline's build asks torch.
    """
    if device not in (None, *DEVICES):
        raise CapstoneError(f"--device {device} is not cpu or cuda; pick one of them")
    if device == "cuda" and sys.platform.startswith("linux") and not Path("/proc/driver/nvidia/version").exists():
        raise CapstoneError("--device cuda was asked for but no NVIDIA driver is loaded on this machine; use --device cpu")
