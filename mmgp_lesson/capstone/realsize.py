"""The three models at their published architecture sizes, with random weights: real cost, no download.

Each builder returns the same library object a real checkpoint loads into, so timing it measures
what the real model costs (the weights' values do not change the arithmetic), and counting its
parameters gives the real parameter count. The tokenizers are the offline ones of
:mod:`~mmgp_lesson.capstone.tiny`; only the token ids they produce reach the models.

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

from mmgp_lesson.capstone.tiny import tiny_clip_tokenizer, tiny_smolvlm_tokenizer, tiny_t5_tokenizer


def parameter_count(module: torch.nn.Module) -> int:
    """The number of weights in ``module``."""
    return sum(parameter.numel() for parameter in module.parameters())


def real_size_amused(seed: int = 0) -> AmusedPipeline:
    """aMUSEd-256 at full size (U-ViT, VQ-GAN, CLIP-L text encoder) with random weights, float32 on CPU."""
    torch.manual_seed(seed)
    transformer = UVit2DModel(
        hidden_size=1024,
        cond_embed_dim=768,
        micro_cond_encode_dim=256,
        micro_cond_embed_dim=1280,
        encoder_hidden_size=768,
        vocab_size=8256,
        codebook_size=8192,
        in_channels=768,
        block_out_channels=768,
        num_res_blocks=3,
        downsample=False,
        upsample=False,
        block_num_heads=12,
        num_hidden_layers=22,
        num_attention_heads=16,
        intermediate_size=2816,
        sample_size=16,
    )
    vqvae = VQModel(
        act_fn="silu",
        block_out_channels=[128, 256, 256, 512, 768],
        down_block_types=["DownEncoderBlock2D"] * 5,
        up_block_types=["UpDecoderBlock2D"] * 5,
        in_channels=3,
        out_channels=3,
        latent_channels=64,
        layers_per_block=2,
        norm_num_groups=32,
        num_vq_embeddings=8192,
        sample_size=32,
        mid_block_add_attention=False,
        lookup_from_codebook=True,
    )
    text_encoder = CLIPTextModelWithProjection(
        CLIPTextConfig(
            vocab_size=49408,
            hidden_size=768,
            intermediate_size=3072,
            projection_dim=768,
            num_hidden_layers=12,
            num_attention_heads=12,
            max_position_embeddings=77,
            hidden_act="quick_gelu",
        )
    )
    return AmusedPipeline(
        vqvae=vqvae.eval(),
        tokenizer=tiny_clip_tokenizer(max_length=77),
        text_encoder=text_encoder.eval(),
        transformer=transformer.eval(),
        scheduler=AmusedScheduler(mask_token_id=8255),
    )


def real_size_smolvlm(seed: int = 0):
    """SmolVLM2-256M at full size with random weights: ``(model, image_processor, tokenizer)``."""
    torch.manual_seed(seed)
    tokenizer = tiny_smolvlm_tokenizer()
    config = SmolVLMConfig(
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        scale_factor=4,
        vision_config={
            "image_size": 512,
            "patch_size": 16,
            "hidden_size": 768,
            "intermediate_size": 3072,
            "num_hidden_layers": 12,
            "num_attention_heads": 12,
        },
        text_config={
            "model_type": "llama",
            "vocab_size": 49280,
            "hidden_size": 576,
            "intermediate_size": 1536,
            "num_hidden_layers": 30,
            "num_attention_heads": 9,
            "num_key_value_heads": 3,
            "head_dim": 64,
            "max_position_embeddings": 8192,
            "rope_theta": 100000.0,
            "pad_token_id": tokenizer.pad_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "tie_word_embeddings": False,
        },
        pad_token_id=tokenizer.pad_token_id,
    )
    image_processor = SmolVLMImageProcessorPil(
        do_image_splitting=False, size={"longest_edge": 512}, max_image_size={"longest_edge": 512}
    )
    return SmolVLMForConditionalGeneration(config).eval(), image_processor, tokenizer


def real_size_ltx(seed: int = 0) -> LTXPipeline:
    """LTX-Video at full size (2B DiT, VAE, T5-XXL encoder) with random weights (about 27 GB in float32)."""
    torch.manual_seed(seed)
    text_encoder = T5EncoderModel(
        T5Config(
            vocab_size=32128,
            d_model=4096,
            d_kv=64,
            d_ff=10240,
            num_layers=24,
            num_heads=64,
            feed_forward_proj="gated-gelu",
        )
    )
    return LTXPipeline(
        transformer=LTXVideoTransformer3DModel().eval(),
        vae=AutoencoderKLLTXVideo().eval(),
        scheduler=FlowMatchEulerDiscreteScheduler(),
        text_encoder=text_encoder.eval(),
        tokenizer=tiny_t5_tokenizer(max_length=128),
    )
