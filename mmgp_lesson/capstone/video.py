"""The video stage: prompt -> video frames, with diffusers' ``LTXPipeline`` (rectified-flow DiT).

LTX-Video's VAE compresses 32x32 pixels and 8 frames into one latent, and keeps the first frame
on its own: a clip must have ``8k + 1`` frames and sides that are multiples of 32.
:func:`~mmgp_lesson.capstone.settings.check_video_shape` (the rule of :mod:`mmgp_lesson.ltx_shape`)
says so before anything is computed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from diffusers import LTXPipeline

from mmgp_lesson.capstone.media import as_uint8
from mmgp_lesson.capstone.settings import Prompt, check_prompt, check_video_shape
from mmgp_lesson.capstone.tiny import tiny_ltx
from mmgp_lesson.capstone.tokenizers import TINY_TEXT_LENGTH


class VideoStage:
    """Generate a clip with an ``LTXPipeline``: ``frames`` frames of ``height`` x ``width`` at ``fps``.

    ``steps`` is the number of Euler steps of the flow sampler; ``max_sequence_length`` bounds the
    prompt's T5 tokens. Frames come back as uint8 (frames, height, width, 3).
    """

    def __init__(
        self,
        pipe: LTXPipeline,
        frames: int = 49,
        height: int = 512,
        width: int = 704,
        steps: int = 50,
        fps: int = 24,
        max_sequence_length: int = 128,
    ):
        check_video_shape(frames, height, width)
        self.pipe = pipe
        self.frames = frames
        self.height = height
        self.width = width
        self.steps = steps
        self.fps = fps
        self.max_sequence_length = max_sequence_length
        pipe.set_progress_bar_config(disable=True)

    @torch.inference_mode()
    def __call__(self, prompt: str | Prompt, seed: int = 0, on_step=None) -> np.ndarray:
        """The frames of one clip for ``prompt``, drawn with a CPU generator seeded with ``seed``; ``on_step()`` after each step.

        A plain ``str`` prompt is checked here (an empty one is refused); a :class:`Prompt` was checked
        where it entered and is not checked again.
        """
        prompt = check_prompt(prompt)

        def step_ended(pipe, index, timestep, tensors):
            on_step()
            return tensors

        frames = self.pipe(
            prompt=prompt,
            num_frames=self.frames,
            height=self.height,
            width=self.width,
            num_inference_steps=self.steps,
            frame_rate=self.fps,
            max_sequence_length=self.max_sequence_length,
            generator=torch.Generator("cpu").manual_seed(seed),
            output_type="np",
            callback_on_step_end=None if on_step is None else step_ended,
        ).frames
        return as_uint8(frames[0])

    @classmethod
    def from_pretrained(
        cls, folder: str | Path, device: str = "cpu", dtype: torch.dtype = torch.float32, **options
    ) -> "VideoStage":
        """Load an LTX-Video checkpoint folder in diffusers layout (safetensors only)."""
        pipe = LTXPipeline.from_pretrained(folder, dtype=dtype, use_safetensors=True)
        return cls(pipe.to(device), **options)

    @classmethod
    def tiny(cls, seed: int = 0, **options) -> "VideoStage":
        """The stage around :func:`~mmgp_lesson.capstone.tiny.tiny_ltx`: 64x64 clips, 4 steps by default."""
        defaults = {"height": 64, "width": 64, "steps": 4, "max_sequence_length": TINY_TEXT_LENGTH}
        return cls(tiny_ltx(seed), **{**defaults, **options})
