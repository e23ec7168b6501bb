"""The video stage around diffusers' LTXPipeline."""

import numpy as np
import pytest

from mmgp_lesson.capstone.errors import CapstoneError
from mmgp_lesson.capstone.settings import check_video_shape
from tests.capstone.test_pipeline import CountedText


def test_clip_has_the_asked_shape_and_the_seed_fixes_it(video_stage):
    clip = video_stage("a red dog running", seed=5)
    assert clip.shape == (17, 64, 64, 3) and clip.dtype == np.uint8
    np.testing.assert_array_equal(clip, video_stage("a red dog running", seed=5))
    assert not np.array_equal(clip, video_stage("a red dog running", seed=6))


@pytest.mark.parametrize(
    "frames, height, width, words",
    [
        (48, 64, 64, "use --frames 49"),
        (0, 64, 64, "not 8k\\+1"),
        (49, 100, 64, "--height 100 is not divisible by 32"),
        (49, 64, 70, "--width 70 is not divisible by 32"),
        (49, 99968, 64, "outside 32..1280"),
    ],
)
def test_bad_shapes_are_refused_with_the_fix(frames, height, width, words):
    with pytest.raises(CapstoneError, match=words):
        check_video_shape(frames, height, width)


def test_empty_prompt_is_refused(video_stage):
    with pytest.raises(CapstoneError, match="prompt is empty"):
        video_stage(" ")


def test_a_stage_called_on_its_own_checks_a_plain_prompt_once(video_stage):
    text = CountedText("a red dog")
    video_stage(text)
    assert text.checks == 1
