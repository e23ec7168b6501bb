"""The ``mmgp-lesson`` command line.

- ``mmgp-lesson exercises`` — regenerate ``exercises/`` from ``solutions/``.
- ``mmgp-lesson pair`` — rewrite the ``.ipynb`` twin of every MyST notebook.
- ``mmgp-lesson check NOTEBOOK_OR_FOLDER...`` — grade filled-in exercise notebooks in a sandbox.
- ``mmgp-lesson run VIDEO --out DIR`` — the capstone: caption a video, then draw an image and a video from it.
- ``mmgp-lesson demo`` — ``run`` on a generated sample clip.
- ``mmgp-lesson serve`` — the capstone as an HTTP service on 127.0.0.1 (queue, batching, metrics).

Errors are one line on stderr and a non-zero exit status, never a traceback. This module imports only
the standard library at the top: each subcommand imports what it needs, and ``run``/``demo`` check
every input before torch, diffusers or transformers are imported.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from mmgp_lesson.errors import CourseError

SUBCOMMANDS = {}


def subcommand(name: str, help: str, arguments=None, usage_status: int = 2):
    """Register ``function(args) -> exit status`` as a subcommand; ``arguments(parser)`` adds its options.

    ``usage_status`` is the exit status of a usage error (argparse's default is 2).
    """

    def register(function):
        SUBCOMMANDS[name] = (help, function, arguments, usage_status)
        return function

    return register


def _root(args) -> Path:
    return Path(args.root).resolve()


def _root_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default=".", help="the course folder (default: the current one)")


@subcommand("exercises", "regenerate exercises/ from solutions/ (and pair every notebook)", _root_argument)
def exercises(args) -> int:
    from mmgp_lesson.notebooks import generate_exercises, pair

    changed = generate_exercises(_root(args)) + pair(_root(args))
    print(f"{len(changed)} file(s) written" + "".join(f"\n  {path}" for path in changed))
    return 0


@subcommand("pair", "rewrite the output-free .ipynb twin of every .md notebook", _root_argument)
def pair_notebooks(args) -> int:
    from mmgp_lesson.notebooks import pair

    changed = pair(_root(args))
    print(f"{len(changed)} notebook(s) written" + "".join(f"\n  {path}" for path in changed))
    return 0


def _positive(kind):
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, not {text}")
        return value

    return parse


def _check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("notebooks", nargs="+", metavar="NOTEBOOK_OR_FOLDER",
                        help="filled-in exercise notebooks (.ipynb or .md), or folders of them (*.ipynb)")
    parser.add_argument("--jobs", type=_positive(int), default=1, help="hand-ins graded at once (default 1)")
    parser.add_argument("--out", help="write the gradebook: CSV here, JSON beside it (same name, .json)")
    parser.add_argument("--seed", type=int, help="seed of the checks' test inputs (default: drawn and printed)")
    parser.add_argument("--timeout", type=_positive(float), default=60.0, help="seconds one cell or call may run (default 60)")
    parser.add_argument("--total", type=_positive(float), default=600.0, help="seconds one notebook may run in all (default 600)")
    parser.add_argument("--memory", type=_positive(int), default=2048, help="MB of memory a hand-in may add (default 2048)")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="grade without bubblewrap (hand-ins then run as you): only for notebooks you trust")


@subcommand("check", "grade filled-in exercise notebooks in a sandbox: one row per exercise", _check_arguments, usage_status=64)
def check(args) -> int:
    import secrets

    from mmgp_lesson.grading import Limits
    from mmgp_lesson.grading.gradebook import collect, format_summary, grade_all, write_gradebook
    from mmgp_lesson.grading.grader import format_rows
    from mmgp_lesson.grading.sandbox import NO_SANDBOX_WARNING, worker_command

    files = collect(args.notebooks)
    if not files:
        raise CourseError(f"no notebooks (*.ipynb) in {' '.join(args.notebooks)}; give hand-ins or folders holding them")
    if args.no_sandbox:
        print(f"mmgp-lesson check: {NO_SANDBOX_WARNING}", file=sys.stderr)
    else:
        worker_command(True, Path("."))  # refuses at once, with the fix, when bubblewrap is missing
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31 - 1) + 1
    limits = Limits(call_seconds=args.timeout, total_seconds=args.total, memory_mb=args.memory)
    hand_ins, unreadable = grade_all(files, jobs=args.jobs, seed=seed, limits=limits, sandbox=not args.no_sandbox)
    for hand_in in hand_ins:
        for warning in hand_in.warnings:
            print(f"mmgp-lesson check: warning: {hand_in.path}: {warning}", file=sys.stderr)
    for _, error in unreadable:
        print(f"mmgp-lesson check: error: {error}", file=sys.stderr)
    if len(files) == 1 and hand_ins:
        print(format_rows(hand_ins[0].rows))
    elif hand_ins:
        print(format_summary(hand_ins))
    if hand_ins:
        print(f"seed {seed} (repeat with --seed {seed})")
    if args.out:
        for path in write_gradebook(Path(args.out), hand_ins, unreadable, limits, sandbox=not args.no_sandbox):
            print(f"wrote {path}")
    if unreadable:
        return 2
    return 0 if all(row.passed for hand_in in hand_ins for row in hand_in.rows) else 1


class _OneLineParser(argparse.ArgumentParser):
    """argparse whose usage errors are one line, ``PROG: error: PROBLEM; see PROG --help``.

    The exit status is ``usage_status``: 2, argparse's own, except for ``check`` (64, EX_USAGE).
    """

    usage_status = 2

    def error(self, message: str):
        self.exit(self.usage_status, f"{self.prog}: error: {message}; see {self.prog} --help\n")


def _seed(text: str) -> int:
    """argparse type of ``--seed``: :func:`~mmgp_lesson.capstone.settings.parse_seed`."""
    from mmgp_lesson.capstone.settings import parse_seed

    try:
        return parse_seed(text)
    except CourseError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _generation_arguments(parser: argparse.ArgumentParser) -> None:
    from mmgp_lesson.capstone.settings import DEVICES, MODES

    parser.add_argument("--mode", default="auto", choices=MODES, help="tiny, real, or auto: real where the weights are present (default)")
    parser.add_argument("--weights", help="a folder holding <model id>/ checkpoints (default: the Hugging Face cache)")
    parser.add_argument("--device", choices=DEVICES, help="cpu or cuda (default: cuda when a GPU is visible)")
    parser.add_argument("--seed", type=_seed, default=0, help="seed of the image and video noise, 0..2^63-1 (default 0)")
    parser.add_argument("--frames", type=int, default=49, help="frames of the generated video, 8k+1 (default 49)")
    parser.add_argument("--height", type=int, help="video height, a multiple of 32 (default 512 real, 64 tiny)")
    parser.add_argument("--width", type=int, help="video width, a multiple of 32 (default 704 real, 64 tiny)")
    parser.add_argument("--image-steps", type=int, default=12, help="aMUSEd unmasking steps (default 12)")
    parser.add_argument("--video-steps", type=int, help="LTX-Video sampler steps (default 50 real, 4 tiny)")
    parser.add_argument("--prompt", help="draw the image and video from this text instead of the caption")
    parser.add_argument("--static-cache", action="store_true", help="generate the caption with a static KV cache")
    parser.add_argument("--compile", action="store_true", help="torch.compile the aMUSEd U-ViT")
    parser.add_argument("--candidates", type=_positive(int), default=1, help="draw N images, keep the one SmolVLM2 rates best (default 1)")
    parser.add_argument("--quiet", action="store_true", help="no per-stage progress on stderr")


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", help="the input clip (.mp4, .webm, .gif)")
    parser.add_argument("--out", required=True, help="folder for caption.txt, image.png, video.mp4, manifest.json")
    _generation_arguments(parser)


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="outputs/demo", help="output folder (default outputs/demo)")
    _generation_arguments(parser)


def _run_capstone(args, video: Path, extra: dict | None = None, recorded_as: Path | None = None) -> int:
    """Check every setting and input (nothing is created, no model library is imported), then build
    the pipeline, run it and write its files (plus ``extra``: name -> writer, e.g. demo's sample clip).

    ``recorded_as`` is the input's path as the manifest names it (demo: the copy saved with the outputs).
    """
    from mmgp_lesson.capstone.outputs import check_output_folder
    from mmgp_lesson.capstone.settings import check_device, check_prompt, check_settings

    check_settings(args.frames, args.height, args.width, args.image_steps, args.video_steps)
    prompt = None if args.prompt is None else check_prompt(args.prompt)  # checked here once; the pipeline trusts it
    check_output_folder(args.out)
    check_device(args.device)

    from mmgp_lesson.capstone.weights import resolve_checkpoints  # huggingface_hub: a few tenths of a second

    checkpoints = resolve_checkpoints(args.mode, args.weights)  # real weights found and their files opened

    from mmgp_lesson.capstone.media import read_video  # PyAV and numpy
    from mmgp_lesson.capstone.weights import video_sampling

    clip = read_video(video, sampling=video_sampling(checkpoints))  # every frame the understand stage will see is decoded

    import torch  # the heavy imports wait until every input has been checked
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    from mmgp_lesson.capstone.pipeline import MMGPPipeline
    from mmgp_lesson.capstone.progress import Progress

    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()
    pipeline = MMGPPipeline.build(
        checkpoints=checkpoints,
        device=args.device,
        frames=args.frames,
        height=args.height,
        width=args.width,
        image_steps=args.image_steps,
        video_steps=args.video_steps,
        static_cache=args.static_cache,
        compile=args.compile,
    )
    if pipeline.mode == "tiny":
        torch.set_num_threads(1)  # tiny tensors: a second thread only adds synchronisation
    print(f"mode: {pipeline.mode_note}")
    result = pipeline(clip, seed=args.seed, prompt=prompt, candidates=args.candidates,
                      progress=Progress(quiet=args.quiet))
    result.manifest["command"] = ["mmgp-lesson", *args.argv]
    result.manifest["input"] = str(recorded_as or video)
    print(f"caption: {result.caption}")
    print("seconds: " + ", ".join(f"{stage} {value:.2f}" for stage, value in result.timings.items()))
    for path in result.save(args.out, extra=extra):
        print(f"  wrote {path}")
    return 0


@subcommand("run", "caption a video, then draw an image and a video from the caption", _run_arguments)
def run(args) -> int:
    return _run_capstone(args, Path(args.video))


@subcommand("demo", "run the capstone on a generated two-second sample clip", _demo_arguments)
def demo(args) -> int:
    import shutil
    import tempfile

    from mmgp_lesson.capstone.media import make_sample_video

    with tempfile.TemporaryDirectory(prefix="mmgp-demo-") as folder:  # saved with the outputs, or not at all
        sample = make_sample_video(Path(folder) / "sample.mp4")
        saved = Path(args.out) / "sample.mp4"
        return _run_capstone(args, sample, extra={saved.name: lambda path: shutil.copyfile(sample, path)}, recorded_as=saved)


def _serve_arguments(parser: argparse.ArgumentParser) -> None:
    import os

    from mmgp_lesson.capstone.settings import DEVICES, MODES
    from mmgp_lesson.serve.config import ENGINES, ServeSettings

    defaults = ServeSettings()
    parser.add_argument("--host", default=defaults.host, help="address to bind (default 127.0.0.1; any other needs an API key)")
    parser.add_argument("--port", type=int, default=defaults.port, help="TCP port (default 8000; 0: any free port)")
    parser.add_argument("--data", default=str(defaults.data), help="folder of the job store, uploads and results (default outputs/serve)")
    parser.add_argument("--mode", default=defaults.mode, choices=MODES, help="tiny, real, or auto (default)")
    parser.add_argument("--weights", help="a folder holding <model id>/ checkpoints (default: the Hugging Face cache)")
    parser.add_argument("--device", choices=DEVICES, help="cpu or cuda (default: cuda when a GPU is visible)")
    parser.add_argument("--frames", type=int, help="default frames of a job's video, 8k+1 (default 49 real, 9 tiny)")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size, help="prompts per aMUSEd call, B (default 4)")
    parser.add_argument("--batch-wait-ms", type=float, default=defaults.batch_wait_ms,
                        help="longest wait for a batch to fill after its first job arrived, W (default 50)")
    parser.add_argument("--queue-size", type=int, default=defaults.queue_size, help="queued jobs before 429 (default 64)")
    parser.add_argument("--max-upload-mb", type=float, default=defaults.max_upload_mb, help="largest upload, MB (default 50)")
    parser.add_argument("--retention", type=float, default=defaults.retention,
                        help="seconds a finished job's upload and results are kept (default 86400)")
    parser.add_argument("--api-key", default=os.environ.get("MMGP_API_KEY"),
                        help="require Authorization: Bearer KEY (default: $MMGP_API_KEY; none: loopback only)")
    parser.add_argument("--ab-fraction", type=float, default=defaults.ab_fraction, help="fraction of jobs in variant B (default 0)")
    parser.add_argument("--ab-image-steps", type=int, default=defaults.ab_image_steps, help="variant B's image steps (default 8)")
    parser.add_argument("--engine", default=defaults.engine, choices=sorted(ENGINES), help="what runs the jobs (default local)")
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"), help="uvicorn's log level")


@subcommand("serve", "serve the capstone over HTTP: upload a clip, get caption, image and video", _serve_arguments,
            usage_status=64)
def serve(args) -> int:
    from mmgp_lesson.capstone.settings import check_device
    from mmgp_lesson.serve.config import ServeSettings

    names = ("host", "port", "mode", "weights", "device", "frames", "batch_size", "batch_wait_ms", "queue_size",
             "max_upload_mb", "retention", "api_key", "ab_fraction", "ab_image_steps", "engine")
    settings = ServeSettings(data=Path(args.data), **{name: getattr(args, name) for name in names})
    settings.check()
    check_device(args.device)

    from mmgp_lesson.capstone.weights import resolve_checkpoints  # a missing checkpoint is refused before torch

    resolve_checkpoints(args.mode, args.weights)

    from mmgp_lesson.serve.server import serve as serve_forever  # torch, FastAPI, uvicorn

    return serve_forever(settings, log_level=args.log_level)


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="mmgp-lesson", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    parser.subcommands = {}
    for name, (help, function, arguments, usage_status) in SUBCOMMANDS.items():
        sub = commands.add_parser(name, help=help)
        sub.usage_status = usage_status
        if arguments is not None:
            arguments(sub)
        sub.set_defaults(handler=function)
        parser.subcommands[name] = sub
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; a :class:`CourseError` or Ctrl-C ends it with one line on stderr (exit 2, the
    error's own ``status`` (a :class:`~mmgp_lesson.errors.UsageError`: 64), or 130)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    command = argv[0] if argv and not argv[0].startswith("-") else "mmgp-lesson"
    try:
        try:
            parser = build_parser()
            args, unknown = parser.parse_known_args(argv)
            if unknown:  # reported by the subcommand's own parser, with its exit status
                parser.subcommands[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
        except SystemExit as stop:  # --help, or a usage error argparse has already printed on one line
            return stop.code if isinstance(stop.code, int) else 2
        args.argv = argv
        return args.handler(args)
    except CourseError as error:
        print(f"mmgp-lesson {command}: error: {error}", file=sys.stderr)
        return getattr(error, "status", 2)
    except KeyboardInterrupt:
        print(f"mmgp-lesson {command}: interrupted", file=sys.stderr)
        return 130


def console() -> None:
    """The ``mmgp-lesson`` command: :func:`main`, then exit with its status.

    Once the work is done (its files are written atomically), a late Ctrl-C during the interpreter's
    shutdown would only turn a finished run into a death by signal: it is ignored from then on.
    """
    status = main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if status == 130:
        # Interrupted: nothing was moved into place, so nothing is left to finish. Leave at once with 130:
        # in some full runs of the test suite, a `python -m mmgp_lesson.cli demo` interrupted while importing
        # printed "interrupted" and then died by SIGINT in the interpreter's shutdown (exit -2); the cause
        # was not found, and skipping the shutdown leaves no way for it.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    sys.exit(status)


if __name__ == "__main__":
    console()
