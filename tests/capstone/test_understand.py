"""The understand stage: the video prompt, the frames through the PIL image processor, the caption."""

import importlib.util
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from mmgp_lesson.capstone.media import FrameSampling, read_video
from mmgp_lesson.capstone.understand import QUESTION, UnderstandStage, number_in_words, video_prompt


@pytest.mark.parametrize(
    "number, words", [(0, "zero"), (8, "eight"), (15, "fifteen"), (20, "twenty"), (64, "sixty-four"), (101, "one hundred and one")]
)
def test_number_in_words_matches_num2words(number, words):
    assert number_in_words(number) == words


def test_video_prompt_has_one_timestamped_block_per_frame():
    text = video_prompt([0.0, 1.5, 61.2], duration=62.0, image_seq_len=5, question="What?")
    assert text.startswith("<|im_start|>User: You are provided the following series of three frames from a 0:01:02 [H:MM:SS] video.\n")
    assert [line[:16] for line in text.split("\n") if line.startswith("Frame from")] == [
        "Frame from 00:00",
        "Frame from 00:01",
        "Frame from 01:01",
    ]
    assert text.count("<image>") == 15 and text.count("<global-img>") == 3
    assert text.endswith("\n\nWhat?<end_of_utterance>\nAssistant:")


def test_inputs_hold_one_image_block_per_sampled_frame(understand, sample_video):
    clip = read_video(sample_video, sampling=understand.sampling)
    inputs = understand.inputs(clip)
    assert inputs["pixel_values"].shape == (1, 8, 3, 32, 32)
    image_id = understand.tokenizer.convert_tokens_to_ids("<image>")
    assert int((inputs["input_ids"] == image_id).sum()) == 8 * understand.image_seq_len
    assert understand.tokenizer.unk_token_id not in inputs["input_ids"][0].tolist()
    # The processor rescales to [0, 1] and normalises with mean 0.5, std 0.5: values lie in [-1, 1].
    assert inputs["pixel_values"].min() >= -1 and inputs["pixel_values"].max() <= 1


def test_caption_is_words_and_depends_on_the_frames(understand, sample_video):
    clip = read_video(sample_video, sampling=understand.sampling)
    caption = understand(clip)
    assert caption and "<" not in caption
    assert understand(clip) == caption
    inverted = type(clip)(255 - clip.frames, clip.timestamps, clip.fps, clip.duration, clip.source_frames)
    logits = [
        understand.model(**{k: v for k, v in understand.inputs(c).items()}).logits[0, -1]
        for c in (clip, inverted)
    ]
    assert not torch.allclose(*logits)


def test_static_cache_gives_the_same_caption(understand, sample_video):
    clip = read_video(sample_video, sampling=understand.sampling)
    static = UnderstandStage(understand.model, understand.image_processor, understand.tokenizer, max_new_tokens=16, static_cache=True)
    assert static(clip) == understand(clip)


def test_prompt_is_the_text_the_official_processor_builds(monkeypatch):
    """Run transformers' own video chat template and ``<video>`` expansion (no torchvision needed) and compare."""
    import jinja2
    from transformers.models.smolvlm import processing_smolvlm as official
    from transformers.video_utils import VideoMetadata

    # num2words is not installed here; number_in_words is checked against num2words' spelling above.
    monkeypatch.setattr(official, "num2words", number_in_words)
    tokens = SimpleNamespace(
        image_seq_len=5, image_token="<image>", fake_image_token="<fake_token_around_image>", global_image_token="<global-img>"
    )
    indices = [0, 30, 61, 95]
    metadata = VideoMetadata(total_num_frames=96, fps=24.0, duration=4.0, frames_indices=indices)
    expansion = official.SmolVLMProcessor.replace_video_token(
        tokens, {"pixel_values": torch.zeros(1, len(indices), 3, 4, 4), "video_metadata": [metadata]}, 0
    )
    messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": QUESTION}]}]
    chat = jinja2.Template(official.DEFAULT_CHAT_TEMPLATE).render(messages=messages, add_generation_prompt=True)
    expected = chat.replace("<video>", expansion)
    assert video_prompt([index / 24.0 for index in indices], 4.0, 5, QUESTION) == expected


@pytest.mark.skipif(
    importlib.util.find_spec("torchvision") is None or importlib.util.find_spec("num2words") is None,
    reason="the official SmolVLMProcessor needs torchvision (video processor) and num2words; neither imports here",
)
def test_official_processor_gives_the_same_inputs(understand, sample_video):
    from transformers import SmolVLMProcessor, SmolVLMVideoProcessor
    from transformers.video_utils import VideoMetadata

    clip = read_video(sample_video, sampling=understand.sampling)
    size = understand.frame_size
    processor = SmolVLMProcessor(
        image_processor=understand.image_processor,
        tokenizer=understand.tokenizer,
        video_processor=SmolVLMVideoProcessor(
            size={"longest_edge": size}, max_image_size={"longest_edge": size}, do_sample_frames=False
        ),
        image_seq_len=understand.image_seq_len,
    )
    messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "Describe this video in one sentence."}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True)
    indices = np.round(clip.timestamps * clip.fps).astype(int)
    metadata = VideoMetadata(total_num_frames=clip.source_frames, fps=clip.fps, duration=clip.duration, frames_indices=indices)
    official = processor(text=text, videos=[clip.frames], video_metadata=[metadata], return_tensors="pt")
    ours = understand.inputs(clip)
    assert official["input_ids"].tolist() == ours["input_ids"].tolist()
    # torchvision's and PIL's resampling round differently: allow one 8-bit level after normalising (2/255).
    torch.testing.assert_close(official["pixel_values"], ours["pixel_values"], atol=2 / 255 + 1e-6, rtol=0)


@pytest.mark.parametrize("video_fps", [24.0, 25.0, 30.0, 12.5])
def test_frame_sampling_matches_transformers_own_sample_frames(video_fps):
    """``FrameSampling`` against ``SmolVLMVideoProcessor.sample_frames`` itself, on clips of 1 frame to 5 minutes.

    The method reads only ``num_frames`` and ``fps`` from its processor, so it runs unbound on a
    stand-in object, without the torchvision the processor's constructor needs.
    """
    from transformers.models.smolvlm.video_processing_smolvlm import SmolVLMVideoProcessor
    from transformers.video_utils import VideoMetadata

    for fps, max_frames in ((1.0, 64), (4.0, 8), (2.0, 16)):
        processor = SimpleNamespace(num_frames=max_frames, fps=fps)
        for total in (1, 2, 11, 12, 47, 48, 61, 240, 1201, 2400, 9000):
            metadata = VideoMetadata(total_num_frames=total, fps=video_fps, duration=total / video_fps)
            official = SmolVLMVideoProcessor.sample_frames(processor, metadata)
            ours = FrameSampling(fps=fps, max_frames=max_frames).indices(total, video_fps)
            assert ours.tolist() == np.asarray(official).tolist(), (total, video_fps, fps, max_frames)
