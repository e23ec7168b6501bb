"""``MMGPPipeline``: video in -> caption -> an image and a video made from that caption.

The pipeline holds the three stages (:class:`UnderstandStage`, :class:`ImageStage`,
:class:`VideoStage`), times each one, and records a manifest of what produced the result: mode,
model ids and where their weights came from, seed, step counts and library versions.
:meth:`MMGPPipeline.build` picks the mode: ``"real"`` loads checkpoints (a folder or the Hugging
Face cache), ``"tiny"`` builds tiny random models offline, ``"auto"`` takes real where all three
checkpoints are present and tiny otherwise, and says why in :attr:`MMGPPipeline.mode_note`.
"""

from __future__ import annotations

import dataclasses
import platform
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors import SafetensorError

from mmgp_lesson.capstone.candidates import best_of_n
from mmgp_lesson.capstone.errors import CapstoneError
from mmgp_lesson.capstone.image import ImageStage
from mmgp_lesson.capstone.media import Video, read_video, write_gif, write_mp4
from mmgp_lesson.capstone.outputs import json_writer, write_all
from mmgp_lesson.capstone.progress import Progress
from mmgp_lesson.capstone.settings import Prompt, check_device, check_prompt
from mmgp_lesson.capstone.understand import UnderstandStage
from mmgp_lesson.capstone.video import VideoStage
from mmgp_lesson.capstone.weights import MODEL_IDS, Checkpoints, resolve_checkpoints

LIBRARIES = ("torch", "diffusers", "transformers", "tokenizers", "av", "pillow", "numpy")


@dataclass
class MMGPResult:
    """What one run produced: the caption, the prompt used, the image, the video frames, timings."""

    caption: str
    prompt: str
    image: Image.Image
    video: np.ndarray
    timings: dict[str, float]
    manifest: dict = field(repr=False)

    def save(self, folder: str | Path, extra: dict | None = None) -> list[Path]:
        """Write ``caption.txt``, ``image.png``, ``video.mp4``, ``preview.gif``, ``manifest.json``
        and ``timings.json`` (plus ``extra`` files: name -> writer of a temporary path).

        Every file but ``timings.json`` is a function of the input, the settings and the seed alone,
        so ``manifest.json`` holds the manifest without its ``seconds``; those are measurements and
        go to ``timings.json``. All files are written under temporary names first and moved into
        place together.
        """
        fps = self.manifest["video"]["fps"]
        record = {key: value for key, value in self.manifest.items() if key != "seconds"}
        return write_all(
            folder,
            {
                **(extra or {}),
                "caption.txt": lambda path: path.write_text(self.caption + "\n"),
                "image.png": lambda path: self.image.save(path, format="PNG"),
                "video.mp4": lambda path: write_mp4(self.video, path, fps=fps),
                "preview.gif": lambda path: write_gif(self.video, path),
                "manifest.json": json_writer(record),
                "timings.json": json_writer({"seconds": self.manifest["seconds"]}),
            },
        )


STAGE_DTYPES = {
    "cpu": {"understand": torch.float32, "image": torch.float32, "video": torch.float32},
    "cuda": {"understand": torch.bfloat16, "image": torch.float16, "video": torch.bfloat16},
}
"""Real mode's dtype of each stage's model per device. aMUSEd runs in float16 (its published checkpoints have an
fp16 variant) with its VQ-GAN kept in float32, which :meth:`ImageStage.from_pretrained` sees to (it produces NaNs
in float16); SmolVLM2 and LTX-Video in bfloat16, the dtype they were trained in. The CPU stays in float32."""


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries that shape the outputs, and Python's."""
    return {"python": platform.python_version(), **{name: version(name) for name in LIBRARIES}}


def default_device() -> str:
    """``"cuda"`` when a GPU is visible, else ``"cpu"``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


class MMGPPipeline:
    """Video -> caption (SmolVLM2) -> image (aMUSEd) and video (LTX-Video), one call.

    ``sources`` says where each stage's weights came from (a folder, or "tiny random weights").
    Call it with a video file or a :class:`Video`; pass ``prompt`` to draw the image and video
    from your own words instead of the caption (the caption is still made and reported).
    """

    def __init__(
        self,
        understand: UnderstandStage,
        image: ImageStage,
        video: VideoStage,
        mode: str,
        sources: dict[str, str],
        mode_note: str = "",
    ):
        self.understand = understand
        self.image = image
        self.video = video
        self.mode = mode
        self.sources = sources
        self.mode_note = mode_note

    @classmethod
    def build(
        cls,
        mode: str = "auto",
        weights: str | Path | None = None,
        device: str | None = None,
        frames: int = 49,
        height: int | None = None,
        width: int | None = None,
        image_steps: int = 12,
        video_steps: int | None = None,
        static_cache: bool = False,
        compile: bool = False,
        checkpoints: Checkpoints | None = None,
    ) -> "MMGPPipeline":
        """Build the three stages in ``mode`` ("auto", "tiny" or "real").

        ``frames``, ``height`` and ``width`` shape the generated video (defaults: 49 frames;
        512x704 real, 64x64 tiny); ``video_steps`` defaults to 50 real and 4 tiny. Real mode
        runs in the dtypes of :data:`STAGE_DTYPES` (float32 on CPU; bfloat16 on CUDA, aMUSEd in float16
        with its VQ-GAN in float32);
        tiny mode always runs on the CPU in float32.
        ``static_cache`` and ``compile`` switch on the speed options the benchmark compares.
        ``checkpoints`` is :func:`~mmgp_lesson.capstone.weights.resolve_checkpoints`'s answer when the
        caller has already asked (the CLI does, before importing torch); ``mode`` and ``weights`` are
        then not looked at.
        """
        checkpoints = checkpoints or resolve_checkpoints(mode, weights)
        check_device(device)
        device = device or default_device()
        if device == "cuda" and not torch.cuda.is_available():
            raise CapstoneError("--device cuda was asked for but no CUDA GPU is visible; use --device cpu")
        video_options = {"frames": frames, "height": height, "width": width, "steps": video_steps}
        video_options = {name: value for name, value in video_options.items() if value is not None}
        options = {"video": video_options, "image_steps": image_steps, "static_cache": static_cache, "compile": compile}
        built = {stage: cls.build_stage(stage, checkpoints, device, **options) for stage in MODEL_IDS}
        return cls(
            *(built[stage][0] for stage in MODEL_IDS),
            mode="real" if checkpoints.real else "tiny",
            sources={stage: source for stage, (_, source) in built.items()},
            mode_note=checkpoints.note,
        )

    @staticmethod
    def build_stage(
        stage: str,
        checkpoints: Checkpoints,
        device: str,
        video: dict | None = None,
        image_steps: int = 12,
        static_cache: bool = False,
        compile: bool = False,
    ) -> tuple[UnderstandStage | ImageStage | VideoStage, str]:
        """Build one stage (``"understand"``, ``"image"`` or ``"video"``) as :meth:`build` does; return it
        with where its weights came from.

        One stage alone is what a serving engine that puts each stage on its own device needs (the Ray
        engine, :mod:`mmgp_lesson.serve.ray_engine`): it loads that stage's checkpoint only.
        ``video`` holds the video stage's ``frames``, ``height``, ``width`` and ``steps`` (those given).
        """
        video = video or {}
        if not checkpoints.real:
            tiny = {
                "understand": lambda: UnderstandStage.tiny(static_cache=static_cache),
                "image": lambda: ImageStage.tiny(steps=image_steps, compile=compile),
                "video": lambda: VideoStage.tiny(**video),
            }
            return tiny[stage](), "tiny random weights (seed 0)"
        dtypes = STAGE_DTYPES[device]
        folder = checkpoints.folders[stage]
        load = {
            "understand": lambda: UnderstandStage.from_pretrained(
                folder, device, dtypes["understand"], static_cache=static_cache
            ),
            "image": lambda: ImageStage.from_pretrained(folder, device, dtypes["image"], steps=image_steps, compile=compile),
            "video": lambda: VideoStage.from_pretrained(folder, device, dtypes["video"], **video),
        }
        try:
            return load[stage](), str(folder)
        except (OSError, ValueError, SafetensorError) as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise CapstoneError(
                f"could not load the real checkpoints ({first_line}); re-download them with hf download"
            ) from None

    def __call__(
        self,
        video: str | Path | Video,
        seed: int = 0,
        prompt: str | Prompt | None = None,
        candidates: int = 1,
        progress: Progress | None = None,
    ) -> MMGPResult:
        """Caption ``video``, then draw an image and a clip from the caption (or from ``prompt``).

        With ``candidates`` > 1 the image is the best of that many, as SmolVLM2 rates them (lesson 10).
        ``progress`` reports each stage (and each unmasking / denoising step) as it runs; silent by default.
        A plain ``str`` prompt is checked here, before the clip is read (a
        :class:`~mmgp_lesson.capstone.settings.Prompt` from the CLI was checked there); the caption is
        checked once when it becomes the prompt, and the stages do not check either again.
        """
        prompt = None if prompt is None else check_prompt(prompt)
        progress = progress or Progress(quiet=True)
        timings = {}
        start = time.perf_counter()
        with progress.stage("read"):
            clip = video if isinstance(video, Video) else read_video(video, sampling=self.understand.sampling)
        timings["read"] = time.perf_counter() - start

        start = time.perf_counter()
        with progress.stage("understand"):
            caption = self.understand(clip)
        timings["understand"] = time.perf_counter() - start
        if prompt is None:
            prompt = check_prompt(
                caption, "the understand stage returned an empty caption; pass --prompt TEXT to draw from your own words"
            )

        start = time.perf_counter()
        with progress.stage("image", steps=self.image.steps) as step:
            chosen = best_of_n(self.image, self.understand, prompt, candidates, seed) if candidates > 1 else None
            image = chosen.image if chosen else self.image(prompt, seed=seed, on_step=step)[0]
        timings["image"] = time.perf_counter() - start

        start = time.perf_counter()
        with progress.stage("video", steps=self.video.steps) as step:
            frames = self.video(prompt, seed=seed, on_step=step)
        timings["video"] = time.perf_counter() - start

        manifest = self.manifest(clip, seed, caption, prompt, timings)
        if chosen:
            manifest["image"]["candidates"] = chosen.manifest()
        return MMGPResult(caption=caption, prompt=prompt, image=image, video=frames, timings=timings, manifest=manifest)

    def manifest(self, clip: Video, seed: int, caption: str, prompt: str, timings: dict) -> dict:
        """The record of a run: everything needed to reproduce it, and how long each stage took."""
        return {
            "mode": self.mode,
            "mode_note": self.mode_note,
            "device": str(self.understand.model.device),
            "seed": seed,
            "input": clip.source or "(in-memory clip)",
            "input_sha256": clip.sha256,
            "package": {"mmgp-lesson": version("mmgp-lesson")},
            "models": {stage: {"id": MODEL_IDS[stage], "weights": self.sources[stage]} for stage in MODEL_IDS},
            "understand": {
                "frames_sampled": int(len(clip.frames)),
                "sampling": dataclasses.asdict(self.understand.sampling),
                "timestamps_s": [round(float(second), 3) for second in clip.timestamps],
                "max_new_tokens": self.understand.max_new_tokens,
                "static_cache": self.understand.static_cache,
            },
            "image": {"steps": self.image.steps, "size": self.image.size, "compile": self.image.compile},
            "video": {
                "steps": self.video.steps,
                "frames": self.video.frames,
                "height": self.video.height,
                "width": self.video.width,
                "fps": self.video.fps,
            },
            "caption": caption,
            "prompt": prompt,
            "seconds": {stage: round(value, 4) for stage, value in timings.items()},
            "versions": library_versions(),
        }
