"""Shared fixtures for the capstone tests: a sample clip and the tiny stages, built once per session."""

from pathlib import Path

import pytest
import torch

from mmgp_lesson.capstone.image import ImageStage
from mmgp_lesson.capstone.media import make_sample_video
from mmgp_lesson.capstone.understand import UnderstandStage
from mmgp_lesson.capstone.video import VideoStage

# The tiny models' tensors are far too small for threads to help: on a shared 2-core machine a second
# thread makes them up to 50x slower (measured), so the capstone tests run torch single-threaded.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def sample_video(tmp_path_factory) -> Path:
    """The demo clip: 48 frames of 96x128 at 24 fps."""
    return make_sample_video(tmp_path_factory.mktemp("media") / "sample.mp4")


@pytest.fixture(scope="session")
def understand() -> UnderstandStage:
    return UnderstandStage.tiny()


@pytest.fixture(scope="session")
def image_stage() -> ImageStage:
    return ImageStage.tiny()


@pytest.fixture(scope="session")
def video_stage() -> VideoStage:
    return VideoStage.tiny(frames=17)
