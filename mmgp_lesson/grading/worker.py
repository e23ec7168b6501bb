"""The grading worker: runs a hand-in's cells and calls its functions, inside the sandbox.

``python -m mmgp_lesson.grading.worker`` is a *fork server*: it imports torch, IPython and the
lesson's modules once, then forks one child per hand-in, so no hand-in pays for the imports and no
hand-in sees another's objects. The grader talks to the server over its stdin/stdout; the server
relays each request to the child and waits for the answer within the request's time limit, killing
the child (and every process it started) when it is exceeded.

Requests (grader → server) are pickled dicts — the grader is trusted. Replies (server → grader) are
JSON — they may come from the learner's code, so the grader reads them as data only. Each frame is a
4-byte big-endian length and its bytes.

Requests: ``{"op": "spawn", "lesson", "limits"}``, ``{"op": "cell", "source", "timeout"}``,
``{"op": "call", "answer", "args", "runner", "references", "timeout"}``, ``{"op": "stop"}``. Replies:
``{"ready": ...}``, ``{"ok": true}``, ``{"error": "Type: message"}``, :func:`run_answer`'s outcome
or ``{"missing": name}``, and from the server itself ``{"died": reason, "detail": ...}``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

from mmgp_lesson.grading.frames import FrameError, read_frame, write_frame


def _reply(fd: int, message: dict) -> None:
    write_frame(fd, json.dumps(message).encode())


# ---------------------------------------------------------------- the child: one hand-in


def _set_limits(limits: dict) -> None:
    """CPU time, address space, file size (the captured output) and no core dumps, for this process."""
    import resource

    cpu = int(limits["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    with open("/proc/self/status") as status:
        vm_kb = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    memory = vm_kb * 1024 + int(limits["memory_mb"]) * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    output = int(limits["output_mb"]) * 2**20
    resource.setrlimit(resource.RLIMIT_FSIZE, (output, output))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _limit_hit(error: list | None) -> str | None:
    """``"memory"`` or ``"output"`` when ``[type, message]`` is the error a limit of :func:`_set_limits`
    raises (Python ignores SIGXFSZ, so a full output file is an ``OSError`` [Errno 27])."""
    if not error:
        return None
    kind, message = error
    if kind == "MemoryError" or "can't allocate memory" in message or "not enough memory" in message:
        return "memory"
    if kind == "OSError" and "[Errno 27]" in message:
        return "output"
    return None


def _child(sock: int, limits: dict, workdir: Path) -> None:
    """Run one hand-in: answer the relayed requests on ``sock`` until told to stop."""
    import pickle

    os.setpgid(0, 0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    output = os.open(workdir / ".output", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(devnull, 0)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.chdir(workdir)
    _set_limits(limits)

    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    from mmgp_lesson.checks import run_answer

    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell(config=config)
    _reply(sock, {"ready": True})
    while True:
        request = pickle.loads(read_frame(sock))
        if request["op"] == "cell":
            result = shell.run_cell(request["source"], store_history=False)
            error = result.error_before_exec or result.error_in_exec
            if error is None:
                _reply(sock, {"ok": True})
                continue
            message = str(error).strip().splitlines()
            pair = [type(error).__name__, message[0][:300] if message else ""]
            if limit := _limit_hit(pair):
                _reply(sock, {"died": limit})
                os._exit(0)
            _reply(sock, {"error": f"{pair[0]}: {pair[1]}".rstrip(": ")})
        elif request["op"] == "call":
            function = shell.user_ns.get(request["answer"])
            if not callable(function):
                _reply(sock, {"missing": request["answer"]})
                continue
            args, runner = pickle.loads(request["args"]), pickle.loads(request["runner"])
            outcome = run_answer(function, args, runner, tuple(request["references"]))
            if limit := _limit_hit(outcome.get("raised")):
                _reply(sock, {"died": limit})
                os._exit(0)
            _reply(sock, outcome)
        else:
            os._exit(0)


# ---------------------------------------------------------------- the fork server


def _kill_all_but_me(child: int | None, sandboxed: bool) -> None:
    """End the hand-in's processes: inside the sandbox every process but this one and init."""
    if sandboxed:
        me = os.getpid()
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) not in (1, me):
                try:
                    os.kill(int(entry), signal.SIGKILL)
                except OSError:
                    pass
    elif child:
        try:
            os.killpg(child, signal.SIGKILL)
        except OSError:
            pass
    while True:  # reap everything that was ours
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                break
        except ChildProcessError:
            break


def _death(child: int) -> dict:
    """A reply naming why the child ended (it closed its end of the pipe), from its wait status."""
    import time

    for _ in range(100):
        pid, status = os.waitpid(child, os.WNOHANG)
        if pid:
            break
        time.sleep(0.02)
    else:
        return {"died": "reply", "detail": "closed its pipe to the grader"}
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        name = {signal.SIGXCPU: "cpu", signal.SIGXFSZ: "output"}.get(number, signal.Signals(number).name)
        return {"died": name if name in ("cpu", "output") else "signal", "detail": name}
    return {"died": "exit", "detail": os.WEXITSTATUS(status)}


def _wait_for(sock: int, timeout: float) -> bool:
    import select

    ready, _, _ = select.select([sock], [], [], timeout)
    return bool(ready)


def _clean(workdir: Path) -> None:
    import shutil

    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)


def serve() -> None:
    """The fork server's loop (see the module docstring)."""
    import ctypes
    import pickle
    import socket

    grader_in, grader_out = os.dup(0), os.dup(1)
    os.dup2(os.open(os.devnull, os.O_RDWR), 0)
    os.dup2(2, 1)  # nothing but frames reaches the grader's pipe
    sandboxed = os.environ.get("MMGP_SANDBOXED") == "1"
    if sandboxed:
        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: the child cannot reach our pipes via /proc
    workdir = Path(os.environ.get("MMGP_WORKDIR", "/tmp/work"))
    os.chdir(workdir.parent)  # not workdir itself: it is emptied between hand-ins

    import torch
    from IPython.core import interactiveshell  # noqa: F401 - imported once, inherited by every child

    import mmgp_lesson.checks  # noqa: F401

    torch.set_num_threads(1)
    _reply(grader_out, {"ready": True})
    child, sock = None, None
    while True:
        try:
            raw = read_frame(grader_in)
        except FrameError:
            _kill_all_but_me(child, sandboxed)
            return
        request = pickle.loads(raw)
        if request["op"] in ("spawn", "stop"):
            if sock is not None:
                sock.close()
            _kill_all_but_me(child, sandboxed)
            child, sock = None, None
            if request["op"] == "stop":
                _reply(grader_out, {"stopped": True})
                continue
            _clean(workdir)
            __import__(f"mmgp_lesson.checks.lesson{request['lesson']}")  # the lesson's imports, once
            ours, theirs = socket.socketpair()
            child = os.fork()
            if child == 0:
                ours.close()
                os.close(grader_in)
                os.close(grader_out)
                try:
                    _child(theirs.fileno(), request["limits"], workdir)
                finally:
                    os._exit(1)
            theirs.close()
            sock = ours
            timeout = request.get("timeout", 30)
        else:
            if sock is None:
                _reply(grader_out, {"died": "exit", "detail": "no hand-in running"})
                continue
            try:
                write_frame(sock.fileno(), raw)
            except OSError:
                pass  # the child is gone; its death is read below
            timeout = request["timeout"]
        if not _wait_for(sock.fileno(), timeout):
            _kill_all_but_me(child, sandboxed)
            _reply(grader_out, {"died": "timeout"})
            child, sock = None, None
            continue
        try:
            write_frame(grader_out, read_frame(sock.fileno()))
        except FrameError as error:
            reply = _death(child) if str(error) == "closed" else {"died": "reply", "detail": str(error)}
            _kill_all_but_me(child, sandboxed)
            _reply(grader_out, reply)
            child, sock = None, None


if __name__ == "__main__":
    sys.exit(serve())
