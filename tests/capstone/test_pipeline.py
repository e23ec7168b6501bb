"""MMGPPipeline: modes, the manifest, reproducible files, and real mode read back from saved tiny models."""

import json

import numpy as np
import pytest

from mmgp_lesson.capstone.errors import CapstoneError
from mmgp_lesson.capstone.image import ImageStage
from mmgp_lesson.capstone.media import read_video
from mmgp_lesson.capstone.pipeline import MMGPPipeline
from mmgp_lesson.capstone.settings import Prompt, check_prompt
from mmgp_lesson.capstone.tiny import save_tiny_checkpoints
from mmgp_lesson.capstone.understand import UnderstandStage
from mmgp_lesson.capstone.video import VideoStage
from mmgp_lesson.capstone.weights import MODEL_IDS, checkpoint_folder


class CountedText(str):
    """A prompt that counts how often it is tested for words (``check_prompt`` calls ``strip`` once per check)."""

    checks = 0

    def strip(self, *chars):
        self.checks += 1
        return super().strip(*chars)


@pytest.fixture(scope="module")
def tiny_checkpoints(tmp_path_factory):
    return save_tiny_checkpoints(tmp_path_factory.mktemp("weights"))


@pytest.fixture(scope="module")
def tiny_pipeline():
    return MMGPPipeline.build(mode="tiny", frames=17)


def test_one_call_gives_caption_image_video_timings_and_manifest(tiny_pipeline, sample_video):
    result = tiny_pipeline(sample_video, seed=2)
    assert result.caption and result.prompt == result.caption
    assert result.image.size == (64, 64) and result.video.shape == (17, 64, 64, 3)
    assert set(result.timings) == {"read", "understand", "image", "video"}
    assert all(seconds > 0 for seconds in result.timings.values())
    manifest = result.manifest
    assert manifest["mode"] == "tiny" and manifest["seed"] == 2
    assert {stage: entry["id"] for stage, entry in manifest["models"].items()} == MODEL_IDS
    assert manifest["image"]["steps"] == 12 and manifest["video"]["steps"] == 4 and manifest["video"]["frames"] == 17
    assert manifest["understand"]["frames_sampled"] == 8
    assert {"torch", "diffusers", "transformers", "av"} <= set(manifest["versions"])


def test_a_given_prompt_replaces_the_caption(tiny_pipeline, sample_video):
    result = tiny_pipeline(sample_video, prompt="a blue cat")
    assert result.prompt == "a blue cat" and result.caption != "a blue cat"
    with pytest.raises(CapstoneError, match="prompt is empty"):
        tiny_pipeline(sample_video, prompt="")


def test_a_checked_prompt_is_returned_as_it_is_and_never_checked_again():
    prompt = check_prompt(CountedText("a blue cat"))
    assert isinstance(prompt, Prompt) and prompt == "a blue cat"
    assert check_prompt(prompt) is prompt
    with pytest.raises(CapstoneError, match="the caption is empty"):
        check_prompt(" ", "the caption is empty")


def test_one_run_checks_the_given_prompt_once_and_hands_every_stage_the_checked_one(tiny_pipeline, sample_video, monkeypatch):
    handed = []
    for stage in (ImageStage, VideoStage):
        original = stage.__call__
        monkeypatch.setattr(stage, "__call__", lambda self, prompts, *a, _original=original, **k: handed.append(prompts) or _original(self, prompts, *a, **k))
    text = CountedText("a blue cat")
    result = tiny_pipeline(sample_video, prompt=text, candidates=2)
    assert text.checks == 1  # in the pipeline's call, not again in the image or video stage
    assert isinstance(result.prompt, Prompt) and len(handed) == 2
    assert all(isinstance(prompt, Prompt) for prompts in handed for prompt in ([prompts] if isinstance(prompts, str) else prompts))


def test_same_seed_gives_byte_identical_files(tiny_pipeline, sample_video, tmp_path):
    first = tiny_pipeline(sample_video, seed=7).save(tmp_path / "a")
    second = tiny_pipeline(sample_video, seed=7).save(tmp_path / "b")
    names = [path.name for path in first]
    assert names == ["caption.txt", "image.png", "video.mp4", "preview.gif", "manifest.json", "timings.json"]
    for one, other in zip(first[:-1], second[:-1]):  # every file but the measured wall times
        assert one.read_bytes() == other.read_bytes(), one.name
    assert "seconds" not in json.loads(first[4].read_text()) and "read" in json.loads(first[5].read_text())["seconds"]
    other_seed = tiny_pipeline(sample_video, seed=8).save(tmp_path / "c")
    assert other_seed[1].read_bytes() != first[1].read_bytes()


def test_auto_falls_back_to_tiny_and_says_so(monkeypatch):
    def not_cached(model_id, local_files_only):
        raise FileNotFoundError(model_id)

    monkeypatch.setattr("mmgp_lesson.capstone.weights.snapshot_download", not_cached)
    pipeline = MMGPPipeline.build(mode="auto", frames=9)
    assert pipeline.mode == "tiny" and "not found" in pipeline.mode_note


def test_auto_with_an_explicit_weights_folder_that_lacks_them_is_an_error(tmp_path):
    with pytest.raises(CapstoneError, match="hf download"):
        MMGPPipeline.build(mode="auto", weights=tmp_path)


def test_real_without_weights_names_the_download_command(tmp_path):
    with pytest.raises(CapstoneError) as caught:
        MMGPPipeline.build(mode="real", weights=tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    for model_id in MODEL_IDS.values():
        assert f"hf download {model_id}" in message


def test_real_mode_loads_saved_checkpoints_and_matches_the_tiny_models(tiny_checkpoints, sample_video):
    pipeline = MMGPPipeline.build(mode="auto", weights=tiny_checkpoints, frames=9, height=64, width=64, video_steps=2)
    assert pipeline.mode == "real" and "found" in pipeline.mode_note
    assert pipeline.sources["image"] == str(tiny_checkpoints / "amused" / "amused-256")
    result = pipeline(sample_video)
    assert result.video.shape == (9, 64, 64, 3) and result.manifest["mode"] == "real"

    # Loaded through the real-mode path, the saved weights reproduce the in-memory tiny models exactly.
    clip = read_video(sample_video, count=8)
    loaded = UnderstandStage.from_pretrained(tiny_checkpoints / MODEL_IDS["understand"], max_new_tokens=16)
    assert loaded(clip) == UnderstandStage.tiny()(clip)
    image = ImageStage.from_pretrained(tiny_checkpoints / MODEL_IDS["image"], size=64)("a red dog", seed=1)[0]
    np.testing.assert_array_equal(np.asarray(image), np.asarray(ImageStage.tiny()("a red dog", seed=1)[0]))
    video_options = {"frames": 9, "height": 64, "width": 64, "steps": 2, "max_sequence_length": 32}
    loaded_video = VideoStage.from_pretrained(tiny_checkpoints / MODEL_IDS["video"], **video_options)
    np.testing.assert_array_equal(loaded_video("a red dog", seed=1), VideoStage.tiny(**video_options)("a red dog", seed=1))


def test_the_hugging_face_cache_is_searched(tiny_checkpoints, tmp_path, monkeypatch):
    import huggingface_hub.constants

    snapshot = tmp_path / "models--amused--amused-256" / "snapshots" / "0123abcd"
    snapshot.parent.mkdir(parents=True)
    (tiny_checkpoints / "amused" / "amused-256").rename(snapshot)
    try:
        (tmp_path / "models--amused--amused-256" / "refs").mkdir()
        (tmp_path / "models--amused--amused-256" / "refs" / "main").write_text("0123abcd")
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
        assert checkpoint_folder("image") == snapshot
        assert checkpoint_folder("video") is None
    finally:
        snapshot.rename(tiny_checkpoints / "amused" / "amused-256")


def test_half_precision_keeps_the_vq_gan_in_float32(tiny_checkpoints):
    import torch

    stage = ImageStage.from_pretrained(tiny_checkpoints / MODEL_IDS["image"], dtype=torch.bfloat16, size=64)
    assert stage.pipe.transformer.dtype == torch.bfloat16 and stage.pipe.text_encoder.dtype == torch.bfloat16
    assert stage.pipe.vqvae.dtype == torch.float32  # the aMUSEd VQ-GAN overflows to NaN in half precision
