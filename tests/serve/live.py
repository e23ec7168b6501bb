"""A live server for the tests that need a real socket (the browser's, Ray's): uvicorn in a thread on
127.0.0.1, on a free port the system picks.

Like :func:`mmgp_lesson.serve.server.in_thread`, but for an app the test has built, so that the test
can reach the app's engine (the Ray test reads its Ray folder and start-up time)."""

import threading
import time
from contextlib import contextmanager

import httpx
import uvicorn

from mmgp_lesson.serve.server import url_of


@contextmanager
def live_server(app, timeout: float = 120):
    """Serve ``app`` on 127.0.0.1 until the block ends; yield an ``httpx.Client`` on its base URL once
    ``/readyz`` answers 200 (models built, engine running). Leaving the block drains the app, as a
    stopped server does."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, name="live-server")
    thread.start()
    try:
        deadline = time.monotonic() + timeout
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        with httpx.Client(base_url=url_of(server), timeout=30) as client:
            while client.get("/readyz").status_code != 200:
                assert time.monotonic() < deadline, client.get("/readyz").json()
                time.sleep(0.05)
            yield client
    finally:
        server.should_exit = True
        thread.join()
