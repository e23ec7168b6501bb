"""The three models at their published architecture sizes, with random weights: real cost, no download.

Each builder returns the same library object a real checkpoint loads into, so timing it measures
what the real model costs (the weights' values do not change the arithmetic), and counting its
parameters gives the real parameter count. The configurations are the ``"published"`` entries of
:data:`mmgp_lesson.capstone.models.CONFIGS`; the tokenizers are the offline ones of
:mod:`~mmgp_lesson.capstone.tokenizers` (only the token ids they produce reach the models). Build
them under ``torch.device("meta")`` to count parameters without allocating anything.

Where the sizes come from:

- aMUSEd-256 U-ViT: the aMUSEd training config (hidden 1024, 22 layers, 16 heads, GLU width 2816,
  codebook 8192, 256 tokens, 3 res blocks of 768 channels, no down/up-sampling at 256) as printed
  in open-muse's benchmark script, which is also what diffusers' ``UVit2DModel`` defaults encode;
  ``sample_size=16`` for 256x256 from diffusers ``scripts/convert_amused.py``.
- aMUSEd VQ-GAN: ``make_vqvae`` in diffusers ``scripts/convert_amused.py`` (channels
  128-256-256-512-768, 64 latent channels, 8192 codes, 16x downsampling).
- aMUSEd text encoder: CLIP ViT-L/14's text tower (768 wide, 12 layers, 12 heads, 77 tokens),
  as the aMUSEd model card states.
- SmolVLM2-256M: SigLIP-B/16 at 512 pixels (768 wide, 12 layers) and SmolLM2-135M (576 wide,
  30 layers, 9 heads, 3 KV heads, vocabulary 49280), pixel-shuffle factor 4: the ``config.json``
  of SmolVLM-256M-Instruct, the checkpoint SmolVLM2-256M was trained from.
- LTX-Video: diffusers' ``LTXVideoTransformer3DModel`` and ``AutoencoderKLLTXVideo`` defaults (the
  LTX-Video 0.9 configs), and the T5 v1.1 XXL encoder (4096 wide, 24 layers, 64 heads).
"""

from __future__ import annotations

import torch
from diffusers import AmusedPipeline, LTXPipeline

from mmgp_lesson.capstone.models import build_amused, build_ltx, build_smolvlm


def parameter_count(module: torch.nn.Module) -> int:
    """The number of weights in ``module`` (works on the meta device: only shapes are read)."""
    return sum(parameter.numel() for parameter in module.parameters())


def real_size_amused(seed: int = 0) -> AmusedPipeline:
    """aMUSEd-256 at full size (U-ViT, VQ-GAN, CLIP-L text encoder) with random weights, float32 on CPU."""
    return build_amused("published", seed)


def real_size_smolvlm(seed: int = 0):
    """SmolVLM2-256M at full size with random weights: ``(model, image_processor, tokenizer)``."""
    return build_smolvlm("published", seed)


def real_size_ltx(seed: int = 0) -> LTXPipeline:
    """LTX-Video at full size (2B DiT, VAE, T5-XXL encoder) with random weights (about 27 GB in float32)."""
    return build_ltx("published", seed)
