"""The HTTP API in tiny mode, in-process (FastAPI's TestClient): jobs, files, events, batching,
metrics, A/B, and one JSON error line with the right status for every bad request."""

import io
import json
import time
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from mmgp_lesson.capstone.errors import CapstoneError
from mmgp_lesson.cli import main
from mmgp_lesson.serve.jobs import RESULT_FILES
from tests.serve.conftest import FRAMES, GatedRunner, assert_error, metric, serving, submit, wait_for, wait_until_reading


def cli_error(capsys, *arguments) -> str:
    """The one line ``mmgp-lesson run`` prints for a refused input (exit status 2)."""
    status = main(["run", *arguments])
    line = capsys.readouterr().err.strip()
    assert status == 2 and "\n" not in line, line
    return line


def test_a_job_runs_every_stage_and_serves_its_files(tmp_path, runner, sample_video):
    with serving(tmp_path, runner, batch_size=1) as client:
        response = submit(client, sample_video, seed=3)
        assert response.status_code == 202
        job_id = response.json()["id"]
        assert response.headers["location"] == f"/v1/jobs/{job_id}" and response.json()["state"] == "queued"
        job = wait_for(client, job_id)
        assert job["state"] == "done" and job["error"] is None and job["files"] == list(RESULT_FILES)
        assert list(job["stages"]) == ["read", "understand", "image", "video"]
        assert all(stage["state"] == "done" and stage["seconds"] > 0 for stage in job["stages"].values())
        assert job["stages"]["image"]["steps"] == [12, 12]
        assert job["stages"]["video"]["steps"] == [runner.pipeline.video.steps] * 2
        assert job["options"] == {"seed": 3, "frames": FRAMES, "image_steps": 12, "video_steps": None,
                                  "candidates": 1, "variant": "A"}
        files = {name: client.get(f"/v1/jobs/{job_id}/files/{name}") for name in RESULT_FILES}
        for name, answer in files.items():
            assert answer.status_code == 200 and answer.headers["content-type"] == RESULT_FILES[name]
        manifest = files["manifest.json"].json()
        assert files["caption.txt"].text.strip() == manifest["caption"]
        assert manifest["seed"] == 3 and manifest["service"] == {"job": job_id, "variant": "A"}
        assert manifest["image"]["batch"] == {"size": 1, "position": 0, "seed": 3}
        assert Image.open(io.BytesIO(files["image.png"].content)).size == (runner.pipeline.image.size,) * 2
        with av.open(io.BytesIO(files["video.mp4"].content)) as container:
            assert container.streams.video[0].frames == FRAMES
        assert Image.open(io.BytesIO(files["preview.gif"].content)).format == "GIF"
        assert [job["id"] for job in client.get("/v1/jobs").json()["jobs"]] == [job_id]


def test_with_batch_size_1_every_file_equals_the_cli_run_byte_for_byte(tmp_path, runner, sample_video, capsys):
    out = tmp_path / "cli"
    assert main(["run", str(sample_video), "--out", str(out), "--mode", "tiny", "--frames", str(FRAMES),
                 "--seed", "5", "--quiet"]) == 0
    capsys.readouterr()
    with serving(tmp_path, runner, batch_size=1) as client:
        job_id = submit(client, sample_video, seed=5).json()["id"]
        assert wait_for(client, job_id)["state"] == "done"
        served = {name: client.get(f"/v1/jobs/{job_id}/files/{name}").content for name in RESULT_FILES}
    for name in ("caption.txt", "image.png", "video.mp4", "preview.gif"):
        assert served[name] == (out / name).read_bytes(), name
    ours, theirs = json.loads(served["manifest.json"]), json.loads((out / "manifest.json").read_text())
    assert ours["image"].pop("batch") == {"size": 1, "position": 0, "seed": 5}
    for manifest in (ours, theirs):  # the fields that name the service or the command line
        for key in ("input", "command", "service"):
            manifest.pop(key, None)
    assert ours == theirs


def test_a_batched_image_depends_on_its_prompt_the_seed_and_its_place_in_the_batch_only(runner):
    view = runner.view()
    pixels = lambda images: [np.asarray(image) for image in images]  # noqa: E731
    first = pixels(runner.images(view, ["day 08 05 child", "star child 7"], seed=7))
    second = pixels(runner.images(view, ["day 08 05 child", "05 05 day"], seed=7))
    alone = pixels(runner.images(view, ["day 08 05 child"], seed=7))
    assert np.array_equal(first[0], second[0])  # the other prompt does not matter
    assert not np.array_equal(first[1], second[1])  # its own prompt does
    assert not np.array_equal(first[0], alone[0])  # the batch size does: hence image.batch in the manifest


def test_queued_jobs_are_batched_and_the_metrics_count_them(tmp_path, runner, sample_video):
    gated = GatedRunner(runner, held=True)
    with serving(tmp_path, gated, batch_size=4, batch_wait_ms=50) as client:
        first = submit(client, sample_video, seed=1).json()["id"]
        wait_until_reading(client, first)  # held in its read stage, alone in its batch
        later = [submit(client, sample_video, seed=seed).json()["id"] for seed in (2, 3, 4)]
        assert metric(client, "mmgp_queue_depth") == 3 and metric(client, "mmgp_jobs_in_flight") == 1
        gated.gate.set()
        assert all(wait_for(client, job_id)["state"] == "done" for job_id in [first, *later])
        batches = [client.get(f"/v1/jobs/{job_id}/files/manifest.json").json()["image"]["batch"] for job_id in later]
        assert batches == [{"size": 3, "position": position, "seed": 2} for position in range(3)]
        assert metric(client, "mmgp_jobs_total", state="done", variant="A") == 4
        assert metric(client, "mmgp_jobs_accepted_total") == 4
        assert metric(client, "mmgp_requests_total", route="/v1/jobs", method="POST", status="202") == 4
        assert metric(client, "mmgp_batch_size_count") == 2 and metric(client, "mmgp_batch_size_sum") == 4
        assert metric(client, "mmgp_batch_size_bucket", le="1.0") == 1  # the first job's batch of one
        assert metric(client, "mmgp_batch_size_bucket", le="2.0") == 1  # and one batch above two
        assert metric(client, "mmgp_stage_seconds_count", stage="image") == 2
        assert metric(client, "mmgp_stage_seconds_count", stage="read") == 4
        assert metric(client, "mmgp_job_seconds_count", variant="A") == 4
        assert metric(client, "mmgp_queue_depth") == 0 and metric(client, "mmgp_jobs_in_flight") == 0


def test_the_event_stream_reports_each_change_and_ends_with_the_job(tmp_path, runner, sample_video):
    gated = GatedRunner(runner, held=True)
    with serving(tmp_path, gated, batch_size=1) as client:
        job_id = submit(client, sample_video, image_steps=60).json()["id"]  # long enough to be seen moving
        events = []
        with client.stream("GET", f"/v1/jobs/{job_id}/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    events.append(json.loads(line[len("data: "):]))
                    gated.gate.set()  # the first event is out: let the job run
    states = [event["state"] for event in events]
    assert states[-1] == "done" and set(states) <= {"queued", "running", "done"}
    order = ["queued", "running", "done"]
    assert [order.index(state) for state in states] == sorted(order.index(state) for state in states)
    assert all(before != after for before, after in zip(events, events[1:]))  # one event per change
    image_steps = [event["stages"]["image"]["steps"][0] for event in events if "image" in event["stages"]]
    assert image_steps == sorted(image_steps) and len(set(image_steps)) > 1  # progress seen while it ran


def test_ab_variant_runs_its_image_steps_and_is_labelled(tmp_path, runner, sample_video):
    with serving(tmp_path, runner, batch_size=1, ab_fraction=1.0, ab_image_steps=3) as client:
        job_id = submit(client, sample_video, image_steps=12).json()["id"]
        job = wait_for(client, job_id)
        manifest = client.get(f"/v1/jobs/{job_id}/files/manifest.json").json()
        assert job["variant"] == "B" and job["stages"]["image"]["steps"] == [3, 3]
        assert manifest["image"]["steps"] == 3 and manifest["service"]["variant"] == "B"
        assert metric(client, "mmgp_jobs_total", state="done", variant="B") == 1
        assert metric(client, "mmgp_jobs_total", state="done", variant="A") == 0


def test_bad_requests_get_one_json_line_in_the_clis_words(tmp_path, runner, sample_video, capsys):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all\n")
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(sample_video.read_bytes()[: sample_video.stat().st_size // 3])
    out = str(tmp_path / "cli-out")
    with serving(tmp_path, runner, batch_size=1) as client:
        for path, status in ((text, 415), (truncated, 422)):
            message = assert_error(submit(client, path), status)
            assert message == cli_error(capsys, str(path), "--out", out, "--mode", "tiny").split(": error: ", 1)[1].replace(
                str(path), "the upload")
        for field, value in (("frames", 10), ("image_steps", 0), ("video_steps", 500), ("seed", -1), ("seed", "abc")):
            message = assert_error(submit(client, sample_video, **{field: value}), 422)
            flag = "--" + field.replace("_", "-")
            assert message in cli_error(capsys, str(sample_video), "--out", out, "--mode", "tiny", f"{flag}={value}")
        assert_error(submit(client, sample_video, candidates=0), 422, "--candidates 0")
        assert_error(submit(client, sample_video, frames="nine"), 422, "invalid int value: 'nine'")
        assert_error(client.post("/v1/jobs", data={"seed": "1"}), 422, "video")
        assert_error(client.put("/v1/jobs"), 405)
        assert_error(client.get("/nowhere"), 404, "/openapi.json")
        assert list((tmp_path / "data" / "uploads").iterdir()) == []  # nothing refused was kept
        assert client.get("/v1/jobs").json()["jobs"] == []


def test_file_names_outside_the_fixed_list_are_404_and_cancel_is_202_409_404(tmp_path, runner, sample_video):
    with serving(tmp_path, runner, batch_size=1) as client:
        job_id = wait_for(client, submit(client, sample_video).json()["id"])["id"]
        assert (tmp_path / "data" / "results" / job_id / "timings.json").is_file()  # on disk, not in the list
        # The client resolves literal dot segments itself; test_server.py sends them raw over a socket.
        for name in ("timings.json", "..%2fjobs.sqlite3", "%2e%2e", "%2e%2e%2fjobs.sqlite3", "%2fetc%2fpasswd",
                     "manifest.json%00", "MANIFEST.JSON"):
            response = client.get(f"/v1/jobs/{job_id}/files/{name}")
            assert response.status_code == 404 and list(response.json()) == ["error"], (name, response.text[:200])
        assert_error(client.get(f"/v1/jobs/{'0' * 32}/files/manifest.json"), 404, "no job")
        assert_error(client.get("/v1/jobs/..%2f..%2fetc"), 404)
        assert_error(client.delete(f"/v1/jobs/{job_id}"), 409, "already finished")
        assert_error(client.delete(f"/v1/jobs/{'f' * 32}"), 404)
        openapi = client.get("/openapi.json").json()["paths"]
        assert {"/v1/jobs", "/v1/jobs/{job_id}", "/v1/jobs/{job_id}/events", "/v1/jobs/{job_id}/files/{name}",
                "/healthz", "/readyz", "/metrics"} <= set(openapi)
        assert client.get("/docs").status_code == 404  # Swagger's page would load from a CDN


def test_a_full_queue_answers_429_with_retry_after_and_a_queued_job_can_be_cancelled(tmp_path, runner, sample_video):
    gated = GatedRunner(runner, held=True)
    with serving(tmp_path, gated, batch_size=1, queue_size=1) as client:
        running = submit(client, sample_video).json()["id"]
        wait_until_reading(client, running)
        queued = submit(client, sample_video).json()["id"]
        refused = submit(client, sample_video)
        assert_error(refused, 429, "queue is full")
        assert int(refused.headers["retry-after"]) >= 1
        assert len(list((tmp_path / "data" / "uploads").iterdir())) == 2
        cancelled = client.delete(f"/v1/jobs/{queued}")
        assert cancelled.status_code == 202 and cancelled.json()["state"] == "cancelled"
        gated.gate.set()
        assert wait_for(client, running)["state"] == "done"
        time.sleep(0.2)  # a worker that ran cancelled jobs would have claimed it by now
        assert client.get(f"/v1/jobs/{queued}").json()["stages"] == {}
        assert metric(client, "mmgp_jobs_total", state="cancelled", variant="A") == 1


def test_a_running_job_cancelled_stops_at_its_next_stage_boundary(tmp_path, runner, sample_video):
    gated = GatedRunner(runner, held=True)
    with serving(tmp_path, gated, batch_size=1) as client:
        job_id = submit(client, sample_video).json()["id"]
        wait_until_reading(client, job_id)
        assert client.delete(f"/v1/jobs/{job_id}").json()["state"] == "cancelled"
        follower = submit(client, sample_video).json()["id"]
        gated.gate.set()
        assert wait_for(client, follower)["state"] == "done"  # the worker moved on past the cancelled job
        job = client.get(f"/v1/jobs/{job_id}").json()
        assert job["state"] == "cancelled" and "image" not in job["stages"]
        assert not (tmp_path / "data" / "results" / job_id).exists()
        assert_error(client.get(f"/v1/jobs/{job_id}/files/caption.txt"), 404, "cancelled")


class FailingRunner(GatedRunner):
    """The tiny runner whose understand stage raises ``error`` for clips read from the uploads of ``doomed``."""

    def __init__(self, runner, error: Exception):
        super().__init__(runner)
        self.error = error
        self.doomed: set[str] = set()

    def understand(self, clip):
        if Path(clip.source).name in self.doomed:
            raise self.error
        return super().understand(clip)


@pytest.mark.parametrize("problem, message", [
    (CapstoneError("the understand stage returned an empty caption; there is nothing to draw from"),
     "the understand stage returned an empty caption; there is nothing to draw from"),
    (RuntimeError("out of memory\nsecond line"), "internal error (RuntimeError: out of memory"),
])
def test_a_failing_job_fails_with_one_line_and_the_next_job_still_runs(tmp_path, runner, sample_video, problem, message):
    failing = FailingRunner(runner, problem)
    failing.gate.clear()
    with serving(tmp_path, failing, batch_size=2, batch_wait_ms=50) as client:
        doomed, fine = (submit(client, sample_video).json()["id"] for _ in range(2))
        failing.doomed.add(doomed)
        failing.gate.set()
        failed, done = wait_for(client, doomed), wait_for(client, fine)
        assert failed["state"] == "failed" and failed["error"].startswith(message) and "\n" not in failed["error"]
        assert done["state"] == "done"
        assert metric(client, "mmgp_jobs_total", state="failed", variant="A") == 1
        assert metric(client, "mmgp_jobs_total", state="done", variant="A") == 1
