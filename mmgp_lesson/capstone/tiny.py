"""Tiny, offline versions of the three capstone models: the real library classes with tiny configs.

Each builder returns the same object type the real checkpoint loads into (``AmusedPipeline``,
``LTXPipeline``, ``SmolVLMForConditionalGeneration``), with a few thousand random weights drawn
from a fixed seed, so every line of pipeline code runs in CI in well under a second and the same
seed always gives the same weights. The configurations are the ``"tiny"`` entries of
:data:`mmgp_lesson.capstone.models.CONFIGS`; the sizes follow the libraries' own fast tests, with two
changes that keep the shapes the lessons talk about: the tiny LTX VAE compresses 32x32 pixels and
8 frames into one latent, like the real one, and the tiny aMUSEd VQ-GAN turns a 64x64 image into
the same 16x16 token grid that amused-256 makes from 256x256. The tokenizers are those of
:mod:`mmgp_lesson.capstone.tokenizers`.
"""

from __future__ import annotations

from pathlib import Path

from diffusers import AmusedPipeline, LTXPipeline

from mmgp_lesson.capstone.models import build_amused, build_ltx, build_smolvlm
from mmgp_lesson.capstone.weights import MODEL_IDS


def tiny_amused(seed: int = 0) -> AmusedPipeline:
    """A tiny ``AmusedPipeline``: U-ViT, VQ-GAN with 4x spatial compression, CLIP text encoder."""
    return build_amused("tiny", seed)


def tiny_ltx(seed: int = 0) -> LTXPipeline:
    """A tiny ``LTXPipeline``: one-layer DiT, a VAE with LTX's 32x32x8 compression, a T5 encoder."""
    return build_ltx("tiny", seed)


def tiny_smolvlm(seed: int = 0):
    """A tiny SmolVLM: ``(model, image_processor, tokenizer)``, 4 image tokens per 32x32 frame."""
    return build_smolvlm("tiny", seed)


def save_tiny_checkpoints(folder: str | Path, seed: int = 0) -> Path:
    """Save the three tiny models with ``save_pretrained`` as ``folder/<model id>/`` (safetensors).

    The layout is the one real mode reads with ``--weights folder``, so the real-mode loading code
    can be run and tested without downloading anything.
    """
    folder = Path(folder)
    tiny_amused(seed).save_pretrained(folder / MODEL_IDS["image"], safe_serialization=True)
    tiny_ltx(seed).save_pretrained(folder / MODEL_IDS["video"], safe_serialization=True)
    understand = folder / MODEL_IDS["understand"]
    for part in tiny_smolvlm(seed):
        part.save_pretrained(understand)
    return folder
