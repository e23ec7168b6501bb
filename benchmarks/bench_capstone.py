"""Benchmark the capstone stages: interleaved timings with their spread, and peak memory measured in fresh processes.

**Cases** (the first variant of each is the direct library call the others are compared with):

- understand: SmolVLM ``model.generate`` on inputs prepared once, against the stage (which also
  prepares the inputs from the frames on every call), and the stage with a static KV cache;
- image: the ``AmusedPipeline`` call against the stage, the stage given 8 prompts in one batched
  call (seconds per image), and the stage with a ``torch.compile``'d U-ViT (its first call, which
  compiles, is timed on a row of its own; its image must equal the eager one, pixel for pixel);
- video: the ``LTXPipeline`` call against the stage (which also converts the frames to uint8);
- pipeline (tiny only): one whole ``MMGPPipeline`` run on the sample clip.

**Timing.** Within a case every variant runs once per round, ``--repeats`` rounds after one warm-up
round (:func:`timing.interleaved`), so a slow spell of the shared machine hits every variant alike;
each row gives min / median / max, the ratio to the direct call with its range, and "within noise"
where the two ranges overlap (:func:`timing.ratio`). A stage does strictly more work than its direct
call, so a ratio below 1 outside noise is a fault of the comparison. Before this was fixed the stages
read 0.57-0.95x: the stages run under ``torch.inference_mode`` while the libraries' ``__call__`` only
uses ``no_grad`` (which still records autograd version counters and views), so both sides now run
under ``inference_mode``, on the same thread count (tiny: 1, as the CLI runs them), the same
dtypes and the same seeded CPU generator.

**Memory.** Each variant's peak runs in a fresh child process (``--child``, this script run again):
it imports, builds the case, then resets the kernel's high-water mark of its resident set (writing
``5`` to ``/proc/self/clear_refs``), makes one call of the variant, and reports the high-water mark
minus the resident set at the reset (on CUDA: ``torch.cuda.max_memory_allocated`` minus the memory
allocated before). A fresh process per variant means no allocator cache left by another variant can
hide its allocations, so identical work gives the same number from one run to the next. The
compiled variant's peak includes compiling.

**Real size** (``--real-size``, and always with ``--device cuda``): the three models at their published
sizes with random weights (:mod:`mmgp_lesson.capstone.realsize`), each in its own child process. One
real library call that does a single step (aMUSEd: 1 unmasking step; LTX-Video: 1 denoising step;
SmolVLM2: 2 new tokens), followed on the diffusion models by one decoder call, runs once to measure
each part's peak memory (and warm up), then ``--step-repeats`` times; forward hooks time each part
inside it (text encoder, one step, decoder; SmolVLM2's vision encoder, prompt prefill and one decoding
step). The table states the extrapolation to a full run: Σ (times the part runs in a full run) × (its
seconds) + the rest of the call (wall time minus the measured parts: tokenising, scheduler, copies).
A full-size step on 2 CPU cores takes from 30 s (aMUSEd) to 10 minutes (LTX-Video), so on the CPU,
to finish in minutes, each big stack is built with one block and the part is its measured time plus
the missing blocks times the block's time (U-ViT: 1 of 22 layers; SigLIP: 1 of 12; SmolLM2: 1 of 30;
LTX DiT: 1 of 28 blocks; T5-XXL: 1 of 24 blocks; the full LTX pair is 27 GB in float32 and would not
fit anyway), and the convolutional
decoders, whose cost grows in proportion to the pixels they write, decode less and are scaled: the
VQ-GAN an 8x8 token grid (128x128, x4), the LTX VAE one latent frame (1 output frame, x49). Peak
memory is that of the part as built (a block's activations, not the full stack's weights, which are
in the baseline). Real-size output files are never written (the sample clip lives in a temporary folder).

**CUDA** (``--device cuda``): the cases at published size with random weights on the GPU, in the
dtypes of real mode (:data:`mmgp_lesson.capstone.pipeline.STAGE_DTYPES`: SmolVLM2 and LTX-Video in
bfloat16, aMUSEd in float16 with its VQ-GAN in float32), batched aMUSEd, static KV cache,
``torch.compile`` (mode "reduce-overhead"), then the real-size steps table with the full models.
Refused in one line where no GPU is visible.

``--case NAME`` (repeatable) runs only those cases; ``--no-memory`` skips the child processes (each pays
the imports, about 5 s), leaving the memory column empty.

    python benchmarks/bench_capstone.py [--repeats 5] [--quick] [--case NAME ...] [--no-memory] [--real-size]
        [--step-repeats 3] [--device cpu|cuda] [--out PATH]
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch

from mmgp_lesson.capstone.image import ImageStage
from mmgp_lesson.capstone.media import make_sample_video, read_video
from mmgp_lesson.capstone.models import CONFIGS, build_amused, build_ltx, build_smolvlm
from mmgp_lesson.capstone.pipeline import STAGE_DTYPES, MMGPPipeline, library_versions
from mmgp_lesson.capstone.realsize import parameter_count
from mmgp_lesson.capstone.understand import UnderstandStage
from mmgp_lesson.capstone.video import VideoStage

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/timing.py, beside this script
from timing import interleaved, ratio, spread

PROMPT = "a red ball rolling across a green field"
BATCH = 8
"""Prompts in the batched aMUSEd call."""
COMPILED = "stage, torch.compile"
RESULTS = Path(__file__).resolve().parent / "results" / "capstone.json"
SCRIPT = Path(__file__).resolve()
CPU_BLOCKS = 1
"""Blocks of each big transformer stack (aMUSEd's U-ViT, SmolVLM2's SigLIP and SmolLM2, LTX-Video's DiT and T5) built
on the CPU; the rest is extrapolated from the block's time."""


def default(stage: type, name: str):
    """A stage's default setting (what a full run does), read from its signature: the stage is its one home."""
    return inspect.signature(stage).parameters[name].default


IMAGE_SIZE, IMAGE_STEPS = default(ImageStage, "size"), default(ImageStage, "steps")
FRAMES, HEIGHT, WIDTH, VIDEO_STEPS = (default(VideoStage, name) for name in ("frames", "height", "width", "steps"))
CAPTION_TOKENS = default(UnderstandStage, "max_new_tokens")


# ---------------------------------------------------------------- settings: size, device, dtypes


@dataclass(frozen=True)
class Setting:
    """What a case runs on: ``size`` "tiny" (the CI models) or "published" (random weights at real size), and ``device``."""

    size: str
    device: str

    def configure(self) -> None:
        """Threads as the CLI runs the tiny models (1: a second thread only adds synchronisation); all cores at real size."""
        torch.set_num_threads(1 if self.size == "tiny" else os.cpu_count())

    def dtype(self, stage: str) -> torch.dtype:
        """The dtype of a stage's model: real mode's (``STAGE_DTYPES``); the tiny models always run in float32."""
        return torch.float32 if self.size == "tiny" else STAGE_DTYPES[self.device][stage]

    def build(self, builder, **options):
        """``builder("published", **options)`` made directly on the setting's device (random init on a GPU is fast)."""
        with torch.device(self.device):
            return builder("published", **options)


def place_amused(pipe, setting: Setting):
    """aMUSEd's U-ViT and text encoder in the image stage's dtype; its VQ-GAN stays float32 (NaNs in float16),
    as :meth:`ImageStage.from_pretrained` loads it."""
    dtype = setting.dtype("image")
    pipe.transformer.to(dtype)
    pipe.text_encoder.to(dtype)
    return pipe


def place_smolvlm(built, setting: Setting):
    """SmolVLM2 in the understand stage's dtype: ``(model, image_processor, tokenizer)``."""
    model, image_processor, tokenizer = built
    return model.to(setting.dtype("understand")), image_processor, tokenizer


def place_ltx(pipe, setting: Setting):
    """LTX-Video (DiT, VAE, T5) in the video stage's dtype."""
    return pipe.to(dtype=setting.dtype("video"))


def synced(run: Callable[[], object], device: str) -> Callable[[], object]:
    """``run`` followed by a CUDA synchronisation on the GPU, so its wall time covers the work it queued."""
    if device != "cuda":
        return run

    def run_and_wait():
        result = run()
        torch.cuda.synchronize()
        return result

    return run_and_wait


# ---------------------------------------------------------------- memory


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))


class Peak:
    """Peak memory of the work between :meth:`start` and :meth:`stop`, above what was in use at :meth:`start`.

    CPU: the kernel's exact high-water mark of this process's resident set (``VmHWM``), reset to the
    current resident set at :meth:`start`; no sampling, so no peak is missed. CUDA: torch's peak of
    allocated bytes.
    """

    def __init__(self, device: str):
        self.device = device

    def start(self) -> None:
        if self.device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
        else:
            with open("/proc/self/clear_refs", "w") as clear:
                clear.write("5")  # VmHWM := VmRSS
            self.base = _status_kb("VmRSS") * 1024

    def stop(self) -> float:
        """Megabytes (2^20 bytes) above the start."""
        if self.device == "cuda":
            torch.cuda.synchronize()
            return (torch.cuda.max_memory_allocated() - self.base) / 2**20
        return (_status_kb("VmHWM") * 1024 - self.base) / 2**20


# ---------------------------------------------------------------- the cases: direct call vs stage


@dataclass
class Variant:
    """One way to do a case's work: ``run()`` does ``work`` times the direct call's work (seconds are divided by it)."""

    run: Callable[[], object]
    work: int = 1


def understand_variants(setting: Setting, clip_path: Path, quick: bool) -> dict[str, Variant]:
    """SmolVLM: ``generate`` on inputs prepared once vs the stage, which prepares them (strictly more work), and a static cache."""
    if setting.size == "tiny":
        stage = UnderstandStage.tiny()
    else:
        stage = UnderstandStage(*place_smolvlm(setting.build(build_smolvlm), setting))
    clip = read_video(clip_path, sampling=stage.sampling)
    inputs = {name: value.to(stage.model.device) for name, value in stage.inputs(clip).items()}
    inputs["pixel_values"] = inputs["pixel_values"].to(stage.model.dtype)
    options = stage.generation_options()
    static = UnderstandStage(stage.model, stage.image_processor, stage.tokenizer, stage.sampling, stage.max_new_tokens, True)

    def direct():
        with torch.inference_mode():
            return stage.model.generate(**inputs, **options)

    return {"direct generate": Variant(direct), "stage": Variant(lambda: stage(clip)),
            "stage, static KV cache": Variant(lambda: static(clip))}


def image_variants(setting: Setting, clip_path: Path, quick: bool) -> dict[str, Variant]:
    """aMUSEd: the pipeline call vs the stage, batched prompts, and (unless ``quick``) a compiled U-ViT on its own pipe."""
    if setting.size == "tiny":
        stage = ImageStage.tiny()
    else:
        stage = ImageStage(place_amused(setting.build(build_amused), setting))
    pipe = stage.pipe

    def direct():
        with torch.inference_mode():
            generator = torch.Generator("cpu").manual_seed(0)
            return pipe(PROMPT, height=stage.size, width=stage.size, num_inference_steps=stage.steps, generator=generator)

    variants = {"direct AmusedPipeline": Variant(direct), "stage": Variant(lambda: stage(PROMPT)),
                f"stage, {BATCH} prompts in one call (per image)": Variant(lambda: stage([PROMPT] * BATCH), work=BATCH)}
    if not quick:  # a pipe of its own sharing the weights, so compiling leaves the other variants' U-ViT eager
        compiled = ImageStage(type(pipe)(**pipe.components), size=stage.size, steps=stage.steps, compile=True)
        variants[COMPILED] = Variant(lambda: compiled(PROMPT))
    return variants


def video_variants(setting: Setting, clip_path: Path, quick: bool) -> dict[str, Variant]:
    """LTX-Video: the pipeline call vs the stage, which also converts the frames to uint8."""
    if setting.size == "tiny":
        stage = VideoStage.tiny()
    else:
        stage = VideoStage(place_ltx(setting.build(build_ltx), setting))
    pipe = stage.pipe

    def direct():
        with torch.inference_mode():
            return pipe(prompt=PROMPT, num_frames=stage.frames, height=stage.height, width=stage.width,
                        num_inference_steps=stage.steps, frame_rate=stage.fps, max_sequence_length=stage.max_sequence_length,
                        generator=torch.Generator("cpu").manual_seed(0), output_type="np")

    return {"direct LTXPipeline": Variant(direct), "stage": Variant(lambda: stage(PROMPT))}


def pipeline_variants(setting: Setting, clip_path: Path, quick: bool) -> dict[str, Variant]:
    """The whole tiny pipeline on the sample clip (no direct counterpart)."""
    pipeline = MMGPPipeline.build(mode="tiny")
    return {f"MMGPPipeline, {pipeline.video.frames} frames": Variant(lambda: pipeline(clip_path))}


CASES = {"understand": understand_variants, "image": image_variants, "video": video_variants, "pipeline": pipeline_variants}


def time_case(case: str, setting: Setting, clip_path: Path, repeats: int, quick: bool) -> list[dict]:
    """Rows of one case: every variant interleaved after a warm-up round, with spreads and ratios to the direct call."""
    variants = CASES[case](setting, clip_path, quick)
    runs = {name: synced(variant.run, setting.device) for name, variant in variants.items()}
    first_call = []
    if COMPILED in runs:
        start = time.perf_counter()
        first = runs[COMPILED]()
        first_call = [{"variant": COMPILED + ": first call (compiles)", "seconds": spread([time.perf_counter() - start]),
                       "calls": 1, "ratio": None, "memory": None}]
        # The compiled U-ViT must draw the pixels the eager one draws for the same seed.
        assert first[0].tobytes() == runs["stage"]()[0].tobytes(), "torch.compile changed the aMUSEd image"
    seconds = interleaved(runs, repeats=repeats, warmup=1)
    per_work = {name: [value / variants[name].work for value in values] for name, values in seconds.items()}
    direct = next(iter(per_work)) if case != "pipeline" else None
    rows = [{"variant": name, "seconds": spread(values), "calls": len(values),
             "ratio": ratio(values, per_work[direct]) if direct and name != direct else None, "memory": (case, name)}
            for name, values in per_work.items()]
    rows += first_call  # after the direct call's row, which opens the case
    return [{"size": setting.size, "device": setting.device, "stage": case, **entry} for entry in rows]


def variant_peak(case: str, name: str, setting: Setting, clip_path: Path, quick: bool) -> dict:
    """(In a child process) one call of one variant after building its case: peak MB above the memory after the build."""
    variants = CASES[case](setting, clip_path, quick)
    probe = Peak(setting.device)
    probe.start()
    synced(variants[name].run, setting.device)()
    return {"peak_mb": probe.stop(), "pid": os.getpid()}


# ---------------------------------------------------------------- real size: single steps, extrapolated


class Stopwatch:
    """Forward hooks on named modules: the seconds of each call, and while ``memory`` is on, each call's peak memory."""

    def __init__(self, device: str):
        self.device = device
        self.seconds: dict[str, list[float]] = defaultdict(list)
        self.peaks: dict[str, list[float]] = defaultdict(list)
        self.memory = False
        self.nested: set[str] = set()

    def watch(self, name: str, module: torch.nn.Module, nested: bool = False) -> None:
        """Time every call of ``module`` under ``name``; ``nested``: it runs inside another watched module (a block),
        so its time is not counted twice and its memory is not measured (resetting the high-water mark inside the
        outer module would cut the outer module's peak short)."""
        if nested:
            self.nested.add(name)
        probe, started = Peak(self.device), []

        def before(module, args):
            if self.memory and not nested:
                probe.start()
            elif self.device == "cuda":
                torch.cuda.synchronize()
            started.append(time.perf_counter())

        def after(module, args, output):
            if self.memory and not nested:
                self.peaks[name].append(probe.stop())
            elif self.device == "cuda":
                torch.cuda.synchronize()
            self.seconds[name].append(time.perf_counter() - started.pop())

        module.register_forward_pre_hook(before)
        module.register_forward_hook(after)

    def clear(self) -> None:
        self.seconds.clear()

    def outer_seconds(self) -> float:
        """Seconds spent in the watched modules that are not nested in others (the measured, unscaled parts)."""
        return sum(sum(values) for name, values in self.seconds.items() if name not in self.nested)


@dataclass
class StepRun:
    """A real-size model set up for one-step calls: ``call`` runs the library once; ``parts(seconds)`` turns the hooks'
    seconds of that call into each part's seconds; ``per_run`` says how often each part runs in a full run."""

    model: str
    parameters: int
    call: Callable[[], object]
    stopwatch: Stopwatch
    parts: Callable[[dict[str, list[float]]], dict[str, float]]
    per_run: dict[str, int]
    note: str
    peaks: Callable[[dict[str, list[float]]], dict[str, float]] | None = None
    """Each part's peak MB from the hooks' peaks of one call; by default the highest peak of the module named as the part."""

    def part_peaks(self, peaks: dict[str, list[float]]) -> dict[str, float]:
        return self.peaks(peaks) if self.peaks else {name: max(peaks[name]) for name in self.per_run}


def amused_steps(device: str) -> StepRun:
    """aMUSEd-256: the text encoder (prompt and empty negative prompt), one U-ViT unmasking step (CFG: batch 2) on the
    16x16 token grid, VQ-GAN decoding. On the CPU the U-ViT has :data:`CPU_BLOCKS` of its 22 layers and the decoder
    draws an 8x8 grid (128x128 pixels; its convolutions cost in proportion to the pixels: x4 for 256x256)."""
    published = CONFIGS["amused"]["published"]
    layers, reduce = published["transformer"]["num_hidden_layers"], device == "cpu"
    built = CPU_BLOCKS if reduce else layers
    grid = published["transformer"]["sample_size"]
    decoded = grid // 2 if reduce else grid
    setting = Setting("published", device)
    with torch.device("meta"):
        count = sum(parameter_count(module) for module in build_amused("published").components.values()
                    if isinstance(module, torch.nn.Module))
    pipe = place_amused(setting.build(build_amused, overrides={"transformer": {**published["transformer"], "num_hidden_layers": built}}), setting)
    pipe.set_progress_bar_config(disable=True)
    clock = Stopwatch(device)
    for name, module in (("text encoder", pipe.text_encoder), ("U-ViT step", pipe.transformer),
                         ("VQ-GAN decoder", pipe.vqvae.decoder)):
        clock.watch(name, module)
    clock.watch("U-ViT step block", pipe.transformer.transformer_layers[0], nested=True)
    tokens = torch.zeros(1, decoded, decoded, dtype=torch.long, device=device)
    shape = (1, decoded, decoded, published["vqvae"]["latent_channels"])

    def call():
        with torch.inference_mode():
            pipe(PROMPT, height=IMAGE_SIZE, width=IMAGE_SIZE, num_inference_steps=1, output_type="latent",
                 generator=torch.Generator("cpu").manual_seed(0))
            return pipe.vqvae.decode(tokens, force_not_quantize=True, shape=shape)

    def parts(s):
        return {"text encoder": sum(s["text encoder"]),
                "U-ViT step": sum(s["U-ViT step"]) + (layers - built) * sum(s["U-ViT step block"]),
                "VQ-GAN decoder": sum(s["VQ-GAN decoder"]) * (grid / decoded) ** 2}

    note = f"{IMAGE_STEPS} unmasking steps, {IMAGE_SIZE}x{IMAGE_SIZE}"
    if reduce:
        side = IMAGE_SIZE * decoded // grid
        note += f"; built with {built} of {layers} U-ViT layers, decoder timed at {side}x{side} and scaled"
    return StepRun("aMUSEd-256", count, call, clock, parts, {"text encoder": 1, "U-ViT step": IMAGE_STEPS, "VQ-GAN decoder": 1}, note)


def smolvlm_steps(device: str, clip_path: Path) -> StepRun:
    """SmolVLM2-256M on the sample clip: the vision encoder, the prefill of the prompt, one decoding step (two new tokens).
    On the CPU the SigLIP encoder and the language model have :data:`CPU_BLOCKS` of their 12 and 30 layers."""
    published = CONFIGS["smolvlm"]["published"]
    layers = {"vision": published["vision"]["num_hidden_layers"], "text": published["text"]["num_hidden_layers"]}
    built = {name: CPU_BLOCKS if device == "cpu" else count for name, count in layers.items()}
    setting = Setting("published", device)
    with torch.device("meta"):
        count = parameter_count(build_smolvlm("published")[0])
    overrides = {name: {**published[name], "num_hidden_layers": built[name]} for name in layers}
    stage = UnderstandStage(*place_smolvlm(setting.build(build_smolvlm, overrides=overrides), setting), max_new_tokens=2)
    clip = read_video(clip_path, sampling=stage.sampling)
    inputs = {name: value.to(stage.model.device) for name, value in stage.inputs(clip).items()}
    inputs["pixel_values"] = inputs["pixel_values"].to(stage.model.dtype)
    options = {**stage.generation_options(), "min_new_tokens": 2}  # random weights must not stop at an end token
    clock = Stopwatch(device)
    vision, text = stage.model.model.vision_model, stage.model.model.text_model
    clock.watch("vision", vision)  # generate runs it before the first forward, not inside it
    clock.watch("vision block", vision.encoder.layers[0], nested=True)
    clock.watch("forward", stage.model)  # the prefill, then one decoding step
    clock.watch("text block", text.layers[0], nested=True)
    missing = {name: layers[name] - built[name] for name in layers}

    def parts(s):
        return {"vision encoder": sum(s["vision"]) + missing["vision"] * sum(s["vision block"]),
                "prefill (prompt)": s["forward"][0] + missing["text"] * s["text block"][0],
                "decoding step": s["forward"][1] + missing["text"] * s["text block"][1]}

    def call():
        with torch.inference_mode():
            return stage.model.generate(**inputs, **options)

    note = f"{len(clip.frames)} frames of the 2 s sample clip, up to {CAPTION_TOKENS} caption tokens"
    if built != layers:
        note += f"; built with {built['vision']} of {layers['vision']} SigLIP and {built['text']} of {layers['text']} SmolLM2 layers"
    return StepRun("SmolVLM2-256M", count, call, clock, parts,
                   {"vision encoder": 1, "prefill (prompt)": 1, "decoding step": CAPTION_TOKENS - 1}, note,
                   peaks=lambda p: {"vision encoder": max(p["vision"]), "prefill (prompt)": p["forward"][0], "decoding step": p["forward"][1]})


def ltx_steps(device: str) -> StepRun:
    """LTX-Video: T5-XXL encoding (prompt and negative prompt), one DiT denoising step (CFG: batch 2) at 49x512x704,
    VAE decoding. On the CPU the DiT and T5 have :data:`CPU_BLOCKS` of their 28 and 24 blocks, and the VAE decodes one
    latent frame (the first output frame; its cost is taken as proportional to the 49 output frames)."""
    published = CONFIGS["ltx"]["published"]
    frames, height, width = FRAMES, HEIGHT, WIDTH
    with torch.device("meta"):
        full = build_ltx("published")
    blocks = {"DiT step": full.transformer.config.num_layers, "T5-XXL encoder": full.text_encoder.config.num_layers}
    count = sum(parameter_count(getattr(full, part)) for part in ("transformer", "vae", "text_encoder"))
    reduce = device == "cpu"
    built = {name: CPU_BLOCKS if reduce else layers for name, layers in blocks.items()}
    setting = Setting("published", device)
    pipe = place_ltx(setting.build(build_ltx, overrides={"transformer": {**published["transformer"], "num_layers": built["DiT step"]},
                                               "text_encoder": {**published["text_encoder"], "num_layers": built["T5-XXL encoder"]}}), setting)
    pipe.set_progress_bar_config(disable=True)
    clock = Stopwatch(device)
    for name, module, block in (("DiT step", pipe.transformer, pipe.transformer.transformer_blocks[0]),
                                ("T5-XXL encoder", pipe.text_encoder, pipe.text_encoder.encoder.block[0])):
        clock.watch(name, module)
        clock.watch(name + " block", block, nested=True)
    clock.watch("VAE decoder", pipe.vae.decoder)
    latent_frames = 1 if reduce else (frames - 1) // pipe.vae_temporal_compression_ratio + 1
    latent = torch.randn(1, pipe.vae.config.latent_channels, latent_frames, height // pipe.vae_spatial_compression_ratio,
                         width // pipe.vae_spatial_compression_ratio, generator=torch.Generator("cpu").manual_seed(0))
    latent = latent.to(device, pipe.vae.dtype)
    decoded_frames = (latent_frames - 1) * pipe.vae_temporal_compression_ratio + 1

    def call():
        with torch.inference_mode():
            pipe(prompt=PROMPT, num_frames=frames, height=height, width=width, num_inference_steps=1, output_type="latent",
                 generator=torch.Generator("cpu").manual_seed(0))
            return pipe.vae.decode(latent, None, return_dict=False)

    def parts(s):
        # T5 runs twice per call (prompt, negative prompt): every part is the sum over its calls
        scaled = {name: sum(s[name]) + (blocks[name] - built[name]) * sum(s[name + " block"]) for name in blocks}
        return {**scaled, "VAE decoder": sum(s["VAE decoder"]) * frames / decoded_frames}

    note = f"{VIDEO_STEPS} denoising steps, {frames} frames of {height}x{width}"
    if reduce:
        note += ("; built with " + ", ".join(f"{built[name]} of {blocks[name]} {name.split()[0]} blocks" for name in blocks)
                 + f", VAE timed on {decoded_frames} frame and scaled")
    return StepRun("LTX-Video", count, call, clock, parts, {"T5-XXL encoder": 1, "DiT step": VIDEO_STEPS, "VAE decoder": 1}, note)


STEP_MODELS = ("amused", "smolvlm", "ltx")


def time_steps(model: str, device: str, clip_path: Path, repeats: int) -> dict:
    """(In a child process) a one-step call of a real-size model: memory on the first call, then timed after a warm-up."""
    Setting("published", device).configure()
    run = {"amused": lambda: amused_steps(device), "smolvlm": lambda: smolvlm_steps(device, clip_path),
           "ltx": lambda: ltx_steps(device)}[model]()
    clock = run.stopwatch
    clock.memory = True
    run.call()  # the first call in a fresh process, also the warm-up: each part's peak above the memory in use as it starts
    peaks = run.part_peaks(clock.peaks)
    clock.memory = False
    parts, rest = defaultdict(list), []
    for _ in range(repeats):
        clock.clear()
        start = time.perf_counter()
        synced(run.call, device)()
        rest.append(time.perf_counter() - start - clock.outer_seconds())
        for name, seconds in run.parts(clock.seconds).items():
            parts[name].append(seconds)
    full = [rest[index] + sum(run.per_run[name] * parts[name][index] for name in parts) for index in range(repeats)]
    return {
        "model": run.model, "parameters": run.parameters, "note": run.note, "pid": os.getpid(),
        "parts": [{"part": name, "seconds": spread(values), "per_run": run.per_run[name], "peak_mb": peaks[name]}
                  for name, values in parts.items()],
        "rest_of_call": spread(rest),
        "full_run_extrapolated": spread(full),
    }


# ---------------------------------------------------------------- child processes


CHILD_ENVIRONMENT = {"PYTHONHASHSEED": "0", "MALLOC_ARENA_MAX": "1", "MALLOC_MMAP_THRESHOLD_": str(64 * 1024)}
"""What makes a child's allocations repeat from one run to the next: one hash seed (dict and set layouts), one malloc
arena, and a fixed mmap threshold (glibc otherwise raises it as blocks are freed, so whether a tensor's memory comes
from the heap, and stays resident after it is freed, depends on what ran before)."""


def in_child(job: dict) -> dict:
    """Run ``job`` in a fresh Python process (this script with ``--child``) and return its JSON answer."""
    completed = subprocess.run([sys.executable, str(SCRIPT), "--child", json.dumps(job)], capture_output=True, text=True, check=False,
                               env={**os.environ, **CHILD_ENVIRONMENT})
    if completed.returncode:
        raise RuntimeError(f"child {job} failed:\n{completed.stderr[-4000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def child(job: dict) -> dict:
    """The child's side of :func:`in_child`."""
    clip_path = Path(job["clip"])
    if job["kind"] == "steps":
        return time_steps(job["model"], job["device"], clip_path, job["repeats"])
    setting = Setting(job["size"], job["device"])
    setting.configure()
    return variant_peak(job["case"], job["variant"], setting, clip_path, job["quick"])


def add_peaks(rows: list[dict], clip_path: Path, quick: bool) -> None:
    """Fill each row's memory from a child process per variant (two at a time: they are measured, not timed)."""
    jobs = [(entry, {"kind": "peak", "case": entry["memory"][0], "variant": entry["memory"][1], "size": entry["size"],
                     "device": entry["device"], "clip": str(clip_path), "quick": quick}) for entry in rows if entry["memory"]]
    workers = 1 if any(entry["device"] == "cuda" for entry, _ in jobs) else 2
    with ThreadPoolExecutor(max_workers=workers) as pool:
        answers = list(pool.map(in_child, [job for _, job in jobs]))
    for (entry, _), answer in zip(jobs, answers):
        entry["memory"] = {"peak_mb": answer["peak_mb"], "pid": answer["pid"]}


# ---------------------------------------------------------------- tables


def _seconds(s: dict) -> str:
    return f"{s['min']:.3f} / {s['median']:.3f} / {s['max']:.3f}"


def case_table(rows: list[dict]) -> list[str]:
    """Markdown lines: one per variant, its seconds, its ratio to the direct call with the range, and its peak memory."""
    lines = ["| size | device | stage | variant | s (min / med / max) | vs direct (range) | peak MB |", "|---|---|---|---|---|---|---|"]
    for entry in rows:
        r = entry["ratio"]
        versus = "-" if r is None else f"{r['median']:.2f}x ({r['low']:.2f}-{r['high']:.2f})" + (" within noise" if r["within_noise"] else "")
        memory = f"{entry['memory']['peak_mb']:.1f}" if entry["memory"] else "-"
        lines.append(f"| {entry['size']} | {entry['device']} | {entry['stage']} | {entry['variant']} | {_seconds(entry['seconds'])} "
                     f"| {versus} | {memory} |")
    return lines


def steps_table(models: list[dict], device: str) -> list[str]:
    """Markdown lines: each part of each real-size model, how often a full run repeats it, and the extrapolated full run."""
    lines = [f"| model ({device}) | part | s (min / med / max) | × per run | peak MB |", "|---|---|---|---|---|"]
    for model in models:
        name = f"{model['model']} ({model['parameters'] / 1e6:,.0f}M)"
        for part in model["parts"]:
            lines.append(f"| {name} | {part['part']} | {_seconds(part['seconds'])} | {part['per_run']} | {part['peak_mb']:.1f} |")
        lines.append(f"| {name} | rest of the call | {_seconds(model['rest_of_call'])} | 1 | - |")
        lines.append(f"| {name} | **full run, extrapolated** ({model['note']}) | {_seconds(model['full_run_extrapolated'])} | | |")
    return lines


# ---------------------------------------------------------------- main


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON results (nothing else is written)")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds per case, interleaved, after one warm-up round (default 5, at least 5)")
    parser.add_argument("--quick", action="store_true", help="skip the torch.compile variant (compiling takes minutes on a busy 2-core machine)")
    parser.add_argument("--case", action="append", choices=tuple(CASES), dest="cases",
                        help="run only this case (repeat the option for several; default: every case)")
    parser.add_argument("--no-memory", action="store_true",
                        help="time only: no child process per variant to measure its peak memory")
    parser.add_argument("--real-size", action="store_true", help="also time single steps of the three models at published size")
    parser.add_argument("--step-repeats", type=int, default=3,
                        help="timed one-step calls per real-size model after the first (memory, warm-up) call (default 3, at least 3)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="cpu: the tiny cases (and --real-size); cuda: the cases and the steps at published size on the GPU")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats < 5:
        parser.error(f"--repeats {args.repeats}: at least 5, so the spread means something")
    if args.step_repeats < 3:
        parser.error(f"--step-repeats {args.step_repeats}: at least 3, so the spread means something")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    if args.device == "cuda" and not torch.cuda.is_available():
        print("bench_capstone: error: --device cuda: no CUDA GPU is visible (torch.cuda.is_available() is False); "
              "run it where one is, or use --device cpu", file=sys.stderr)
        return 2

    setting = Setting("tiny" if args.device == "cpu" else "published", args.device)
    cases = [case for case in args.cases or CASES if setting.size == "tiny" or case != "pipeline"]
    with tempfile.TemporaryDirectory(prefix="mmgp-bench-") as scratch:  # the sample clip never lands beside the results
        clip_path = make_sample_video(Path(scratch) / "bench_sample.mp4")
        setting.configure()
        rows = [entry for case in cases for entry in time_case(case, setting, clip_path, args.repeats, args.quick)]
        if args.no_memory:
            for entry in rows:
                entry["memory"] = None
        else:
            add_peaks(rows, clip_path, args.quick)
        steps = []
        if args.real_size or args.device == "cuda":
            job = {"kind": "steps", "device": args.device, "clip": str(clip_path), "repeats": args.step_repeats}
            steps = [in_child({**job, "model": model}) for model in STEP_MODELS]

    print(f"{args.repeats} interleaved rounds after a warm-up round; torch {torch.__version__}, "
          f"{'1 thread' if setting.size == 'tiny' else f'{os.cpu_count()} threads'}; peak memory: "
          f"{'not measured (--no-memory)' if args.no_memory else 'one fresh process per variant'}")
    print("\n".join(case_table(rows)))
    if steps:
        print(f"\nPublished sizes, random weights, one step per call, {args.step_repeats} calls after a warm-up; "
              "full run = Σ (× per run) × part + rest of the call")
        print("\n".join(steps_table(steps, args.device)))
    machine = {"cpu_count": os.cpu_count(), "processor": platform.processor() or platform.machine(),
               "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine, "versions": library_versions(), "repeats": args.repeats,
                                    "rows": rows, "real_size_steps": steps}, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
