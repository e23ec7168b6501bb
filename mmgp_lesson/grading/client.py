"""The grader's handle on one grading worker (:mod:`mmgp_lesson.grading.worker`).

A :class:`Worker` starts the fork server (sandboxed unless told otherwise), sends it pickled requests
and reads its JSON replies with a deadline of its own, so a worker that stops answering — whatever the
hand-in did to it — is killed and started again rather than waited for.
"""

from __future__ import annotations

import json
import os
import pickle
import select
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from mmgp_lesson.errors import CourseError
from mmgp_lesson.grading.sandbox import worker_command
from mmgp_lesson.grading.frames import HEADER, MAX_FRAME, write_frame

STARTUP_SECONDS = 180  # importing torch and IPython on a busy 2-core machine
GRACE_SECONDS = 10  # beyond a request's own limit, which the worker enforces first


class Worker:
    """A grading worker process; ``request(message, timeout)`` returns its reply as a dict."""

    def __init__(self, sandbox: bool = True):
        self.sandbox = sandbox
        self.scratch = Path(tempfile.mkdtemp(prefix="mmgp-grading-"))
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        """Start the worker and wait until it has imported everything; one-line error if it cannot."""
        argv, environment = worker_command(self.sandbox, self.scratch)
        log = open(self.scratch / "worker.log", "wb")
        self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                        env=environment or None, start_new_session=True)
        log.close()
        reply = self._read(time.monotonic() + STARTUP_SECONDS)
        if not reply.get("ready"):
            self.kill()
            lines = (self.scratch / "worker.log").read_text(errors="replace").strip().splitlines()
            reason = lines[-1][:200] if lines else "no message"
            fix = "check that bubblewrap can create user namespaces here, or pass --no-sandbox" if self.sandbox else "check the Python environment"
            raise CourseError(f"the grading worker did not start ({reason}); {fix}")

    def request(self, message: dict, timeout: float) -> dict:
        """Send ``message``; the reply, or ``{"died": "worker"}`` if none came within the limit."""
        if self.process is None:
            self.start()
        try:
            write_frame(self.process.stdin.fileno(), pickle.dumps(message))
        except OSError:
            self.kill()
            return {"died": "worker"}
        reply = self._read(time.monotonic() + timeout + GRACE_SECONDS)
        if "died" in reply and reply["died"] == "worker":
            self.kill()
        return reply

    def _read(self, deadline: float) -> dict:
        """One JSON reply before ``deadline``; anything else is ``{"died": "worker"}``."""
        fd, buffer, needed = self.process.stdout.fileno(), b"", HEADER.size
        size = None
        while len(buffer) < needed:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                return {"died": "worker"}
            chunk = os.read(fd, min(needed - len(buffer), 2**20))
            if not chunk:
                return {"died": "worker"}
            buffer += chunk
            if size is None and len(buffer) >= HEADER.size:
                (size,) = HEADER.unpack(buffer[: HEADER.size])
                if size > MAX_FRAME:
                    return {"died": "worker"}
                needed = HEADER.size + size
        try:
            reply = json.loads(buffer[HEADER.size :])
        except ValueError:
            return {"died": "worker"}
        return reply if isinstance(reply, dict) else {"died": "worker"}

    def kill(self) -> None:
        """End the worker and everything it started (its process group; the sandbox dies with it)."""
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except OSError:
                pass
            self.process.wait()
            for pipe in (self.process.stdin, self.process.stdout):
                pipe.close()
            self.process = None

    def close(self) -> None:
        """Kill the worker and remove its scratch folder."""
        self.kill()
        shutil.rmtree(self.scratch, ignore_errors=True)

    def __enter__(self) -> "Worker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
