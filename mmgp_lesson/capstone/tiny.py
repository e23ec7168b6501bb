"""Tiny, offline versions of the three capstone models: the real library classes with tiny configs.

Each builder returns the same object type the real checkpoint loads into (``AmusedPipeline``,
``LTXPipeline``, ``SmolVLMForConditionalGeneration``), with a few thousand random weights drawn
from a fixed seed, so every line of pipeline code runs in CI in well under a second and the same
seed always gives the same weights. The sizes follow the libraries' own fast tests, with two
changes that keep the shapes the lessons talk about: the tiny LTX VAE compresses 32x32 pixels and
8 frames into one latent, like the real one, and the tiny aMUSEd VQ-GAN turns a 64x64 image into
the same 16x16 token grid that amused-256 makes from 256x256.

The hub tokenizers the libraries' tests download are replaced by tokenizers built here from one
small English word list (:data:`WORDS`), so a tiny caption is made of words the tiny CLIP and T5
tokenizers know:

- CLIP: a byte-pair tokenizer from a written ``vocab.json`` and ``merges.txt`` (``model_max_length``
  set, or it would accept any length and overflow the position table);
- T5: a word-level ``PreTrainedTokenizerFast`` that appends ``</s>`` like T5's; the encoder's
  ``d_model`` equals the LTX transformer's ``caption_channels``;
- SmolVLM: a word-level tokenizer holding SmolVLM's special tokens (``<image>``,
  ``<fake_token_around_image>``, ``<global-img>``, ``<end_of_utterance>``, ``<|im_start|>``).
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

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
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import (
    CLIPTextConfig,
    CLIPTextModelWithProjection,
    CLIPTokenizer,
    PreTrainedTokenizerFast,
    SmolVLMConfig,
    SmolVLMForConditionalGeneration,
    T5Config,
    T5EncoderModel,
)
from transformers.models.smolvlm.image_processing_pil_smolvlm import SmolVLMImageProcessorPil


class _KnownDeprecation(logging.Filter):
    """Drops diffusers' "AmusedPipeline has been deprecated" warning, printed on every construction.

    The course knows: it pins the diffusers version it tests and keeps lesson 05's plain-torch sampler
    as the reference (AmusedPipeline lives in diffusers' ``pipelines/deprecated/``). Any other
    diffusers warning still shows.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("The AmusedPipeline has been deprecated")


logging.getLogger("diffusers.pipelines.pipeline_utils").addFilter(_KnownDeprecation())

WORDS = tuple(
    """a an the of and in on at with to from into over under near by is are it its this that
    video frame frames scene shows showing image picture clip moving moves across left right up down
    red orange yellow green blue purple pink white black grey brown dark bright light
    sky sun moon cloud clouds star rain snow water sea river lake beach sand grass tree trees forest
    flower field mountain hill road street city house building window door room wall floor table
    car bus train boat plane bike ball disc circle square line shape shapes
    dog cat bird fish horse person man woman child people hand face
    small big large tall round slow fast quiet happy old new
    walking running flying falling rolling sitting standing jumping swimming playing
    day night morning evening sunset background foreground middle center top bottom side
    you are provided following series from h mm ss user assistant describe what happens sentence
    0 1 2 3 4 5 6 7 8 9 one two three four five six seven eight nine ten""".split()
)
"""The vocabulary every tiny tokenizer shares; ``.`` ``,`` ``:`` ``[`` ``]`` are added as symbols."""

SYMBOLS = (".", ",", ":", "[", "]", "!", "?", "-")
SMOLVLM_SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<unk>",
    "<|im_start|>",
    "<end_of_utterance>",
    "<fake_token_around_image>",
    "<global-img>",
    "<image>",
)
TINY_IMAGE_SIZE = 64
"""The side of a tiny aMUSEd image: 64 pixels, 16x16 VQ tokens (the token grid of amused-256)."""
TINY_TEXT_LENGTH = 32
"""The most tokens the tiny CLIP and T5 encoders read."""


def _word_level(vocab: dict[str, int], unk: str, append: str | None = None) -> Tokenizer:
    """A tokenizers ``Tokenizer`` mapping whole lower-case words (and punctuation) to ids."""
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token=unk))
    tokenizer.normalizer = None
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    if append is not None:
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"$A {append}", special_tokens=[(append, vocab[append])]
        )
    return tokenizer


def tiny_clip_tokenizer(max_length: int = TINY_TEXT_LENGTH) -> CLIPTokenizer:
    """A CLIP byte-pair tokenizer whose merges rebuild every word of :data:`WORDS`.

    Its vocabulary holds single characters, their word-final forms (``a</w>``) and every prefix of
    every word; ``merges.txt`` joins each word left to right. Merges of different words compete, so
    a known word becomes one or a few tokens, and an unknown word falls apart into characters
    instead of failing.
    """
    tokens = ["<|startoftext|>", "<|endoftext|>"]
    merges = []
    for char in "abcdefghijklmnopqrstuvwxyz0123456789" + "".join(SYMBOLS):
        tokens += [char, char + "</w>"]
    for word in WORDS:
        for end in range(2, len(word) + 1):
            left, right = word[: end - 1], word[end - 1]
            suffix = "</w>" if end == len(word) else ""
            merges.append(f"{left} {right}{suffix}")
            tokens.append(word[:end] + suffix)
    vocab = {token: index for index, token in enumerate(dict.fromkeys(tokens))}
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "vocab.json").write_text(json.dumps(vocab))
        (Path(folder) / "merges.txt").write_text("#version: 0.2\n" + "\n".join(dict.fromkeys(merges)) + "\n")
        return CLIPTokenizer(
            str(Path(folder) / "vocab.json"), str(Path(folder) / "merges.txt"), model_max_length=max_length
        )


def tiny_t5_tokenizer(max_length: int = TINY_TEXT_LENGTH) -> PreTrainedTokenizerFast:
    """A word-level tokenizer with T5's special tokens that ends every text with ``</s>``."""
    vocab = {token: index for index, token in enumerate(("<pad>", "</s>", "<unk>") + WORDS + SYMBOLS)}
    return PreTrainedTokenizerFast(
        tokenizer_object=_word_level(vocab, unk="<unk>", append="</s>"),
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        model_max_length=max_length,
    )


def tiny_smolvlm_tokenizer() -> PreTrainedTokenizerFast:
    """A word-level tokenizer holding SmolVLM's special image and chat tokens as single tokens."""
    capitalised = ("User", "Assistant", "You", "Frame", "H", "MM", "SS", "Describe")
    clock = tuple(f"{number:02d}" for number in range(60))  # the MM and SS of "Frame from 00:01:"
    vocab = {
        token: index
        for index, token in enumerate(dict.fromkeys(SMOLVLM_SPECIAL_TOKENS + WORDS + capitalised + clock + SYMBOLS))
    }
    return PreTrainedTokenizerFast(
        tokenizer_object=_word_level(vocab, unk="<unk>"),
        pad_token="<|endoftext|>",
        unk_token="<unk>",
        eos_token="<end_of_utterance>",
        extra_special_tokens=list(SMOLVLM_SPECIAL_TOKENS[2:]),
    )


def _seeded(seed: int, build):
    """Call ``build()`` with torch's global generator seeded, leaving the caller's RNG state untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def tiny_amused(seed: int = 0) -> AmusedPipeline:
    """A tiny ``AmusedPipeline``: U-ViT, VQ-GAN with 4x spatial compression, CLIP text encoder."""
    tokenizer = tiny_clip_tokenizer()

    def build() -> AmusedPipeline:
        transformer = UVit2DModel(
            hidden_size=16,
            use_bias=False,
            hidden_dropout=0.0,
            cond_embed_dim=16,
            micro_cond_encode_dim=2,
            micro_cond_embed_dim=10,
            encoder_hidden_size=16,
            vocab_size=33,  # codebook_size tokens, a few spare, and the mask token (id 32)
            codebook_size=16,
            in_channels=16,
            block_out_channels=16,
            num_res_blocks=1,
            downsample=True,
            upsample=True,
            block_num_heads=1,
            num_hidden_layers=1,
            num_attention_heads=2,
            attention_dropout=0.0,
            intermediate_size=16,
            layer_norm_eps=1e-6,
            ln_elementwise_affine=True,
            sample_size=16,
        )
        vqvae = VQModel(
            act_fn="silu",
            block_out_channels=[8, 8, 8],
            down_block_types=["DownEncoderBlock2D"] * 3,
            up_block_types=["UpDecoderBlock2D"] * 3,
            in_channels=3,
            out_channels=3,
            latent_channels=8,
            layers_per_block=1,
            norm_num_groups=8,
            num_vq_embeddings=16,
            sample_size=TINY_IMAGE_SIZE,
            mid_block_add_attention=False,
            lookup_from_codebook=True,
        )
        text_encoder = CLIPTextModelWithProjection(
            CLIPTextConfig(
                vocab_size=len(tokenizer),
                hidden_size=16,
                intermediate_size=16,
                projection_dim=16,
                num_hidden_layers=1,
                num_attention_heads=2,
                max_position_embeddings=TINY_TEXT_LENGTH,
                bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id,
            )
        )
        return AmusedPipeline(
            vqvae=vqvae,
            tokenizer=tokenizer,
            text_encoder=text_encoder.eval(),
            transformer=transformer.eval(),
            scheduler=AmusedScheduler(mask_token_id=32),
        )

    return _seeded(seed, build)


def tiny_ltx(seed: int = 0) -> LTXPipeline:
    """A tiny ``LTXPipeline``: one-layer DiT, a VAE with LTX's 32x32x8 compression, a T5 encoder."""
    tokenizer = tiny_t5_tokenizer()

    def build() -> LTXPipeline:
        text_width = 32  # T5 d_model == LTX caption_channels: the transformer reads T5's output directly
        transformer = LTXVideoTransformer3DModel(
            in_channels=8,
            out_channels=8,
            patch_size=1,
            patch_size_t=1,
            num_attention_heads=2,
            attention_head_dim=8,
            cross_attention_dim=16,
            num_layers=1,
            caption_channels=text_width,
        )
        vae = AutoencoderKLLTXVideo(
            latent_channels=8,
            block_out_channels=(8, 8, 8, 8),
            decoder_block_out_channels=(8, 8, 8, 8),
            layers_per_block=(1, 1, 1, 1, 1),
            decoder_layers_per_block=(1, 1, 1, 1, 1),
            spatio_temporal_scaling=(True, True, True, False),
            decoder_spatio_temporal_scaling=(True, True, True, False),
            patch_size=4,
            patch_size_t=1,
        )
        text_encoder = T5EncoderModel(
            T5Config(
                vocab_size=len(tokenizer),
                d_model=text_width,
                d_kv=8,
                d_ff=32,
                num_layers=1,
                num_heads=2,
                relative_attention_num_buckets=8,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
                decoder_start_token_id=tokenizer.pad_token_id,
            )
        )
        return LTXPipeline(
            transformer=transformer.eval(),
            vae=vae.eval(),
            scheduler=FlowMatchEulerDiscreteScheduler(),
            text_encoder=text_encoder.eval(),
            tokenizer=tokenizer,
        )

    return _seeded(seed, build)


def tiny_smolvlm(seed: int = 0):
    """A tiny SmolVLM: ``(model, image_processor, tokenizer)``, 4 image tokens per 32x32 frame."""
    tokenizer = tiny_smolvlm_tokenizer()
    image_processor = SmolVLMImageProcessorPil(
        do_image_splitting=False, size={"longest_edge": 32}, max_image_size={"longest_edge": 32}
    )

    def build() -> SmolVLMForConditionalGeneration:
        config = SmolVLMConfig(
            image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
            scale_factor=2,
            vision_config={
                "image_size": 32,
                "patch_size": 8,
                "hidden_size": 32,
                "num_hidden_layers": 1,
                "num_attention_heads": 2,
                "intermediate_size": 32,
            },
            text_config={
                "model_type": "llama",
                "vocab_size": len(tokenizer),
                "hidden_size": 32,
                "intermediate_size": 32,
                "num_hidden_layers": 2,
                "num_attention_heads": 2,
                "num_key_value_heads": 2,
                "max_position_embeddings": 2048,
                "pad_token_id": tokenizer.pad_token_id,
                "bos_token_id": tokenizer.convert_tokens_to_ids("<|im_start|>"),
                "eos_token_id": tokenizer.eos_token_id,
                "tie_word_embeddings": False,
            },
            pad_token_id=tokenizer.pad_token_id,
        )
        return SmolVLMForConditionalGeneration(config).eval()

    return _seeded(seed, build), image_processor, tokenizer


def save_tiny_checkpoints(folder: str | Path, seed: int = 0) -> Path:
    """Save the three tiny models with ``save_pretrained`` as ``folder/<model id>/`` (safetensors).

    The layout is the one real mode reads with ``--weights folder``, so the real-mode loading code
    can be run and tested without downloading anything.
    """
    from mmgp_lesson.capstone.weights import MODEL_IDS

    folder = Path(folder)
    tiny_amused(seed).save_pretrained(folder / MODEL_IDS["image"], safe_serialization=True)
    tiny_ltx(seed).save_pretrained(folder / MODEL_IDS["video"], safe_serialization=True)
    understand = folder / MODEL_IDS["understand"]
    for part in tiny_smolvlm(seed):
        part.save_pretrained(understand)
    return folder
