"""The course's capstone: SmolVLM2 -> aMUSEd -> LTX-Video, in tiny (offline) and real modes.

- :mod:`~mmgp_lesson.capstone.media` — read/sample video files, write MP4 and GIF (PyAV).
- :mod:`~mmgp_lesson.capstone.understand` — :class:`UnderstandStage`: frames -> caption (SmolVLM).
- :mod:`~mmgp_lesson.capstone.image` — :class:`ImageStage`: prompt -> image (``AmusedPipeline``).
- :mod:`~mmgp_lesson.capstone.video` — :class:`VideoStage`: prompt -> clip (``LTXPipeline``).
- :mod:`~mmgp_lesson.capstone.pipeline` — :class:`MMGPPipeline`: all three, timed, with a manifest.
- :mod:`~mmgp_lesson.capstone.tiny` — tiny configs and offline tokenizers; :mod:`~mmgp_lesson.capstone.realsize`
  — the models at published size with random weights; :mod:`~mmgp_lesson.capstone.weights` — where real
  checkpoints are found; :mod:`~mmgp_lesson.capstone.outputs` — atomic file writing;
  :mod:`~mmgp_lesson.capstone.settings` — input checks that need no model.
"""

from importlib import import_module

# Names are imported on first use, so that ``mmgp_lesson.capstone.settings`` (and the CLI's input
# checks) can be imported without loading torch, diffusers and transformers.
_HOMES = {
    "MODEL_IDS": "weights",
    "CapstoneError": "errors",
    "ImageStage": "image",
    "MMGPPipeline": "pipeline",
    "MMGPResult": "pipeline",
    "UnderstandStage": "understand",
    "Video": "media",
    "VideoStage": "video",
    "make_sample_video": "media",
    "read_video": "media",
    "video_prompt": "understand",
    "write_gif": "media",
    "write_mp4": "media",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"mmgp_lesson.capstone.{_HOMES[name]}"), name)
