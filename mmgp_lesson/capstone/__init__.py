"""The course's capstone: SmolVLM2 -> aMUSEd -> LTX-Video, in tiny (offline) and real modes.

- :mod:`~mmgp_lesson.capstone.media` — read/sample video files, write MP4 and GIF (PyAV).
- :mod:`~mmgp_lesson.capstone.understand` — :class:`UnderstandStage`: frames -> caption (SmolVLM).
- :mod:`~mmgp_lesson.capstone.image` — :class:`ImageStage`: prompt -> image (``AmusedPipeline``).
- :mod:`~mmgp_lesson.capstone.video` — :class:`VideoStage`: prompt -> clip (``LTXPipeline``).
- :mod:`~mmgp_lesson.capstone.pipeline` — :class:`MMGPPipeline`: all three, timed, with a manifest.
- :mod:`~mmgp_lesson.capstone.app` — the lesson 08 app, inline media, timing tables, the manifest validator.
- :mod:`~mmgp_lesson.capstone.tiny` — tiny configs and offline tokenizers; :mod:`~mmgp_lesson.capstone.realsize`
  — the models at published size with random weights; :mod:`~mmgp_lesson.capstone.weights` — where real
  checkpoints are found; :mod:`~mmgp_lesson.capstone.outputs` — atomic file writing;
  :mod:`~mmgp_lesson.capstone.settings` — input checks that need no model.

Import each name from its module (``from mmgp_lesson.capstone.pipeline import MMGPPipeline``): this
package imports nothing, so the CLI's input checks load no model library.
"""
