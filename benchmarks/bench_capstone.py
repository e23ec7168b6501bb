"""Benchmark the capstone stages: latency and peak memory of each stage against a direct library call.

For every case the script times the direct call of the underlying diffusers/transformers object
("direct") and the capstone's stage doing the same work ("stage"), and reports the overhead
ratio stage / direct. It also times the speed options the stages offer: a static KV cache for
SmolVLM generation, ``torch.compile`` of the aMUSEd U-ViT (its first call, which compiles, is
reported on its own row) and batching several prompts into one aMUSEd call.

- Default (a few minutes on a 2-core CPU): the tiny models on CPU, single-threaded as the CLI runs them.
- ``--real-size``: aMUSEd-256 at its published size with random weights on CPU (slow: minutes).
- On a machine with CUDA, the three models at real size with random weights on the GPU
  (aMUSEd in float16 with its VQ-GAN in float32, SmolVLM2 and LTX-Video in bfloat16).

Latency is the median of ``--repeats`` calls after one warm-up call. Peak memory is, on CPU, the
highest resident set size sampled every millisecond during the calls minus the size before them,
and on CUDA ``torch.cuda.max_memory_allocated`` minus the memory allocated before.

    python benchmarks/bench_capstone.py [--real-size] [--repeats 3] [--out benchmarks/results/capstone.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import threading
import time
from pathlib import Path

import torch

from mmgp_lesson.capstone.image import ImageStage
from mmgp_lesson.capstone.media import FrameSampling, make_sample_video, read_video
from mmgp_lesson.capstone.pipeline import MMGPPipeline, library_versions
from mmgp_lesson.capstone.realsize import parameter_count, real_size_amused, real_size_ltx, real_size_smolvlm
from mmgp_lesson.capstone.understand import UnderstandStage
from mmgp_lesson.capstone.video import VideoStage

PROMPT = "a red ball rolling across a green field"
PAGE = os.sysconf("SC_PAGE_SIZE")


class ResidentPeak:
    """Sample this process's resident memory in a background thread; ``peak`` is the highest seen."""

    def __init__(self):
        self.peak = self.now()
        self._running = True
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @staticmethod
    def now() -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * PAGE

    def _sample(self):
        while self._running:
            self.peak = max(self.peak, self.now())
            time.sleep(0.001)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._running = False
        self._thread.join()
        self.peak = max(self.peak, self.now())


def measure(function, repeats: int, device: str, warmup: bool = True) -> dict:
    """Median seconds of ``repeats`` calls (after one warm-up call) and the peak extra memory in MB."""
    if warmup:
        function()
    times = []
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        for _ in range(repeats):
            start = time.perf_counter()
            function()
            torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
        peak = torch.cuda.max_memory_allocated() - before
    else:
        before = ResidentPeak.now()
        with ResidentPeak() as sampler:
            for _ in range(repeats):
                start = time.perf_counter()
                function()
                times.append(time.perf_counter() - start)
        peak = sampler.peak - before
    return {"seconds": statistics.median(times), "peak_mb": peak / 2**20, "calls": len(times)}


def first_call(function, device: str) -> dict:
    """Time a single call with no warm-up (used for the call that compiles)."""
    return measure(function, repeats=1, device=device, warmup=False)


def row(size: str, device: str, stage: str, variant: str, result: dict, direct: dict | None = None, **extra) -> dict:
    """One line of the table; ``ratio`` is this variant's time over the direct call's."""
    ratio = result["seconds"] / direct["seconds"] if direct else None
    return {"size": size, "device": device, "stage": stage, "variant": variant, **result, "ratio": ratio, **extra}


def bench_understand(stage: UnderstandStage, clip, size: str, device: str, repeats: int) -> list[dict]:
    """SmolVLM: ``model.generate`` on prepared inputs vs the stage (which also prepares them), and static cache."""
    inputs = {name: value.to(device) for name, value in stage.inputs(clip).items()}
    inputs["pixel_values"] = inputs["pixel_values"].to(stage.model.dtype)
    options = stage.generation_options()

    def direct():
        with torch.inference_mode():
            return stage.model.generate(**inputs, **options)

    tokens = int(direct().shape[1] - inputs["input_ids"].shape[1])
    base = measure(direct, repeats, device)
    rows = [row(size, device, "understand", "direct generate", base, base, new_tokens=tokens)]
    rows.append(row(size, device, "understand", "stage", measure(lambda: stage(clip), repeats, device), base))
    static = UnderstandStage(stage.model, stage.image_processor, stage.tokenizer, stage.sampling, stage.max_new_tokens, True)
    rows.append(row(size, device, "understand", "stage, static KV cache", measure(lambda: static(clip), repeats, device), base))
    return rows


def bench_image(stage: ImageStage, size: str, device: str, repeats: int, batch: int) -> list[dict]:
    """aMUSEd: pipeline call vs the stage, the stage with a compiled U-ViT, and batched prompts."""
    pipe = stage.pipe

    def direct():
        generator = torch.Generator("cpu").manual_seed(0)
        return pipe(PROMPT, height=stage.size, width=stage.size, num_inference_steps=stage.steps, generator=generator)

    base = measure(direct, repeats, device)
    rows = [row(size, device, "image", "direct AmusedPipeline", base, base)]
    rows.append(row(size, device, "image", "stage", measure(lambda: stage(PROMPT), repeats, device), base))
    if batch > 1:
        batched = measure(lambda: stage([PROMPT] * batch), repeats, device)
        per_image = {**batched, "seconds": batched["seconds"] / batch}
        rows.append(row(size, device, "image", f"stage, {batch} prompts in one call (per image)", per_image, base))
    eager = stage(PROMPT, seed=1)[0].tobytes()
    compiled = ImageStage(pipe, size=stage.size, steps=stage.steps, compile=True)
    rows.append(row(size, device, "image", "stage, torch.compile: first call", first_call(lambda: compiled(PROMPT), device), base))
    rows.append(row(size, device, "image", "stage, torch.compile", measure(lambda: compiled(PROMPT), repeats, device, warmup=False), base))
    # The compiled U-ViT must draw the same pixels as the eager one for one seed. Checked here rather than
    # in the test suite because compiling takes 20-80 s on a 2-core machine.
    assert compiled(PROMPT, seed=1)[0].tobytes() == eager, "torch.compile changed the aMUSEd image"
    pipe.transformer = pipe.transformer._orig_mod  # undo the compile for any later use of the pipe
    return rows


def bench_video(stage: VideoStage, size: str, device: str, repeats: int) -> list[dict]:
    """LTX-Video: pipeline call vs the stage (which also converts frames to uint8)."""
    pipe = stage.pipe

    def direct():
        return pipe(
            prompt=PROMPT,
            num_frames=stage.frames,
            height=stage.height,
            width=stage.width,
            num_inference_steps=stage.steps,
            frame_rate=stage.fps,
            max_sequence_length=stage.max_sequence_length,
            generator=torch.Generator("cpu").manual_seed(0),
            output_type="np",
        )

    base = measure(direct, repeats, device)
    return [
        row(size, device, "video", "direct LTXPipeline", base, base),
        row(size, device, "video", "stage", measure(lambda: stage(PROMPT), repeats, device), base),
    ]


def bench_tiny(clip_path: Path, repeats: int) -> list[dict]:
    """All three tiny stages and the whole tiny pipeline on CPU, single-threaded."""
    torch.set_num_threads(1)
    understand = UnderstandStage.tiny()
    clip = read_video(clip_path, sampling=understand.sampling)
    rows = bench_understand(understand, clip, "tiny", "cpu", repeats)
    rows += bench_image(ImageStage.tiny(), "tiny", "cpu", repeats, batch=8)
    rows += bench_video(VideoStage.tiny(), "tiny", "cpu", repeats)
    pipeline = MMGPPipeline.build(mode="tiny")
    rows.append(row("tiny", "cpu", "pipeline", "MMGPPipeline, 49 frames", measure(lambda: pipeline(clip_path), repeats, "cpu")))
    return rows


def bench_real_size_amused_cpu(steps: int) -> list[dict]:
    """aMUSEd-256 at published size, random weights, CPU, all cores: one timed call per variant."""
    torch.set_num_threads(os.cpu_count())
    pipe = real_size_amused()
    stage = ImageStage(pipe, size=256, steps=steps)
    rows = bench_image(stage, "real", "cpu", repeats=1, batch=1)
    for entry in rows:
        entry["parameters_m"] = round(sum(parameter_count(getattr(pipe, part)) for part in ("transformer", "vqvae", "text_encoder")) / 1e6, 1)
    return rows


def bench_real_size_cuda(clip_path: Path, repeats: int) -> list[dict]:
    """The three models at published size with random weights on the GPU."""
    rows = []
    with torch.device("cuda"):
        amused = real_size_amused()
    amused.transformer.half()
    amused.text_encoder.half()
    rows += bench_image(ImageStage(amused, size=256, steps=12), "real", "cuda", repeats, batch=8)
    del amused

    with torch.device("cuda"):
        model, image_processor, tokenizer = real_size_smolvlm()
    eight = FrameSampling(fps=4.0, max_frames=8)  # 8 frames of the 2 s clip (SmolVLM2's own rule would take 2)
    understand = UnderstandStage(model.to(torch.bfloat16), image_processor, tokenizer, sampling=eight, max_new_tokens=64)
    rows += bench_understand(understand, read_video(clip_path, sampling=eight), "real", "cuda", repeats)
    del model, understand

    with torch.device("cuda"):
        ltx = real_size_ltx()
    ltx.to(dtype=torch.bfloat16)
    rows += bench_video(VideoStage(ltx, frames=49, height=512, width=704, steps=10), "real", "cuda", repeats=1)
    return rows


HEADER = f"{'size':<5} {'device':<6} {'stage':<10} {'variant':<48} {'seconds':>9} {'peak MB':>9} {'vs direct':>9}"


def format_row(entry: dict) -> str:
    """One table line: latency, peak memory, and the ratio to the direct call."""
    ratio = f"{entry['ratio']:.2f}x" if entry["ratio"] is not None else "-"
    return (
        f"{entry['size']:<5} {entry['device']:<6} {entry['stage']:<10} {entry['variant']:<48} "
        f"{entry['seconds']:>9.3f} {entry['peak_mb']:>9.1f} {ratio:>9}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/capstone.json", help="where to write the JSON results")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per case after one warm-up (default 5)")
    parser.add_argument("--real-size", action="store_true", help="also time aMUSEd-256 at full size on the CPU (minutes)")
    parser.add_argument("--real-size-steps", type=int, default=12, help="aMUSEd steps at full size on CPU (default 12)")
    args = parser.parse_args(argv)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = tempfile.TemporaryDirectory(prefix="mmgp-bench-")  # the sample clip never lands beside the results
    clip_path = make_sample_video(Path(scratch.name) / "bench_sample.mp4")
    sections = [lambda: bench_tiny(clip_path, args.repeats)]
    if args.real_size:
        sections.append(lambda: bench_real_size_amused_cpu(args.real_size_steps))
    if torch.cuda.is_available():
        sections.append(lambda: bench_real_size_cuda(clip_path, args.repeats))
    rows = []
    print(HEADER + "\n" + "-" * len(HEADER), flush=True)
    for section in sections:
        for entry in section():
            print(format_row(entry), flush=True)
            rows.append(entry)
    scratch.cleanup()

    machine = {
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }
    out.write_text(json.dumps({"machine": machine, "versions": library_versions(), "rows": rows}, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
