"""``StageRunner``: the capstone pipeline cut into the calls the service's worker makes.

``mmgp-lesson run`` makes one :class:`~mmgp_lesson.capstone.pipeline.MMGPPipeline` call per clip;
the worker instead reads and captions each job, draws the images of several jobs in one aMUSEd call
and then each job's video. The runner builds the pipeline once and hands out, per job, a *view* of
it with the job's steps and frame count (:meth:`StageRunner.view`): shallow copies of the stages that
share the models, so the calls, the manifest and the file writing stay the capstone's own code.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from mmgp_lesson.capstone.candidates import Candidates, best_of_n
from mmgp_lesson.capstone.errors import CapstoneError
from mmgp_lesson.capstone.media import Video, read_video
from mmgp_lesson.capstone.pipeline import MMGPPipeline, MMGPResult
from mmgp_lesson.capstone.weights import Checkpoints


class StageRunner:
    """The stages of one built :class:`MMGPPipeline`, called one at a time."""

    def __init__(self, pipeline: MMGPPipeline):
        self.pipeline = pipeline

    @classmethod
    def build(cls, checkpoints: Checkpoints, device: str | None = None, frames: int = 49) -> "StageRunner":
        """Build the pipeline ``mmgp-lesson run`` would for ``checkpoints`` (tiny mode single-threaded, as there)."""
        pipeline = MMGPPipeline.build(checkpoints=checkpoints, device=device, frames=frames)
        if pipeline.mode == "tiny":
            torch.set_num_threads(1)  # tiny tensors: a second thread only adds synchronisation
        return cls(pipeline)

    def view(self, image_steps: int | None = None, frames: int | None = None, video_steps: int | None = None) -> MMGPPipeline:
        """The pipeline with this job's settings (``None``: the built one's): the same models, own step counts."""
        image, video = copy.copy(self.pipeline.image), copy.copy(self.pipeline.video)
        image.steps = image_steps or image.steps
        video.frames = frames or video.frames
        video.steps = video_steps or video.steps
        base = self.pipeline
        return MMGPPipeline(base.understand, image, video, mode=base.mode, sources=base.sources, mode_note=base.mode_note)

    def read(self, path: str | Path) -> Video:
        """The frames the understand stage sees, sampled by its own rule (as ``mmgp-lesson run`` reads them)."""
        return read_video(path, sampling=self.pipeline.understand.sampling)

    def understand(self, clip: Video) -> str:
        """SmolVLM2's caption of ``clip``; an empty one is an error, since the service draws from the caption."""
        caption = self.pipeline.understand(clip)
        if not caption:
            raise CapstoneError("the understand stage returned an empty caption; there is nothing to draw from")
        return caption

    @staticmethod
    def images(view: MMGPPipeline, prompts: list[str], seed: int, on_step=None) -> list:
        """One image per prompt in one ``AmusedPipeline`` call, from one generator seeded with ``seed``."""
        return view.image(prompts, seed=seed, on_step=on_step)

    def best(self, view: MMGPPipeline, prompt: str, count: int, seed: int) -> Candidates:
        """Best of ``count`` images for ``prompt``, scored by SmolVLM2 (``--candidates``, lesson 10)."""
        return best_of_n(view.image, self.pipeline.understand, prompt, count, seed)

    @staticmethod
    def video(view: MMGPPipeline, prompt: str, seed: int, on_step=None):
        """The clip for ``prompt`` (uint8 frames), drawn with a generator seeded with ``seed``."""
        return view.video(prompt, seed=seed, on_step=on_step)

    @staticmethod
    def save(folder: str | Path, result: MMGPResult) -> list[Path]:
        """Write the result's files atomically, as ``mmgp-lesson run`` does (:meth:`MMGPResult.save`)."""
        return result.save(folder)
