"""Running the app under uvicorn, with the service's shutdown rule.

On SIGTERM (or a first Ctrl-C) the server keeps listening while it drains: ``/readyz`` and new
``POST /v1/jobs`` answer 503, the jobs in flight finish, and only then does uvicorn stop and the
process exit 0. Queued jobs stay in the store for the next start. A second signal stops at the next
stage boundary (the jobs in flight are then run again at the next start, as after a crash).
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import uvicorn

from mmgp_lesson.serve.app import create_app
from mmgp_lesson.serve.config import ServeSettings


class DrainingServer(uvicorn.Server):
    """``uvicorn.Server`` whose first exit signal drains the service before uvicorn shuts down."""

    def __init__(self, config: uvicorn.Config, service):
        super().__init__(config)
        self.service = service
        self._draining: threading.Thread | None = None

    def handle_exit(self, sig: int, frame) -> None:
        if self._draining is None:
            self._draining = threading.Thread(target=self._drain, name="mmgp-drain")
            self._draining.start()
        else:  # a second signal: leave the jobs in flight at their next stage boundary, and stop
            threading.Thread(target=self.service.engine.stop, kwargs={"drain": False}, name="mmgp-stop").start()
            self.should_exit = True

    def _drain(self) -> None:
        self.service.drain()
        self.should_exit = True

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets)
        print(f"listening on {url_of(self)}", flush=True)


def url_of(server: uvicorn.Server) -> str:
    """The base URL a started server listens on (the real port when it was asked for port 0)."""
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    return f"http://{host}:{port}"


def serve(settings: ServeSettings, log_level: str = "info") -> int:
    """Serve until a signal stops the server; return the exit status (0 after a drain)."""
    app = create_app(settings)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level=log_level,
                            timeout_graceful_shutdown=10)
    server = DrainingServer(config, app.state.service)
    server.run()
    return 0 if server.started else 1


@contextmanager
def in_thread(settings: ServeSettings, runner_factory=None, timeout_s: float = 300):
    """Serve in a thread of this process (a notebook, a benchmark, a test); yields the base URL.

    Signals stay with the caller (uvicorn installs none outside the main thread); leaving the block
    shuts the server down, which drains the jobs in flight first.
    """
    app = create_app(settings, runner_factory)
    server = uvicorn.Server(uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="mmgp-uvicorn")
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join()
            raise RuntimeError("the server did not start; see its log above")
        time.sleep(0.01)
    try:
        yield url_of(server)
    finally:
        server.should_exit = True
        thread.join()
