"""Shared fixtures of the service tests: a sample clip, the tiny runner (built once per module), an app.

Each module builds the tiny pipeline once (a fraction of a second) and every app of the module runs
its jobs on it; ``GatedRunner`` holds a job in its read stage until the test lets it go, so a test can
line jobs up in the queue deterministically instead of racing the worker.
"""

import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from mmgp_lesson.capstone.media import make_sample_video
from mmgp_lesson.capstone.weights import resolve_checkpoints
from mmgp_lesson.serve.app import create_app
from mmgp_lesson.serve.config import ServeSettings
from mmgp_lesson.serve.runner import StageRunner

torch.set_num_threads(1)  # tiny tensors: see tests/capstone/conftest.py
FRAMES = 9


@pytest.fixture(scope="session")
def sample_video(tmp_path_factory) -> Path:
    """The demo clip: 48 frames of 96x128 at 24 fps."""
    return make_sample_video(tmp_path_factory.mktemp("media") / "sample.mp4")


@pytest.fixture(scope="module")
def runner() -> StageRunner:
    return StageRunner.build(resolve_checkpoints("tiny"), frames=FRAMES)


class GatedRunner(StageRunner):
    """The tiny runner, whose read stage waits until :attr:`gate` is set (set from the start unless held)."""

    def __init__(self, runner: StageRunner, held: bool = False):
        super().__init__(runner.pipeline)
        self.gate = threading.Event()
        if not held:
            self.gate.set()

    def read(self, path):
        assert self.gate.wait(60), "the test never opened the gate"
        return super().read(path)


@contextmanager
def serving(tmp_path: Path, runner: StageRunner, **options):
    """A started app (tiny mode, data in ``tmp_path``) with a TestClient, ready to take jobs.

    A :class:`GatedRunner`'s gate is opened on the way out (a failed test may leave it held), so the
    drain at shutdown never waits for it.
    """
    settings = ServeSettings(mode="tiny", data=tmp_path / "data", **options)
    app = create_app(settings, runner_factory=lambda: runner)
    with TestClient(app) as client:
        try:
            deadline = time.monotonic() + 30
            while client.get("/readyz").status_code != 200:
                assert time.monotonic() < deadline, client.get("/readyz").json()
                time.sleep(0.02)
            yield client
        finally:
            if isinstance(runner, GatedRunner):
                runner.gate.set()


def submit(client, video: Path, headers=None, **fields):
    """POST /v1/jobs with ``video`` and the form ``fields``; return the response."""
    with video.open("rb") as handle:
        return client.post("/v1/jobs", files={"video": (video.name, handle, "video/mp4")},
                           data={name: str(value) for name, value in fields.items()}, headers=headers)


def wait_until_reading(client, job_id: str) -> None:
    """Wait until the job is in its read stage (its batch closed): where a held :class:`GatedRunner` keeps it."""
    deadline = time.monotonic() + 30
    while client.get(f"/v1/jobs/{job_id}").json()["stages"].get("read", {}).get("state") != "running":
        assert time.monotonic() < deadline
        time.sleep(0.02)


def wait_for(client, job_id: str, states=("done", "failed", "cancelled"), timeout: float = 60, headers=None) -> dict:
    """Poll GET /v1/jobs/{id} until its state is one of ``states``; return its JSON."""
    deadline = time.monotonic() + timeout
    while True:
        record = client.get(f"/v1/jobs/{job_id}", headers=headers).json()
        if record["state"] in states:
            return record
        assert time.monotonic() < deadline, record
        time.sleep(0.02)


def metric(client, name: str, **labels) -> float:
    """The value of the sample ``name`` with ``labels`` on /metrics (0 when absent)."""
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(key) == value for key, value in labels.items()):
                return sample.value
    return 0.0


def assert_error(response, status: int, *words: str) -> str:
    """A one-line JSON error ``{"error": ...}`` with ``status`` and ``words`` in it; return the message."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert list(body) == ["error"] and "\n" not in body["error"] and "Traceback" not in body["error"], body
    for word in words:
        assert word in body["error"], (word, body["error"])
    return body["error"]
