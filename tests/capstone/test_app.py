"""Tests of mmgp_lesson.capstone.app: inline media, the timing table, the manifest validator, the app."""

import base64
import datetime
import io
import re
import statistics
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from mmgp_lesson.capstone.errors import CapstoneError
from mmgp_lesson.capstone.media import make_sample_video, read_video
from mmgp_lesson.capstone.pipeline import MMGPPipeline
from mmgp_lesson.capstone.app import (
    LICENCES,
    STAGES,
    build_app,
    gif_html,
    manifest_problems,
    mp4_html,
    timing_markdown,
    timing_summary,
)
from mmgp_lesson.capstone.weights import MODEL_IDS


def _payload(html: str, mime: str) -> bytes:
    match = re.search(rf'src="data:{mime};base64,([A-Za-z0-9+/=]+)"', html)
    assert match, f"no inline {mime} in {html[:80]}"
    return base64.b64decode(match.group(1))


def _ramp(frames=24, height=48, width=64):
    """A smooth moving gradient: compresses well, so decoded pixels stay close to the originals."""
    rows, cols = np.mgrid[0:height, 0:width]
    return np.stack([np.stack([(rows * 4 + t) % 256, (cols * 3 + 2 * t) % 256, np.full_like(rows, 128)], -1) for t in range(frames)]).astype(np.uint8)


def test_gif_html_holds_every_other_frame_scaled_down():
    frames = _ramp()
    gif = Image.open(io.BytesIO(_payload(gif_html(frames, fps=12, max_side=32), "image/gif")))
    assert gif.n_frames == len(frames[::2])  # 24 fps -> 12 fps keeps every other frame
    assert max(gif.size) == 32 and gif.size == (32, 24)  # longest side scaled to max_side, aspect kept


def test_mp4_html_decodes_back_to_the_frames(tmp_path):
    frames = _ramp()
    path = tmp_path / "clip.mp4"
    path.write_bytes(_payload(mp4_html(frames), "video/mp4"))
    clip = read_video(path)
    assert clip.frames.shape == frames.shape and clip.fps == 24
    assert np.abs(clip.frames.astype(float) - frames).mean() < 8  # H.264 at crf 18, yuv420p chroma subsampling


def test_timing_summary_medians_ranges_and_shares():
    rng = np.random.default_rng(0)
    runs = [{stage: float(value) for stage, value in zip(STAGES, rng.exponential(size=4))} for _ in range(5)]
    summary = timing_summary(runs)
    assert list(summary) == list(STAGES)
    for stage, row in summary.items():
        values = [run[stage] for run in runs]
        assert row["median"] == statistics.median(values) and row["min"] == min(values) and row["max"] == max(values)
    assert abs(sum(row["share"] for row in summary.values()) - 1) < 1e-12


def test_timing_summary_is_robust_to_one_slow_run_and_rejects_mismatched_runs():
    runs = [{"image": 1.0}, {"image": 1.1}, {"image": 50.0}]
    assert timing_summary(runs)["image"]["median"] == 1.1  # the mean would be 17.4
    with pytest.raises(ValueError):
        timing_summary([{"image": 1.0}, {"video": 1.0}])
    with pytest.raises(ValueError):
        timing_summary([])


def test_timing_markdown_has_a_row_per_stage_and_the_total():
    summary = timing_summary([{"read": 0.5, "video": 1.5}])
    lines = timing_markdown(summary).splitlines()
    assert len(lines) == 2 + len(summary) + 1
    assert lines[-1].startswith("| **total** | 2.000")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    pipeline = MMGPPipeline.build(mode="tiny", frames=9, image_steps=2, video_steps=1)
    return pipeline, pipeline(make_sample_video(tmp_path_factory.mktemp("app") / "clip.mp4", frames=12), seed=0)


def test_a_real_run_manifest_is_valid_and_each_flaw_is_reported(tiny_run):
    manifest = tiny_run[1].manifest
    assert manifest_problems(manifest) == []
    flaws = {
        "frames": lambda m: m["video"].update(frames=48),
        "width": lambda m: m["video"].update(width=70),
        "seed": lambda m: m.update(seed=True),
        "models.video": lambda m: m["models"].pop("video"),
        "seconds.image": lambda m: m["seconds"].update(image=-1.0),
        "versions": lambda m: m.pop("versions"),
    }
    for name, edit in flaws.items():
        broken = {key: (dict(value) if isinstance(value, dict) else value) for key, value in manifest.items()}
        broken["models"] = dict(manifest["models"])
        edit(broken)
        problems = manifest_problems(broken)
        assert len(problems) == 1 and name.split(".")[0] in problems[0], (name, problems)


def test_licences_cover_every_stage_with_its_model_card():
    assert set(LICENCES) == set(MODEL_IDS)
    for stage, row in LICENCES.items():
        assert row["id"] == MODEL_IDS[stage] and row["card"].endswith(MODEL_IDS[stage])


def test_app_passes_the_chosen_settings_and_restores_the_steps(tiny_run):
    calls = []
    result = tiny_run[1]

    class Recorder:
        image = SimpleNamespace(steps=12)
        video = SimpleNamespace(steps=4)

        def __call__(self, video, seed):
            calls.append((video, seed, self.image.steps, self.video.steps))
            return result

    pipeline = Recorder()
    app = build_app(pipeline, {"a": "a.mp4", "b": "b.mp4"})
    controls = {child.description: child for child in app.children if hasattr(child, "description")}
    controls["video"].value, controls["seed"].value = "b", 3
    controls["image steps"].value, controls["video steps"].value = 5, 2
    assert calls == []  # manual: nothing runs until the Run button
    app.update()
    assert calls == [("b.mp4", 3, 5, 2)]
    assert (pipeline.image.steps, pipeline.video.steps) == (12, 4)  # restored after the call


def test_an_uploaded_clip_joins_the_choices_and_runs(sample_video, tmp_path):
    calls = []

    class Recorder:
        image = SimpleNamespace(steps=12)
        video = SimpleNamespace(steps=4)

        def __call__(self, video, seed):
            calls.append(Path(video).read_bytes())
            raise CapstoneError("stop here: only the path that reached the pipeline matters")

    app = build_app(Recorder(), {"a": "a.mp4"})
    controls = {child.description: child for child in app.children if hasattr(child, "description")}
    upload = controls["your clip"]
    upload.value = ({"name": "mine.mp4", "type": "video/mp4", "size": 1, "content": memoryview(sample_video.read_bytes()), "last_modified": datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)},)
    assert controls["video"].options == ("a", "yours: mine.mp4") and controls["video"].value == "yours: mine.mp4"
    app.update()  # a refused clip shows its reason; it does not raise
    assert calls == [sample_video.read_bytes()]
