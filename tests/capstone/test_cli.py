"""``mmgp-lesson run`` and ``demo``: the files they write, and one clean error line for each bad input.

Each bad input must be refused with one line naming the problem and the fix, exit status 2, no
traceback, nothing created, and before torch, diffusers or transformers are imported (checked in a
fresh process, where the imports really are cold).
"""

import json
import signal
import subprocess
import sys
import time

import av
import numpy as np
import pytest

from mmgp_lesson.capstone.tiny import save_tiny_checkpoints
from mmgp_lesson.capstone.understand import UnderstandStage
from mmgp_lesson.capstone.weights import MODEL_IDS
from mmgp_lesson.cli import main
from tests.capstone.test_media import zero_frame_avi

HEAVY = ("torch", "diffusers", "transformers", "jupytext", "nbformat")
"""Libraries no refusal may import: each costs seconds, and a bad input must be refused in well under two."""


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


FAST = ("--mode", "tiny", "--frames", "9", "--quiet")
DEMO_FILES = ("sample.mp4", "caption.txt", "image.png", "video.mp4", "preview.gif", "manifest.json", "timings.json")


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


def test_progress_is_one_line_per_stage_on_stderr_unless_quiet(capsys, sample_video, tmp_path):
    status, out, err = run(capsys, "run", str(sample_video), "--out", str(tmp_path), "--mode", "tiny", "--frames", "9")
    assert status == 0 and "seconds:" in out
    lines = err.strip().splitlines()  # stderr is not a terminal here: no bars
    assert [line.split(":")[0] for line in lines] == ["read", "understand", "image", "video"], err
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert lines[2].startswith(f"image: {manifest['image']['steps']} steps in ") and lines[3].startswith(f"video: {manifest['video']['steps']} steps in ")
    assert run(capsys, "run", str(sample_video), "--out", str(tmp_path), *FAST)[2] == ""  # --quiet


def test_manifest_records_input_hash_command_and_version(capsys, sample_video, tmp_path):
    import hashlib
    from importlib.metadata import version

    arguments = ["run", str(sample_video), "--out", str(tmp_path), *FAST]
    assert run(capsys, *arguments)[0] == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["input_sha256"] == hashlib.sha256(sample_video.read_bytes()).hexdigest()
    assert manifest["command"] == ["mmgp-lesson", *arguments]
    assert manifest["package"] == {"mmgp-lesson": version("mmgp-lesson")}


def test_demo_runs_on_its_generated_clip(capsys, tmp_path):
    status, out, _ = run(capsys, "demo", "--out", str(tmp_path), "--mode", "tiny")
    assert status == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(DEMO_FILES)
    # Every stage is timed (its speed is measured by benchmarks/bench_capstone.py --case pipeline).
    seconds = json.loads((tmp_path / "timings.json").read_text())["seconds"]
    assert sorted(seconds) == ["image", "read", "understand", "video"]
    assert seconds["read"] >= 0 and all(seconds[stage] > 0 for stage in ("understand", "image", "video")), seconds


def wide_avi(path):
    """A one-frame video 4128 pixels wide: over the 4096-pixel limit."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mjpeg", rate=24)
        stream.width, stream.height, stream.pix_fmt = 4128, 16, "yuvj420p"
        frame = av.VideoFrame.from_ndarray(np.zeros((16, 4128, 3), np.uint8), format="rgb24")
        container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def bad_metadata_mp4(path):
    """A playable three-frame mp4 whose title tag is not UTF-8 (PyAV raises UnicodeDecodeError on opening it)."""
    with av.open(str(path), "w", format="mp4") as container:
        container.metadata["title"] = "QQQQQQQQ"
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for level in (0, 100, 200):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.full((32, 32, 3), level, np.uint8), format="rgb24")))
        container.mux(stream.encode())
    path.write_bytes(path.read_bytes().replace(b"QQQQQQQQ", b"\xff\xfe\xfd\xfc" * 2))
    return path


@pytest.fixture(scope="module")
def damaged_weights(tmp_path_factory):
    """The tiny checkpoints in real mode's layout, with SmolVLM's model.safetensors cut in half."""
    folder = save_tiny_checkpoints(tmp_path_factory.mktemp("damaged-weights"))
    weights = folder / MODEL_IDS["understand"] / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    return folder


def bad_inputs(tmp_path, sample_video, damaged_weights):
    """Each bad input of the issue: (video path, extra arguments, words the error must contain)."""
    text = tmp_path / "notes.mp4"
    text.write_text("just text")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(sample_video.read_bytes()[:2000])
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    return {
        "folder as video": (tmp_path, (), ["is a folder, not a video file"]),
        "metadata not UTF-8": (bad_metadata_mp4(tmp_path / "meta.mp4"), (), ["metadata is not valid UTF-8", "re-export"]),
        "seed past 2^63-1": (sample_video, ("--seed", "18446744073709551616"), ["--seed", "outside 0..2^63-1"]),
        "seed not a number": (sample_video, ("--seed", "one"), ["--seed", "not an integer"]),
        "auto with missing --weights": (sample_video, ("--mode", "auto", "--weights", str(tmp_path / "nope")), ["is not a folder"]),
        "auto with empty --weights": (sample_video, ("--mode", "auto", "--weights", str(tmp_path)), ["hf download"]),
        "damaged safetensors": (sample_video, ("--mode", "real", "--weights", str(damaged_weights)), ["model.safetensors is damaged", "hf download HuggingFaceTB"]),
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
        "unknown mode": (sample_video, ("--mode", "huge"), ["argument --mode: invalid choice: 'huge'", "'auto', 'tiny', 'real'"]),
        "zero steps": (sample_video, ("--image-steps", "0"), ["--image-steps 0 is outside 1..200"]),
        "unknown device": (sample_video, ("--device", "tpu"), ["argument --device: invalid choice: 'tpu'", "'cpu', 'cuda'"]),
    }


BAD_INPUTS = (
    "missing file", "not a video", "truncated video", "zero frames", "huge input video", "absurd height",
    "empty prompt", "frames not 8k+1", "height not /32", "width not /32", "unwritable output",
    "real without weights", "unknown mode", "zero steps", "unknown device", "folder as video",
    "metadata not UTF-8", "seed past 2^63-1", "seed not a number", "auto with missing --weights",
    "auto with empty --weights", "damaged safetensors",
)


def arguments_of(case, tmp_path, sample_video, damaged_weights):
    video, extra, words = bad_inputs(tmp_path, sample_video, damaged_weights)[case]
    out = tmp_path / "out"
    return ["run", str(video), "--out", str(out), "--mode", "tiny", "--frames", "9", *extra], out, words


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_gets_one_clear_line(case, capsys, sample_video, tmp_path, damaged_weights):
    assert set(bad_inputs(tmp_path, sample_video, damaged_weights)) == set(BAD_INPUTS)
    arguments, out, words = arguments_of(case, tmp_path, sample_video, damaged_weights)
    status, _, err = run(capsys, *arguments)
    assert_one_line_error(status, err, *words)
    assert not out.exists()  # nothing was created, not even the folder


# Runs in a fresh interpreter: each refusal, then the list of heavy libraries it had imported by then.
_REFUSE_ALL = """
import json, sys
from mmgp_lesson.cli import main
for arguments in json.loads(sys.argv[1]):
    status = main(arguments)
    print(json.dumps([status, sorted(name for name in {heavy} if name in sys.modules)]), flush=True)
"""


def test_every_refusal_comes_before_the_model_libraries_are_imported(sample_video, tmp_path, damaged_weights):
    folders = {case: tmp_path / f"case-{index}" for index, case in enumerate(BAD_INPUTS)}
    for folder in folders.values():
        folder.mkdir()
    cases = {case: arguments_of(case, folder, sample_video, damaged_weights) for case, folder in folders.items()}
    script = _REFUSE_ALL.format(heavy=HEAVY)
    payload = json.dumps([arguments for arguments, _, _ in cases.values()])
    completed = subprocess.run([sys.executable, "-c", script, payload], capture_output=True, text=True, timeout=300)
    assert "Traceback" not in completed.stderr, completed.stderr
    results = [json.loads(line) for line in completed.stdout.splitlines()]
    assert len(results) == len(cases)
    for (case, (_, out, _)), (status, heavy) in zip(cases.items(), results):
        assert status == 2 and heavy == [], (case, status, heavy)
        assert not out.exists(), case


@pytest.mark.parametrize("moment", ["imports", "read", "understand", "image", "video", "writing"])
def test_ctrl_c_says_interrupted_exits_130_and_writes_nothing(tmp_path, moment):
    """A Ctrl-C while the libraries import (1 s in), just after a stage printed its progress line, or as
    soon as the output folder appears (the files are being written)."""
    out = tmp_path / "demo"
    process = subprocess.Popen(
        [sys.executable, "-m", "mmgp_lesson.cli", "demo", "--mode", "tiny", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    printed = []
    if moment == "imports":
        time.sleep(1.0)
    elif moment == "writing":
        while not out.exists():
            assert process.poll() is None, "the demo ended without creating its folder"
            time.sleep(0.001)
    else:
        while not printed or not printed[-1].startswith(f"{moment}:"):
            line = process.stderr.readline()
            assert line, f"the demo ended without a '{moment}:' progress line: {printed}"
            printed.append(line)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    err = "".join(printed) + err
    assert "Traceback" not in err, err
    if process.returncode == 0:
        # Only the writing may be overtaken: the signal came after every file was in place.
        assert moment in ("video", "writing"), err
        assert sorted(p.name for p in out.iterdir()) == sorted(DEMO_FILES)
        return
    # Stages that finished before the signal may have printed their progress line; the last line says why it stopped.
    assert process.returncode == 130 and err.strip().splitlines()[-1] == "mmgp-lesson demo: interrupted", err
    # Nothing half-written: no folder at all, or (a signal that came just after the files were moved into
    # place) every file of a finished run and no temporary.
    if out.exists():
        assert sorted(p.name for p in out.iterdir()) == sorted(DEMO_FILES), sorted(p.name for p in out.iterdir())


def test_empty_caption_is_reported(capsys, sample_video, tmp_path, monkeypatch):
    monkeypatch.setattr(UnderstandStage, "__call__", lambda self, video, question=None: "")
    status, _, err = run(capsys, "run", str(sample_video), "--out", str(tmp_path), *FAST)
    assert_one_line_error(status, err, "empty caption", "--prompt")


def test_the_cli_checks_the_prompt_and_hands_the_pipeline_the_checked_one(capsys, sample_video, tmp_path, monkeypatch):
    from mmgp_lesson.capstone.pipeline import MMGPPipeline
    from mmgp_lesson.capstone.settings import Prompt

    handed = []
    original = MMGPPipeline.__call__
    monkeypatch.setattr(MMGPPipeline, "__call__", lambda self, clip, **k: handed.append(k["prompt"]) or original(self, clip, **k))
    assert run(capsys, "run", str(sample_video), "--out", str(tmp_path), *FAST, "--prompt", "a blue cat")[0] == 0
    assert handed == ["a blue cat"] and isinstance(handed[0], Prompt)  # so the pipeline does not check it again


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
