"""What lessons 07 and 08 put around the capstone engine: media on the page, timing, manifests, the app.

- :func:`gif_html`, :func:`mp4_html` — generated frames as a self-contained ``<img>`` / ``<video>``
  (base64 data URLs), so the book page plays them with no network.
- :func:`timing_summary` and :func:`timing_markdown` — the per-stage timing table of several runs.
- :func:`manifest_problems` — what is missing or inconsistent in a run's ``manifest.json``.
- :data:`LICENCES` — each checkpoint's licence, as its model card states it.
- :func:`build_app` — the ipywidgets app: choose a sample clip or upload your own, a seed and step
  counts; see caption, image, video and timings.
"""

from __future__ import annotations

import base64
import html
import statistics
import tempfile
from pathlib import Path

import numpy as np

from mmgp_lesson.capstone.media import Video, write_gif, write_mp4
from mmgp_lesson.capstone.weights import MODEL_IDS
from mmgp_lesson.ltx_shape import is_valid_frame_count, is_valid_side

STAGES = ("read", "understand", "image", "video")
"""The timed stages of one ``MMGPPipeline`` call, in the order they run."""

LICENCES = {
    "understand": {
        "id": MODEL_IDS["understand"],
        "licence": "Apache-2.0",
        "card": f"https://huggingface.co/{MODEL_IDS['understand']}",
    },
    "image": {
        "id": MODEL_IDS["image"],
        "licence": "OpenRAIL++",
        "card": f"https://huggingface.co/{MODEL_IDS['image']}",
    },
    "video": {
        "id": MODEL_IDS["video"],
        "licence": "other: Lightricks' own terms, in the repository's License.txt",
        "card": f"https://huggingface.co/{MODEL_IDS['video']}",
    },
}
"""Each checkpoint's licence as the ``license`` field of its Hugging Face model card states it.

Cited facts, not measurements: the cards cannot be fetched where the course is built. SmolVLM2's card
says ``apache-2.0`` and aMUSEd's ``openrail++``; LTX-Video's says ``other`` and ships its terms as
``License.txt`` in the model repository (seen on the card's page, huggingface.co/Lightricks/LTX-Video).
Check the card of the revision you download before you build on it: LTX-Video's terms have changed
between releases.
"""


def _data_url(path: Path, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def gif_html(frames: np.ndarray, fps: int = 12, max_side: int = 160, width: int = 160, alt: str = "") -> str:
    """A looping GIF of ``frames`` (frames, H, W, 3) as an ``<img>`` tag with the GIF inlined.

    ``alt`` says what the clip shows; by default its length and frame rate.
    """
    alt = html.escape(alt or f"a looping clip of {len(frames)} frames at {fps} fps")
    with tempfile.TemporaryDirectory() as folder:
        path = write_gif(frames, Path(folder) / "clip.gif", fps=fps, max_side=max_side)
        return f'<img alt="{alt}" src="{_data_url(path, "image/gif")}" width="{width}" style="image-rendering: pixelated">'


def mp4_html(frames: np.ndarray, fps: int = 24, width: int = 160) -> str:
    """An H.264 MP4 of ``frames`` as a ``<video controls loop>`` tag with the file inlined."""
    with tempfile.TemporaryDirectory() as folder:
        path = write_mp4(frames, Path(folder) / "clip.mp4", fps=fps)
        return f'<video controls loop muted width="{width}" src="{_data_url(path, "video/mp4")}"></video>'


def timing_summary(runs: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per stage: median, min and max seconds over ``runs``, and the median's share of the summed medians.

    Each run is ``MMGPResult.timings``; a stage missing from any run is an error (the runs are not
    comparable). The median, not the mean, so that one run slowed by another job does not move it.
    """
    if not runs:
        raise ValueError("timing_summary needs at least one run")
    stages = list(runs[0])
    if any(list(run) != stages for run in runs):
        raise ValueError("every run must time the same stages in the same order")
    medians = {stage: statistics.median(run[stage] for run in runs) for stage in stages}
    total = sum(medians.values())
    return {
        stage: {
            "median": medians[stage],
            "min": min(run[stage] for run in runs),
            "max": max(run[stage] for run in runs),
            "share": medians[stage] / total,
        }
        for stage in stages
    }


def timing_markdown(summary: dict[str, dict[str, float]]) -> str:
    """A Markdown table of :func:`timing_summary`, with a total row (sum of the medians)."""
    lines = ["| stage | median (s) | min (s) | max (s) | share |", "|---|---|---|---|---|"]
    for stage, row in summary.items():
        lines.append(f"| {stage} | {row['median']:.3f} | {row['min']:.3f} | {row['max']:.3f} | {row['share']:.0%} |")
    lines.append(f"| **total** | {sum(row['median'] for row in summary.values()):.3f} | | | 100% |")
    return "\n".join(lines)


def manifest_problems(manifest: dict) -> list[str]:
    """Everything wrong with a run's manifest, one sentence each; an empty list means it is valid.

    A valid manifest names the mode, an integer seed, each of the three stages' model id (as in
    ``MODEL_IDS``) and weights source, an ``8k + 1`` frame count with sides that are multiples of
    32, a non-negative time for each stage of :data:`STAGES`, and the library versions.
    """
    problems = []
    if manifest.get("mode") not in ("tiny", "real"):
        problems.append(f"mode is {manifest.get('mode')!r}, not 'tiny' or 'real'")
    seed = manifest.get("seed")
    if not isinstance(seed, int) or isinstance(seed, bool):
        problems.append(f"seed is {seed!r}, not an integer")
    models = manifest.get("models", {})
    for stage, model_id in MODEL_IDS.items():
        entry = models.get(stage)
        if not isinstance(entry, dict) or entry.get("id") != model_id or not entry.get("weights"):
            problems.append(f"models.{stage} must give id {model_id!r} and where its weights came from")
    video = manifest.get("video", {})
    frames = video.get("frames")
    if not isinstance(frames, int) or not is_valid_frame_count(frames):
        problems.append(f"video.frames is {frames!r}, not of the form 8k + 1")
    for side in ("height", "width"):
        value = video.get(side)
        if not isinstance(value, int) or not is_valid_side(value):
            problems.append(f"video.{side} is {value!r}, not a positive multiple of 32")
    seconds = manifest.get("seconds", {})
    for stage in STAGES:
        value = seconds.get(stage)
        if not isinstance(value, (int, float)) or value < 0:
            problems.append(f"seconds.{stage} is {value!r}, not a non-negative number")
    if not manifest.get("versions"):
        problems.append("versions is missing: the library versions are needed to reproduce the run")
    return problems


def build_app(pipeline, videos: dict[str, str | Path | Video], seeds: int = 10, max_steps: int = 24):
    """The capstone app: dropdown of ``videos``, an upload button for the learner's own clip, seed and
    step sliders, a Run button, and the outputs.

    An uploaded file is saved to a temporary folder and added to the dropdown (and chosen). Pressing
    Run calls ``pipeline`` on the chosen clip with the chosen seed and step counts (the stages'
    ``steps`` attributes are set for the call and restored after), then shows the caption, the
    image (PNG), the generated clip (GIF) and the stage timings; a clip the pipeline refuses (not a
    video, damaged, too large) shows its one-line reason instead. Returns the widget.
    """
    import ipywidgets as widgets
    from IPython.display import HTML, Markdown, display

    from mmgp_lesson.capstone.errors import CapstoneError

    videos = dict(videos)
    choice = widgets.Dropdown(options=list(videos), description="video")
    upload = widgets.FileUpload(accept=".mp4,.webm,.gif,.mov,.mkv", multiple=False, description="your clip")

    def add_upload(change):
        for item in change["new"]:
            path = Path(tempfile.mkdtemp(prefix="mmgp-upload-")) / Path(item["name"]).name
            path.write_bytes(bytes(item["content"]))
            videos[f"yours: {path.name}"] = path
        choice.options = list(videos)
        choice.value = list(videos)[-1]

    upload.observe(add_upload, names="value")

    def run(video, seed, image_steps, video_steps):
        saved = pipeline.image.steps, pipeline.video.steps
        pipeline.image.steps, pipeline.video.steps = image_steps, video_steps
        try:
            result = pipeline(videos[video], seed=seed)
        except CapstoneError as error:
            display(Markdown(f"**cannot run on {video}**: {error}"))
            return
        finally:
            pipeline.image.steps, pipeline.video.steps = saved
        display(Markdown(f"**caption**: {result.caption}"))
        display(widgets.HBox([widgets.Image(value=_png_bytes(result.image), width=160), widgets.HTML(gif_html(result.video))]))
        display(HTML(f"<small>{_seconds_line(result.timings)}</small>"))

    app = widgets.interactive(
        run,
        {"manual": True, "manual_name": "Run"},
        video=choice,
        seed=widgets.IntSlider(value=0, min=0, max=seeds - 1, description="seed"),
        image_steps=widgets.IntSlider(value=pipeline.image.steps, min=1, max=max_steps, description="image steps"),
        video_steps=widgets.IntSlider(value=pipeline.video.steps, min=1, max=max_steps, description="video steps"),
    )
    app.children = (upload, *app.children)
    return app


def _png_bytes(image) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _seconds_line(timings: dict[str, float]) -> str:
    return ", ".join(f"{stage} {value:.2f} s" for stage, value in timings.items())
