"""How fast ``mmgp-lesson run`` refuses each bad input, in a fresh process, against the interpreter's own start.

Every case runs ``python -m mmgp_lesson.cli run ...`` in a new process (cold imports, as a user
sees it), ``--repeats`` times, interleaved with the baseline ``python -c pass`` (the cost no command
can beat); the table gives each case's message, exit status, and min / median / max seconds. The
issue's goal is a refusal in under 2 s on a 2-core machine.

    python benchmarks/bench_refusals.py [--repeats 3] [--out benchmarks/results/refusals.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mmgp_lesson.capstone.media import make_sample_video
from mmgp_lesson.capstone.tiny import save_tiny_checkpoints
from mmgp_lesson.capstone.weights import MODEL_IDS


def cases(folder: Path) -> dict[str, list[str]]:
    """Each bad input: a name and the ``run`` arguments after the video path's place."""
    sample = make_sample_video(folder / "sample.mp4")
    text = folder / "notes.mp4"
    text.write_text("just text")
    cut = folder / "cut.mp4"
    cut.write_bytes(sample.read_bytes()[:2000])
    weights = save_tiny_checkpoints(folder / "weights")
    safetensors = weights / MODEL_IDS["understand"] / "model.safetensors"
    safetensors.write_bytes(safetensors.read_bytes()[: safetensors.stat().st_size // 2])
    (folder / "a-file").write_text("")
    out = ["--out", str(folder / "out")]
    return {
        "missing file": [str(folder / "nope.mp4"), *out],
        "a folder as the video": [str(folder), *out],
        "not a video": [str(text), *out],
        "truncated video": [str(cut), *out],
        "--frames 48": [str(sample), *out, "--frames", "48"],
        "--height 100": [str(sample), *out, "--height", "100"],
        "--seed 2^64": [str(sample), *out, "--seed", str(2**64)],
        "--mode foo": [str(sample), *out, "--mode", "foo"],
        "--device tpu": [str(sample), *out, "--device", "tpu"],
        "--device cuda, no GPU": [str(sample), *out, "--device", "cuda"],
        "--prompt '  '": [str(sample), *out, "--prompt", "  "],
        "unwritable --out": [str(sample), "--out", str(folder / "a-file" / "out")],
        "--weights missing (auto)": [str(sample), *out, "--weights", str(folder / "nope")],
        "--mode real, no weights": [str(sample), *out, "--mode", "real", "--weights", str(folder)],
        "damaged model.safetensors": [str(sample), *out, "--mode", "real", "--weights", str(weights)],
    }


def timed(command: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    return time.perf_counter() - start, completed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="benchmarks/results/refusals.json")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        baseline = []
        for name, arguments in cases(Path(folder)).items():
            seconds = []
            for _ in range(args.repeats):
                baseline.append(timed([sys.executable, "-c", "pass"])[0])
                elapsed, completed = timed([sys.executable, "-m", "mmgp_lesson.cli", "run", *arguments])
                seconds.append(elapsed)
            lines = completed.stderr.strip().splitlines()
            rows.append({
                "input": name, "status": completed.returncode, "lines": len(lines), "message": lines[-1] if lines else "",
                "min": min(seconds), "median": statistics.median(seconds), "max": max(seconds),
                "created": (Path(folder) / "out").exists(),
            })
    start = {"min": min(baseline), "median": statistics.median(baseline), "max": max(baseline)}
    print(f"| input | exit | lines | created | s (min / median / max) | message |\n|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['input']} | {row['status']} | {row['lines']} | {row['created']} | "
              f"{row['min']:.2f} / {row['median']:.2f} / {row['max']:.2f} | {row['message']} |")
    print(f"| baseline: python -c pass | | | | {start['min']:.2f} / {start['median']:.2f} / {start['max']:.2f} | |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"cases": rows, "baseline": start, "goal_s": 2.0}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
