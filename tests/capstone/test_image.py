"""The image stage around diffusers' AmusedPipeline."""

import numpy as np
import pytest

from mmgp_lesson.capstone.errors import CapstoneError
from mmgp_lesson.capstone.image import ImageStage
from tests.capstone.test_pipeline import CountedText


def pixels(image) -> np.ndarray:
    return np.asarray(image).astype(int)


def test_image_has_the_asked_size_and_the_seed_fixes_it(image_stage):
    first = image_stage("a red dog", seed=3)
    assert len(first) == 1 and first[0].size == (64, 64)
    np.testing.assert_array_equal(pixels(first[0]), pixels(image_stage("a red dog", seed=3)[0]))
    assert not np.array_equal(pixels(first[0]), pixels(image_stage("a red dog", seed=4)[0]))


def test_prompts_are_batched_into_one_call(image_stage, monkeypatch):
    calls = []
    original = type(image_stage.pipe).__call__
    monkeypatch.setattr(type(image_stage.pipe), "__call__", lambda pipe, *a, **k: calls.append(a) or original(pipe, *a, **k))
    images = image_stage(["a red dog", "a blue cat", "a green tree"], seed=0)
    assert len(images) == 3 and len(calls) == 1
    assert len({image.tobytes() for image in images}) == 3


def test_height_and_width_are_always_passed(image_stage, monkeypatch):
    seen = {}
    original = type(image_stage.pipe).__call__
    monkeypatch.setattr(type(image_stage.pipe), "__call__", lambda pipe, *a, **k: seen.update(k) or original(pipe, *a, **k))
    image_stage("a dog")
    assert seen["height"] == seen["width"] == 64 and seen["num_inference_steps"] == 12


@pytest.mark.parametrize("prompt", ["", "   ", ["a dog", ""]])
def test_empty_prompt_is_refused(image_stage, prompt):
    with pytest.raises(CapstoneError, match="prompt is empty"):
        image_stage(prompt)


def test_size_must_fit_the_vq_grid():
    with pytest.raises(CapstoneError, match="multiple of 4"):
        ImageStage.tiny(size=62)



def test_a_stage_called_on_its_own_checks_a_plain_prompt_once(image_stage):
    text = CountedText("a red dog")
    image_stage(text)
    assert text.checks == 1
