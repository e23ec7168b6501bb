"""``mmgp-lesson run`` and ``demo``: the files they write, and one clean error line for each bad input."""

import json
import subprocess
import sys

import av
import numpy as np
import pytest

from mmgp_lesson.capstone.understand import UnderstandStage
from mmgp_lesson.cli import main
from tests.capstone.test_media import zero_frame_avi


def run(capsys, *arguments):
    """Run the CLI in-process; return (exit status, stdout, stderr)."""
    status = main(list(arguments))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_one_line_error(status, err, *words):
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mmgp-lesson run: error: "), err
    assert "Traceback" not in err
    for word in words:
        assert word in lines[0], (word, lines[0])


FAST = ("--mode", "tiny", "--frames", "9")


def test_run_writes_every_file(capsys, sample_video, tmp_path):
    status, out, _ = run(capsys, "run", str(sample_video), "--out", str(tmp_path), *FAST, "--seed", "4")
    assert status == 0 and "mode: tiny random weights" in out
    for name in ("caption.txt", "image.png", "video.mp4", "preview.gif", "manifest.json"):
        assert (tmp_path / name).stat().st_size > 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["seed"] == 4 and manifest["video"]["frames"] == 9
    assert (tmp_path / "caption.txt").read_text().strip() == manifest["caption"]
    with av.open(str(tmp_path / "video.mp4")) as container:
        assert container.streams.video[0].frames == 9


def test_demo_runs_on_its_generated_clip(capsys, tmp_path):
    status, out, _ = run(capsys, "demo", "--out", str(tmp_path), "--mode", "tiny")
    assert status == 0
    assert (tmp_path / "sample.mp4").is_file() and (tmp_path / "video.mp4").is_file()
    seconds = json.loads((tmp_path / "manifest.json").read_text())["seconds"]
    assert sum(seconds.values()) < 60  # the budget for the demo on a 2-core CPU


def wide_avi(path):
    """A one-frame video 4128 pixels wide: over the 4096-pixel limit."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mjpeg", rate=24)
        stream.width, stream.height, stream.pix_fmt = 4128, 16, "yuvj420p"
        frame = av.VideoFrame.from_ndarray(np.zeros((16, 4128, 3), np.uint8), format="rgb24")
        container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def bad_inputs(tmp_path, sample_video):
    """Each bad input of the issue: (video path, extra arguments, words the error must contain)."""
    text = tmp_path / "notes.mp4"
    text.write_text("just text")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(sample_video.read_bytes()[:2000])
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    return {
        "missing file": (tmp_path / "nope.mp4", (), ["no such file", "check the path"]),
        "not a video": (text, (), ["not a video file", "pass an .mp4"]),
        "truncated video": (cut, (), ["truncated or corrupt", "re-export"]),
        "zero frames": (zero_frame_avi(tmp_path / "empty.avi"), (), ["zero video frames", "at least one frame"]),
        "huge input video": (wide_avi(tmp_path / "wide.avi"), (), ["4128x16", "scale it down"]),
        "absurd height": (sample_video, ("--height", "99968"), ["--height 99968 is outside 32..1280"]),
        "empty prompt": (sample_video, ("--prompt", "  "), ["prompt is empty"]),
        "frames not 8k+1": (sample_video, ("--frames", "48"), ["not 8k+1", "use --frames 49"]),
        "height not /32": (sample_video, ("--height", "100"), ["not divisible by 32", "use --height 96"]),
        "width not /32": (sample_video, ("--width", "500"), ["not divisible by 32", "use --width 512"]),
        "unwritable output": (sample_video, ("--out", str(blocker / "out")), ["cannot write to the output folder"]),
        "real without weights": (sample_video, ("--mode", "real", "--weights", str(tmp_path)), ["hf download amused/amused-256"]),
        "unknown mode": (sample_video, ("--mode", "huge"), ["--mode huge is not one of"]),
        "zero steps": (sample_video, ("--image-steps", "0"), ["--image-steps 0 is outside 1..200"]),
        "unknown device": (sample_video, ("--device", "tpu"), ["--device tpu is not cpu or cuda"]),
    }


BAD_INPUTS = (
    "missing file", "not a video", "truncated video", "zero frames", "huge input video", "absurd height",
    "empty prompt", "frames not 8k+1", "height not /32", "width not /32", "unwritable output",
    "real without weights", "unknown mode", "zero steps", "unknown device",
)


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_gets_one_clear_line(case, capsys, sample_video, tmp_path):
    cases = bad_inputs(tmp_path, sample_video)
    assert set(cases) == set(BAD_INPUTS)
    video, extra, words = cases[case]
    out = tmp_path / "out"
    arguments = ["run", str(video), "--out", str(out), "--mode", "tiny", "--frames", "9", *extra]
    status, _, err = run(capsys, *arguments)
    assert_one_line_error(status, err, *words)
    assert not out.exists() or not any(out.iterdir())  # nothing was written


def test_empty_caption_is_reported(capsys, sample_video, tmp_path, monkeypatch):
    monkeypatch.setattr(UnderstandStage, "__call__", lambda self, video, question=None: "")
    status, _, err = run(capsys, "run", str(sample_video), "--out", str(tmp_path), *FAST)
    assert_one_line_error(status, err, "empty caption", "--prompt")


def test_a_failed_run_leaves_the_earlier_files_untouched(capsys, sample_video, tmp_path, monkeypatch):
    assert run(capsys, "run", str(sample_video), "--out", str(tmp_path), *FAST, "--seed", "1")[0] == 0
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}

    def crash_while_encoding(frames, path, fps=24):
        path.write_bytes(b"\x00\x00\x00\x18ftypisom half an mp4")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("mmgp_lesson.capstone.pipeline.write_mp4", crash_while_encoding)
    status, _, err = run(capsys, "run", str(sample_video), "--out", str(tmp_path), *FAST, "--seed", "2")
    assert_one_line_error(status, err, "could not write video.mp4", "No space left")
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before


def test_the_installed_command_exits_cleanly_on_bad_input(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "mmgp_lesson.cli", "run", str(tmp_path / "nope.mp4"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 2 and completed.stdout == ""
    assert completed.stderr.strip().splitlines() == [
        f"mmgp-lesson run: error: {tmp_path / 'nope.mp4'}: no such file; check the path to the input video"
    ]
