"""The ``mmgp-lesson`` command line.

- ``mmgp-lesson exercises`` — regenerate ``exercises/`` from ``solutions/``.
- ``mmgp-lesson pair`` — rewrite the ``.ipynb`` twin of every MyST notebook.
- ``mmgp-lesson check NOTEBOOK`` — grade a filled-in exercise notebook.

Errors are one line on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mmgp_lesson.notebooks import CourseError

SUBCOMMANDS = {}


def subcommand(name: str, help: str, arguments=None):
    """Register ``function(args) -> exit status`` as a subcommand; ``arguments(parser)`` adds its options."""

    def register(function):
        SUBCOMMANDS[name] = (help, function, arguments)
        return function

    return register


def _root(args) -> Path:
    return Path(args.root).resolve()


def _root_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default=".", help="the course folder (default: the current one)")


def _check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("notebook", help="the filled-in exercise notebook (.ipynb or .md)")
    parser.add_argument("--timeout", type=int, default=120, help="seconds one cell may run (default 120)")


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


@subcommand("check", "grade a filled-in exercise notebook: one row per exercise", _check_arguments)
def check(args) -> int:
    from mmgp_lesson.grading import format_rows, grade

    rows = grade(Path(args.notebook), cell_timeout=args.timeout)
    print(format_rows(rows))
    return 0 if rows and all(row.passed for row in rows) else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmgp-lesson", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, (help, function, arguments) in SUBCOMMANDS.items():
        sub = commands.add_parser(name, help=help)
        if arguments is not None:
            arguments(sub)
        sub.set_defaults(handler=function)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
