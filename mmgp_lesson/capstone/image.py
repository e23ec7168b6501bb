"""The image stage: prompt(s) -> image(s), with diffusers' ``AmusedPipeline`` (masked-token generation).

aMUSEd starts from a grid of all-masked VQ tokens and unmasks the most confident ones over
``steps`` steps (12 by default, following a cosine schedule); the VQ-GAN then decodes the token grid
to pixels. Height and width are always passed: without them diffusers derives the size from the
U-ViT's default config, which gives 1024x1024 instead of the checkpoint's 256x256.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import AmusedPipeline, VQModel
from PIL import Image

from mmgp_lesson.capstone.errors import CapstoneError
from mmgp_lesson.capstone.settings import check_prompts
from mmgp_lesson.capstone.models import TINY_IMAGE_SIZE
from mmgp_lesson.capstone.tiny import tiny_amused


class ImageStage:
    """Generate square images with an ``AmusedPipeline``.

    ``size`` is the image side in pixels (the checkpoint's resolution: 256 for amused-256);
    ``steps`` the number of unmasking steps. ``compile=True`` wraps the U-ViT in ``torch.compile``
    (mode "reduce-overhead" on CUDA, the default mode on CPU): the first call pays the compilation.
    A list of prompts is generated in one batched call.
    """

    def __init__(self, pipe: AmusedPipeline, size: int = 256, steps: int = 12, compile: bool = False):
        self.pipe = pipe
        self.size = size
        self.steps = steps
        self.compile = compile
        multiple = pipe.vae_scale_factor
        if size % multiple or not multiple <= size <= 2048:
            raise CapstoneError(
                f"image size {size} must be a multiple of {multiple} (the VQ-GAN's downsampling) in {multiple}..2048"
            )
        pipe.set_progress_bar_config(disable=True)
        if compile:
            mode = "reduce-overhead" if pipe.transformer.device.type == "cuda" else None
            pipe.transformer = torch.compile(pipe.transformer, mode=mode)

    @torch.inference_mode()
    def __call__(self, prompts: str | list[str], seed: int = 0, on_step=None) -> list[Image.Image]:
        """One image per prompt, drawn with a CPU generator seeded with ``seed``; ``on_step()`` after each step.

        A plain ``str`` prompt is checked here (an empty one is refused); a
        :class:`~mmgp_lesson.capstone.settings.Prompt` was checked where it entered and is not checked again.
        """
        prompts = check_prompts([prompts] if isinstance(prompts, str) else list(prompts))
        return self.pipe(
            prompts,
            height=self.size,
            width=self.size,
            num_inference_steps=self.steps,
            generator=torch.Generator("cpu").manual_seed(seed),
            callback=None if on_step is None else (lambda step, timestep, latents: on_step()),
            callback_steps=1,
        ).images

    @classmethod
    def from_pretrained(
        cls, folder: str | Path, device: str = "cpu", dtype: torch.dtype = torch.float32, **options
    ) -> "ImageStage":
        """Load an aMUSEd checkpoint folder (safetensors only); the VQ-GAN always stays in float32,
        because it produces NaNs in float16."""
        vqvae = VQModel.from_pretrained(folder, subfolder="vqvae", dtype=torch.float32, use_safetensors=True)
        pipe = AmusedPipeline.from_pretrained(folder, vqvae=vqvae, dtype=dtype, use_safetensors=True)
        return cls(pipe.to(device), **options)

    @classmethod
    def tiny(cls, seed: int = 0, **options) -> "ImageStage":
        """The stage around :func:`~mmgp_lesson.capstone.tiny.tiny_amused`, making 64x64 images."""
        return cls(tiny_amused(seed), **{"size": TINY_IMAGE_SIZE, **options})
