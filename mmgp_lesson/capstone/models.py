"""One seeded builder per capstone model, from one table of its tiny and its published configuration.

:data:`CONFIGS` holds, for each model (``"amused"``, ``"ltx"``, ``"smolvlm"``), a ``"tiny"`` and a
``"published"`` entry: the keyword arguments of each library class the model is made of. The
builders (:func:`build_amused`, :func:`build_ltx`, :func:`build_smolvlm`) turn an entry into the
same object a real checkpoint loads into, with random weights drawn from ``seed`` inside a forked
RNG (the caller's global torch generator is left as it was). Where the numbers come from is
written in :mod:`~mmgp_lesson.capstone.tiny` (the tiny sizes) and :mod:`~mmgp_lesson.capstone.realsize`
(the published sizes, with their sources). Token ids and vocabulary sizes not given in an entry
come from the offline tokenizer the builder makes, so model and tokenizer always agree.
"""

from __future__ import annotations

import logging

import torch
from diffusers import (
    AmusedPipeline,
    AmusedScheduler,
    AutoencoderKLLTXVideo,
    FlowMatchEulerDiscreteScheduler,
    LTXPipeline,
    LTXVideoTransformer3DModel,
    UVit2DModel,
    VQModel,
)
from transformers import (
    CLIPTextConfig,
    CLIPTextModelWithProjection,
    SmolVLMConfig,
    SmolVLMForConditionalGeneration,
    T5Config,
    T5EncoderModel,
)
from transformers.models.smolvlm.image_processing_pil_smolvlm import SmolVLMImageProcessorPil

from mmgp_lesson.reproducible import seeded
from mmgp_lesson.capstone.tokenizers import TINY_TEXT_LENGTH, tiny_clip_tokenizer, tiny_smolvlm_tokenizer, tiny_t5_tokenizer


class _KnownDeprecation(logging.Filter):
    """Drops diffusers' "AmusedPipeline has been deprecated" warning, printed on every construction.

    The course knows: it pins the diffusers version it tests and keeps lesson 05's plain-torch sampler
    as the reference (AmusedPipeline lives in diffusers' ``pipelines/deprecated/``). Any other
    diffusers warning still shows.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("The AmusedPipeline has been deprecated")


logging.getLogger("diffusers.pipelines.pipeline_utils").addFilter(_KnownDeprecation())


TINY_IMAGE_SIZE = 64
"""The side of a tiny aMUSEd image: 64 pixels, 16x16 VQ tokens (the token grid of amused-256)."""

CONFIGS = {
    "amused": {
        "tiny": {
            "text_length": TINY_TEXT_LENGTH,
            "transformer": dict(
                hidden_size=16, use_bias=False, hidden_dropout=0.0, cond_embed_dim=16, micro_cond_encode_dim=2,
                micro_cond_embed_dim=10, encoder_hidden_size=16,
                vocab_size=33,  # codebook_size tokens, a few spare, and the mask token (id 32)
                codebook_size=16, in_channels=16, block_out_channels=16, num_res_blocks=1, downsample=True,
                upsample=True, block_num_heads=1, num_hidden_layers=1, num_attention_heads=2,
                attention_dropout=0.0, intermediate_size=16, layer_norm_eps=1e-6, ln_elementwise_affine=True,
                sample_size=16,
            ),
            "vqvae": dict(
                act_fn="silu", block_out_channels=[8, 8, 8], down_block_types=["DownEncoderBlock2D"] * 3,
                up_block_types=["UpDecoderBlock2D"] * 3, in_channels=3, out_channels=3, latent_channels=8,
                layers_per_block=1, norm_num_groups=8, num_vq_embeddings=16, sample_size=TINY_IMAGE_SIZE,
                mid_block_add_attention=False, lookup_from_codebook=True,
            ),
            "text_encoder": dict(
                hidden_size=16, intermediate_size=16, projection_dim=16, num_hidden_layers=1, num_attention_heads=2,
                max_position_embeddings=TINY_TEXT_LENGTH,
            ),
        },
        "published": {
            "text_length": 77,
            "transformer": dict(
                hidden_size=1024, cond_embed_dim=768, micro_cond_encode_dim=256, micro_cond_embed_dim=1280,
                encoder_hidden_size=768, vocab_size=8256, codebook_size=8192, in_channels=768, block_out_channels=768,
                num_res_blocks=3, downsample=False, upsample=False, block_num_heads=12, num_hidden_layers=22,
                num_attention_heads=16, intermediate_size=2816, sample_size=16,
            ),
            "vqvae": dict(
                act_fn="silu", block_out_channels=[128, 256, 256, 512, 768],
                down_block_types=["DownEncoderBlock2D"] * 5, up_block_types=["UpDecoderBlock2D"] * 5,
                in_channels=3, out_channels=3, latent_channels=64, layers_per_block=2, norm_num_groups=32,
                num_vq_embeddings=8192, sample_size=32, mid_block_add_attention=False, lookup_from_codebook=True,
            ),
            "text_encoder": dict(
                vocab_size=49408, hidden_size=768, intermediate_size=3072, projection_dim=768, num_hidden_layers=12,
                num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu",
            ),
        },
    },
    "ltx": {
        "tiny": {
            "text_length": TINY_TEXT_LENGTH,
            "transformer": dict(
                in_channels=8, out_channels=8, patch_size=1, patch_size_t=1, num_attention_heads=2,
                attention_head_dim=8, cross_attention_dim=16, num_layers=1,
                caption_channels=32,  # == the T5 encoder's d_model: the transformer reads T5's output directly
            ),
            "vae": dict(  # LTX's 32x32x8 compression: patch 4, three spatio-temporal 2x downsamplings
                latent_channels=8, block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8),
                layers_per_block=(1, 1, 1, 1, 1), decoder_layers_per_block=(1, 1, 1, 1, 1),
                spatio_temporal_scaling=(True, True, True, False),
                decoder_spatio_temporal_scaling=(True, True, True, False), patch_size=4, patch_size_t=1,
            ),
            "text_encoder": dict(d_model=32, d_kv=8, d_ff=32, num_layers=1, num_heads=2, relative_attention_num_buckets=8),
        },
        "published": {  # diffusers' defaults are the LTX-Video 0.9 configs
            "text_length": 128,
            "transformer": {},
            "vae": {},
            "text_encoder": dict(
                vocab_size=32128, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
                feed_forward_proj="gated-gelu",
            ),
        },
    },
    "smolvlm": {
        "tiny": {
            "frame_size": 32,
            "scale_factor": 2,
            "vision": dict(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32),
            "text": dict(
                hidden_size=32, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                max_position_embeddings=2048,
            ),
        },
        "published": {
            "frame_size": 512,
            "scale_factor": 4,
            "vision": dict(image_size=512, patch_size=16, hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12),
            "text": dict(
                vocab_size=49280, hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                num_key_value_heads=3, head_dim=64, max_position_embeddings=8192, rope_theta=100000.0,
            ),
        },
    },
}
"""Each model's tiny and published configuration: keyword arguments of the library classes."""


def build_amused(size: str = "tiny", seed: int = 0, overrides: dict[str, dict] | None = None) -> AmusedPipeline:
    """An ``AmusedPipeline`` (U-ViT, VQ-GAN, CLIP text encoder) of ``CONFIGS["amused"][size]``.

    ``overrides`` replaces whole entries of that configuration (as in :func:`build_ltx`).
    """
    config = {**CONFIGS["amused"][size], **(overrides or {})}
    tokenizer = tiny_clip_tokenizer(max_length=config["text_length"])
    mask_token = config["transformer"]["vocab_size"] - 1

    def build() -> AmusedPipeline:
        transformer = UVit2DModel(**config["transformer"])  # drawn first, then the VQ-GAN, then the text encoder
        vqvae = VQModel(**config["vqvae"])
        text_encoder = CLIPTextModelWithProjection(CLIPTextConfig(**{
            "vocab_size": len(tokenizer), "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id, **config["text_encoder"],
        }))
        return AmusedPipeline(
            vqvae=vqvae.eval(),
            tokenizer=tokenizer,
            text_encoder=text_encoder.eval(),
            transformer=transformer.eval(),
            scheduler=AmusedScheduler(mask_token_id=mask_token),
        )

    return seeded(build, seed)


def build_ltx(size: str = "tiny", seed: int = 0, overrides: dict[str, dict] | None = None) -> LTXPipeline:
    """An ``LTXPipeline`` (DiT, video VAE, T5 encoder) of ``CONFIGS["ltx"][size]``.

    ``overrides`` replaces whole entries of that configuration (``"transformer"``, ``"vae"``,
    ``"text_encoder"``): on the CPU the benchmark builds the published models with one block of each
    transformer stack (the full LTX pair is 27 GB in float32) and extrapolates from that block's time.
    """
    config = {**CONFIGS["ltx"][size], **(overrides or {})}
    tokenizer = tiny_t5_tokenizer(max_length=config["text_length"])

    def build() -> LTXPipeline:
        text_config = T5Config(**{
            "vocab_size": len(tokenizer), "pad_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.eos_token_id,
            "decoder_start_token_id": tokenizer.pad_token_id, **config["text_encoder"],
        })
        return LTXPipeline(
            transformer=LTXVideoTransformer3DModel(**config["transformer"]).eval(),
            vae=AutoencoderKLLTXVideo(**config["vae"]).eval(),
            scheduler=FlowMatchEulerDiscreteScheduler(),
            text_encoder=T5EncoderModel(text_config).eval(),
            tokenizer=tokenizer,
        )

    return seeded(build, seed)


def build_smolvlm(size: str = "tiny", seed: int = 0, overrides: dict[str, dict] | None = None):
    """A SmolVLM of ``CONFIGS["smolvlm"][size]``: ``(model, image_processor, tokenizer)``.

    ``overrides`` replaces whole entries of that configuration (as in :func:`build_ltx`).
    """
    config = {**CONFIGS["smolvlm"][size], **(overrides or {})}
    tokenizer = tiny_smolvlm_tokenizer()
    side = {"longest_edge": config["frame_size"]}
    image_processor = SmolVLMImageProcessorPil(do_image_splitting=False, size=side, max_image_size=side)

    def build() -> SmolVLMForConditionalGeneration:
        model_config = SmolVLMConfig(
            image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
            scale_factor=config["scale_factor"],
            vision_config=config["vision"],
            text_config={
                "model_type": "llama", "vocab_size": len(tokenizer), "pad_token_id": tokenizer.pad_token_id,
                "bos_token_id": tokenizer.convert_tokens_to_ids("<|im_start|>"), "eos_token_id": tokenizer.eos_token_id,
                "tie_word_embeddings": False, **config["text"],
            },
            pad_token_id=tokenizer.pad_token_id,
        )
        return SmolVLMForConditionalGeneration(model_config).eval()

    return seeded(build, seed), image_processor, tokenizer
