"""Running the app under uvicorn, with the service's shutdown rule.

On SIGTERM (or a first Ctrl-C) the server keeps listening while it drains: ``/readyz`` and new
``POST /v1/jobs`` answer 503, the jobs in flight finish, and only then does uvicorn stop and the
process exit 0. Queued jobs stay in the store for the next start. A second signal stops at once
(the jobs in flight are then recovered at the next start, like after a crash).
"""

from __future__ import annotations

import threading

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
        else:  # a second signal: stop now
            self.should_exit = self.force_exit = True

    def _drain(self) -> None:
        self.service.drain()
        self.should_exit = True

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets)
        for server in self.servers:
            for sock in server.sockets:
                host, port = sock.getsockname()[:2]
                print(f"listening on http://{host}:{port}", flush=True)


def serve(settings: ServeSettings, log_level: str = "info") -> int:
    """Serve until a signal stops the server; return the exit status (0 after a drain)."""
    app = create_app(settings)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level=log_level,
                            timeout_graceful_shutdown=10)
    server = DrainingServer(config, app.state.service)
    server.run()
    return 0 if server.started else 1
