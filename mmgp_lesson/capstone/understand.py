"""The understand stage: sampled video frames -> a caption, with transformers' SmolVLM.

SmolVLM2 sees a video as a handful of frames, each shown as one image with its timestamp in the
prompt. ``transformers`` builds that prompt in ``SmolVLMProcessor``, but its video path needs
torchvision; this module rebuilds the same prompt (see :func:`video_prompt`) and feeds the frames
through the PIL image processor (``SmolVLMImageProcessorPil``) instead, without image splitting,
which is what the official video processor does. For a given set of frames the two give the same
``input_ids``; ``tests/capstone/test_understand.py`` checks that where torchvision is installed.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import torch
from transformers import AutoTokenizer, SmolVLMForConditionalGeneration
from transformers.models.smolvlm.image_processing_pil_smolvlm import SmolVLMImageProcessorPil

from mmgp_lesson.capstone.errors import CapstoneError
from mmgp_lesson.capstone.media import SMOLVLM2_SAMPLING, TINY_SAMPLING, FrameSampling, Video
from mmgp_lesson.capstone.tiny import tiny_smolvlm

QUESTION = "Describe this video in one sentence."
"""What the understand stage asks the model about every clip."""

_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def number_in_words(number: int) -> str:
    """``number`` (0..999) in English words, as num2words writes it: 8 -> "eight", 64 -> "sixty-four"."""
    if not 0 <= number <= 999:
        raise CapstoneError(f"{number} frames is outside 0..999; sample fewer frames")
    if number < 20:
        return _ONES[number]
    if number < 100:
        tens, ones = divmod(number, 10)
        return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")
    hundreds, rest = divmod(number, 100)
    return f"{_ONES[hundreds]} hundred" + (f" and {number_in_words(rest)}" if rest else "")


def frame_placeholder(image_seq_len: int) -> str:
    """The tokens that stand for one frame: a global-image marker and ``image_seq_len`` ``<image>``."""
    return "<fake_token_around_image><global-img>" + "<image>" * image_seq_len + "<fake_token_around_image>"


def video_prompt(timestamps: list[float], duration: float, image_seq_len: int, question: str = QUESTION) -> str:
    """The chat prompt SmolVLM2 was trained on for a video, with generation prompt appended.

    It is the text ``SmolVLMProcessor.apply_chat_template`` followed by the processor's
    ``<video>`` expansion produce: an intro naming the frame count in words and the clip length
    as H:MM:SS, then ``Frame from MM:SS:`` and the frame's image tokens for each frame.
    """
    intro = (
        f"You are provided the following series of {number_in_words(len(timestamps))} frames "
        f"from a {timedelta(seconds=int(duration))} [H:MM:SS] video.\n"
    )
    frames = "".join(
        f"\nFrame from {int(second // 60):02d}:{int(second % 60):02d}:" + frame_placeholder(image_seq_len)
        for second in timestamps
    )
    return f"<|im_start|>User: {intro}{frames}\n\n{question}<end_of_utterance>\nAssistant:"


class UnderstandStage:
    """Caption a video with a SmolVLM model, its PIL image processor and its tokenizer.

    ``sampling`` is the :class:`~mmgp_lesson.capstone.media.FrameSampling` rule by which the pipeline
    picks the frames the model sees (SmolVLM2's processor's: 1 frame per second, at most 64, edges
    skipped on long clips); ``max_new_tokens`` bounds the caption; ``static_cache=True`` asks
    ``generate`` for a static KV cache (fixed-shape tensors, the form CUDA graphs need).
    Generation is greedy, so the caption depends only on the frames and the weights.
    """

    def __init__(
        self,
        model: SmolVLMForConditionalGeneration,
        image_processor: SmolVLMImageProcessorPil,
        tokenizer,
        sampling: FrameSampling = SMOLVLM2_SAMPLING,
        max_new_tokens: int = 64,
        static_cache: bool = False,
    ):
        self.model = model
        self.image_processor = image_processor
        self.tokenizer = tokenizer
        self.sampling = sampling
        self.max_new_tokens = max_new_tokens
        self.static_cache = static_cache

    @property
    def image_seq_len(self) -> int:
        """Image tokens per frame: patches per side squared, shrunk by the pixel shuffle's factor squared."""
        config = self.model.config
        patches = config.vision_config.image_size // config.vision_config.patch_size
        return patches**2 // config.scale_factor**2

    @property
    def frame_size(self) -> int:
        """The side of the square each frame is resized to (``max_image_size`` of the processor)."""
        return self.image_processor.max_image_size["longest_edge"]

    def inputs(self, video: Video, question: str = QUESTION) -> dict[str, torch.Tensor]:
        """Token ids, attention mask, ``pixel_values`` (1, frames, 3, H, W) and pixel mask for one clip."""
        text = video_prompt(video.timestamps.tolist(), video.duration, self.image_seq_len, question)
        pixels = self.image_processor(
            images=[list(video.frames)],
            do_image_splitting=False,
            size={"longest_edge": self.frame_size},
            return_tensors="pt",
        )
        tokens = self.tokenizer(text, return_tensors="pt")
        return {
            "input_ids": tokens["input_ids"],
            "attention_mask": tokens["attention_mask"],
            "pixel_values": pixels["pixel_values"],
            "pixel_attention_mask": pixels["pixel_attention_mask"],
        }

    @torch.inference_mode()
    def __call__(self, video: Video, question: str = QUESTION) -> str:
        """The model's answer to ``question`` about ``video``, stripped of special tokens and spaces."""
        inputs = self.inputs(video, question)
        device, dtype = self.model.device, self.model.dtype
        inputs = {
            name: value.to(device, dtype=dtype if name == "pixel_values" else value.dtype)
            for name, value in inputs.items()
        }
        output = self.model.generate(**inputs, **self.generation_options())
        answer = output[0, inputs["input_ids"].shape[1] :]
        return self.tokenizer.decode(answer, skip_special_tokens=True).strip()

    def generation_options(self) -> dict:
        """The ``generate`` arguments: greedy, bounded length, stopping at the tokenizer's end token or
        ``<end_of_utterance>`` (SmolVLM2's end of a chat turn), with the image and chat markers a
        caption must not contain suppressed."""
        markers = ("<image>", "<fake_token_around_image>", "<global-img>", "<|im_start|>")
        ends = (self.tokenizer.eos_token, "<end_of_utterance>")
        return {
            "max_new_tokens": self.max_new_tokens,
            "do_sample": False,
            "eos_token_id": self._known_ids(ends),
            "pad_token_id": self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self._known_ids(ends)[0],
            "suppress_tokens": self._known_ids(markers),
            "cache_implementation": "static" if self.static_cache else None,
        }

    def _known_ids(self, tokens) -> list[int]:
        """The distinct ids of those ``tokens`` the tokenizer knows (unknown ones are dropped)."""
        ids = [self.tokenizer.convert_tokens_to_ids(token) for token in tokens if token is not None]
        return list(dict.fromkeys(index for index in ids if index is not None and index != self.tokenizer.unk_token_id))

    @classmethod
    def from_pretrained(
        cls, folder: str | Path, device: str = "cpu", dtype: torch.dtype = torch.float32, **options
    ) -> "UnderstandStage":
        """Load model, image processor and tokenizer from a checkpoint folder (safetensors only)."""
        model = SmolVLMForConditionalGeneration.from_pretrained(folder, dtype=dtype, use_safetensors=True)
        image_processor = SmolVLMImageProcessorPil.from_pretrained(folder)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        return cls(model.to(device).eval(), image_processor, tokenizer, **options)

    @classmethod
    def tiny(cls, seed: int = 0, **options) -> "UnderstandStage":
        """The stage around :func:`~mmgp_lesson.capstone.tiny.tiny_smolvlm` (captions of at most 16 words)."""
        return cls(*tiny_smolvlm(seed), **{"max_new_tokens": 16, "sampling": TINY_SAMPLING, **options})
