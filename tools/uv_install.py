"""Install into a virtual environment with uv, from the same places pip would take the packages from.

    python tools/uv_install.py .venv -c constraints.txt -e '.[dev]'

``make`` installs the course with uv (``uv pip install``): on a fresh 2-core machine it sets up the
environment in well under a minute where ``pip install`` takes about two, because it downloads and unpacks
in parallel. uv does not read pip's configuration, though, and a machine may keep packages where only pip
looks: ``find-links`` folders (this course's CI machine keeps the CPU wheel of torch in one; without it,
``torch==X`` resolves to the multi-GB CUDA build), extra indexes (``PIP_EXTRA_INDEX_URL`` in the GitHub
workflow: PyTorch's CPU index) and constraint files. So this script reads what pip is set up with
(``pip config list``: the configuration files and the ``PIP_*`` variables, a variable overriding a file, the
``[install]`` section overriding ``[global]``), hands each source to uv, and runs

    uv pip install --python VENV/bin/python --compile-bytecode --index-strategy unsafe-best-match SOURCES ARGS

``unsafe-best-match`` is what pip does: take the best version from all indexes together (uv's default would
stop at the first index that has the package at all). ``--compile-bytecode`` writes the ``.pyc`` files
during the install, as pip does: the grader's sandbox sees the environment read-only, so anything not
compiled then would be compiled again in every process. A local source that does not exist is left out,
as pip only warns about it.
"""

import shlex
import subprocess
import sys
from pathlib import Path

# pip's option -> uv's option. Each takes one value per source; pip's values are whitespace-separated.
OPTIONS = {"index-url": "--index-url", "extra-index-url": "--extra-index-url", "find-links": "--find-links",
           "constraint": "--constraint"}
# Later scopes override earlier ones, as in pip: the [global] section, then [install], then PIP_* variables.
SCOPES = ("global", "install", ":env:")


def pip_settings(config_list: str) -> dict[str, list[str]]:
    """``pip config list`` output (lines ``scope.option='value'``) -> the values pip's install uses per option."""
    chosen: dict[str, tuple[int, list[str]]] = {}
    for line in config_list.splitlines():
        key, _, value = line.partition("=")
        scope, _, option = key.rpartition(".")
        if option not in OPTIONS or scope not in SCOPES:
            continue
        rank = SCOPES.index(scope)
        if option not in chosen or rank >= chosen[option][0]:
            chosen[option] = (rank, shlex.split(value)[0].split() if value else [])
    return {option: values for option, (_, values) in chosen.items()}


def is_missing_local(source: str) -> bool:
    """True for a ``file://`` URL or a path that names nothing on this machine (pip skips those with a warning)."""
    if "://" in source and not source.startswith("file://"):
        return False
    return not Path(source.removeprefix("file://")).exists()


def uv_source_arguments(settings: dict[str, list[str]]) -> list[str]:
    """uv's command-line options for pip's sources, in a fixed order, local sources that do not exist left out."""
    arguments = []
    for option, flag in OPTIONS.items():
        for source in settings.get(option, []):
            if not is_missing_local(source):
                arguments += [flag, source]
    return arguments


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: python tools/uv_install.py VENV PIP-INSTALL-ARGUMENTS...", file=sys.stderr)
        return 64
    venv, rest = Path(argv[0]), argv[1:]
    python, uv = venv / "bin" / "python", venv / "bin" / "uv"
    if not uv.exists():
        print(f"uv_install: {uv} is missing; install it first: {python} -m pip install -c constraints.txt uv",
              file=sys.stderr)
        return 2
    config = subprocess.run([str(python), "-m", "pip", "config", "list"], capture_output=True, text=True, check=True)
    command = [str(uv), "pip", "install", "--python", str(python), "--quiet", "--compile-bytecode",
               "--index-strategy", "unsafe-best-match", *uv_source_arguments(pip_settings(config.stdout)), *rest]
    print(shlex.join(command), flush=True)
    return subprocess.run(command, check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
