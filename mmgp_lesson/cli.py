"""The ``mmgp-lesson`` command line.

- ``mmgp-lesson exercises`` — regenerate ``exercises/`` from ``solutions/``.
- ``mmgp-lesson pair`` — rewrite the ``.ipynb`` twin of every MyST notebook.
- ``mmgp-lesson check NOTEBOOK_OR_FOLDER...`` — grade filled-in exercise notebooks in a sandbox.
- ``mmgp-lesson run VIDEO --out DIR`` — the capstone: caption a video, then draw an image and a video from it.
- ``mmgp-lesson demo`` — ``run`` on a generated sample clip.

Errors are one line on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import functools
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


def _generation_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mode", default="auto", help="tiny, real, or auto: real where the weights are present (default)")
    parser.add_argument("--weights", help="a folder holding <model id>/ checkpoints (default: the Hugging Face cache)")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when a GPU is visible)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the image and video noise (default 0)")
    parser.add_argument("--frames", type=int, default=49, help="frames of the generated video, 8k+1 (default 49)")
    parser.add_argument("--height", type=int, help="video height, a multiple of 32 (default 512 real, 64 tiny)")
    parser.add_argument("--width", type=int, help="video width, a multiple of 32 (default 704 real, 64 tiny)")
    parser.add_argument("--image-steps", type=int, default=12, help="aMUSEd unmasking steps (default 12)")
    parser.add_argument("--video-steps", type=int, help="LTX-Video sampler steps (default 50 real, 4 tiny)")
    parser.add_argument("--prompt", help="draw the image and video from this text instead of the caption")
    parser.add_argument("--static-cache", action="store_true", help="generate the caption with a static KV cache")
    parser.add_argument("--compile", action="store_true", help="torch.compile the aMUSEd U-ViT")
    parser.add_argument("--candidates", type=_positive(int), default=1, help="draw N images, keep the one SmolVLM2 rates best (default 1)")


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", help="the input clip (.mp4, .webm, .gif)")
    parser.add_argument("--out", required=True, help="folder for caption.txt, image.png, video.mp4, manifest.json")
    _generation_arguments(parser)


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="outputs/demo", help="output folder (default outputs/demo)")
    _generation_arguments(parser)


def _run_capstone(args, video: Path) -> int:
    """Check every setting and the input, then build the pipeline, run it and write its files."""
    from mmgp_lesson.capstone.media import read_video
    from mmgp_lesson.capstone.outputs import prepare_output_folder
    from mmgp_lesson.capstone.settings import check_prompts, check_settings

    check_settings(args.frames, args.height, args.width, args.image_steps, args.video_steps)
    if args.prompt is not None:
        check_prompts([args.prompt])
    read_video(video, count=1)
    out = prepare_output_folder(args.out)

    import torch  # the heavy imports wait until every input has been checked
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    from mmgp_lesson.capstone.pipeline import MMGPPipeline

    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()
    pipeline = MMGPPipeline.build(
        mode=args.mode,
        weights=args.weights,
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
    result = pipeline(video, seed=args.seed, prompt=args.prompt, candidates=args.candidates)
    print(f"caption: {result.caption}")
    print("seconds: " + ", ".join(f"{stage} {value:.2f}" for stage, value in result.timings.items()))
    for path in result.save(out):
        print(f"  wrote {path}")
    return 0


@subcommand("run", "caption a video, then draw an image and a video from the caption", _run_arguments)
def run(args) -> int:
    return _run_capstone(args, Path(args.video))


@subcommand("demo", "run the capstone on a generated two-second sample clip", _demo_arguments)
def demo(args) -> int:
    from mmgp_lesson.capstone.media import make_sample_video
    from mmgp_lesson.capstone.outputs import prepare_output_folder

    sample = make_sample_video(prepare_output_folder(args.out) / "sample.mp4")
    print(f"sample clip: {sample}")
    return _run_capstone(args, sample)


def _usage_error(parser: argparse.ArgumentParser, status: int, message: str):
    parser.print_usage(sys.stderr)
    parser.exit(status, f"{parser.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmgp-lesson", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    parser.subcommands = {}
    for name, (help, function, arguments, usage_status) in SUBCOMMANDS.items():
        sub = commands.add_parser(name, help=help)
        if usage_status != 2:
            sub.error = functools.partial(_usage_error, sub, usage_status)
        if arguments is not None:
            arguments(sub)
        sub.set_defaults(handler=function)
        parser.subcommands[name] = sub
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # reported by the subcommand's parser, with its usage and exit status
        parser.subcommands[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return args.handler(args)
    except CourseError as error:
        print(f"mmgp-lesson {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mmgp-lesson {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
