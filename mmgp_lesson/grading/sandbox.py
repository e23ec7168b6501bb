"""The command that starts a grading worker, inside bubblewrap or (``--no-sandbox``) without it.

Threat model: a hand-in is arbitrary Python written by someone who wants to pass. Under bubblewrap
(the sandbox Flatpak uses) its worker sees the system (``/usr``), the Python installation and the
course package, all read-only, an empty private ``/tmp`` of bounded size as its working folder and
``HOME``, no network, no other process (its own PID namespace, so nothing it starts outlives
grading), runs as ``nobody`` with no capabilities, and has CPU-time, memory and output limits
(:mod:`mmgp_lesson.grading.worker`). Nothing else of the machine is visible: not the instructor's
home, not the other hand-ins, not the course's solutions. Whatever it does in there, the verdict is
computed in the grader's process from the plain data it returns.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import mmgp_lesson
from mmgp_lesson.errors import CourseError

TMP_BYTES = 256 * 2**20
BWRAP_MISSING = (
    "bubblewrap (bwrap) is not installed, and hand-ins are untrusted code: install it "
    "(Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap), or pass --no-sandbox "
    "to grade without isolation (only notebooks you trust)"
)
NO_SANDBOX_WARNING = (
    "warning: --no-sandbox: hand-ins run as you, with your files, processes and network; "
    "grade only notebooks you trust"
)


def _python_roots() -> list[Path]:
    """The folders the interpreter and its packages live in, outermost first, without nesting."""
    roots = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    roots.add(Path(mmgp_lesson.__file__).resolve().parent)
    kept = []
    for root in sorted(roots, key=lambda p: len(p.parts)):
        if not any(root.is_relative_to(outer) for outer in kept) and not root.is_relative_to("/usr"):
            kept.append(root)
    return kept


def _system_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        path = Path(top)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), top]
        elif path.is_dir():
            args += ["--ro-bind", top, top]
    for name in ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "passwd", "group", "nsswitch.conf"):
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    return args


def _environment(home: str, workdir: str) -> dict[str, str]:
    keep = {name: value for name, value in os.environ.items() if name.startswith("OPENBLAS_")}
    package_parent = str(Path(mmgp_lesson.__file__).resolve().parents[1])
    return keep | {
        "PYTHONPATH": package_parent,  # the worker imports the grader's own copy of the course package
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": str(Path(workdir).parent),
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": f"{home}/.matplotlib",
        "IPYTHONDIR": f"{home}/.ipython",
        "OMP_NUM_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "HF_HUB_OFFLINE": "1",
        "MMGP_WORKDIR": workdir,
    }


def worker_command(sandbox: bool, scratch: Path) -> tuple[list[str], dict[str, str]]:
    """``(argv, environment)`` of a grading worker; ``scratch`` is its folder when unsandboxed.

    Raises :class:`CourseError` when the sandbox is asked for and bubblewrap is missing.
    """
    python = [sys.executable, "-m", "mmgp_lesson.grading.worker"]
    if not sandbox:
        home, work = scratch / "home", scratch / "work"
        home.mkdir(parents=True, exist_ok=True)
        work.mkdir(parents=True, exist_ok=True)
        return python, _environment(str(home), str(work))
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise CourseError(BWRAP_MISSING)
    args = [bwrap, "--die-with-parent", "--new-session", "--unshare-user", "--uid", "65534", "--gid", "65534",
            "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--cap-drop", "ALL", *_system_binds(), "--proc", "/proc", "--dev", "/dev",
            "--size", str(TMP_BYTES), "--tmpfs", "/tmp", "--dir", "/tmp/work", "--dir", "/tmp/home"]
    for root in _python_roots():
        args += ["--ro-bind", str(root), str(root)]
    environment = _environment("/tmp/home", "/tmp/work") | {"MMGP_SANDBOXED": "1"}
    args += ["--clearenv"]
    for name, value in environment.items():
        args += ["--setenv", name, value]
    return [*args, "--chdir", "/tmp/work", *python], {}
