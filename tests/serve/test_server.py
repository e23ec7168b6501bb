"""A real ``mmgp-lesson serve`` process on 127.0.0.1: ``kill -9`` mid-job and a restart lose no job,
SIGTERM drains (503 meanwhile, exit 0), and raw request paths and a streamed oversize upload are
refused the way the in-process tests cannot show (the test client resolves ``..`` and reads whole bodies)."""

import http.client
import os
import select
import signal
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

import httpx

from mmgp_lesson.serve.jobs import JobStore

START_TIMEOUT_S = 180  # a cold interpreter imports torch, diffusers and transformers first


def start(data, *options) -> tuple[subprocess.Popen, httpx.Client]:
    """Start ``mmgp-lesson serve`` (tiny, B = 1, any free port) on ``data``; return it and a client once ready."""
    command = [sys.executable, "-m", "mmgp_lesson.cli", "serve", "--mode", "tiny", "--port", "0", "--data", str(data),
               "--batch-size", "1", "--max-upload-mb", "1", "--log-level", "warning", *options]
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    environment.pop("MMGP_API_KEY", None)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    deadline = time.monotonic() + START_TIMEOUT_S
    url = None
    while url is None:
        assert time.monotonic() < deadline and process.poll() is None, process.stderr.read() if process.poll() else "slow"
        if select.select([process.stdout], [], [], 1)[0]:
            line = process.stdout.readline()
            url = line.split()[-1] if line.startswith("listening on ") else None
    assert urlsplit(url).hostname == "127.0.0.1"
    client = httpx.Client(base_url=url, timeout=30)
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return process, client


def post(client, video, **fields) -> httpx.Response:
    with video.open("rb") as handle:
        return client.post("/v1/jobs", files={"video": ("clip.mp4", handle, "video/mp4")},
                           data={name: str(value) for name, value in fields.items()})


def wait_state(client, job_id, states, timeout=120, stage=None) -> dict:
    """Poll until the job is in one of ``states`` (and, with ``stage``, that stage is running)."""
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["state"] in states and (stage is None or job["stages"].get(stage, {}).get("state") == "running"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.01)


def raw_get(url: str, path: str) -> tuple[int, bytes]:
    """GET ``path`` exactly as written (no client-side resolving of ``..``)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    connection.putrequest("GET", path, skip_accept_encoding=True)
    connection.endheaders()
    response = connection.getresponse()
    return response.status, response.read()


def streamed_upload_status(url: str, megabytes: int) -> tuple[int, int]:
    """Stream a chunked multipart upload of up to ``megabytes`` MB; return the status and the bytes sent
    before the server answered."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    boundary = "b0undary"
    sock.sendall((f"POST /v1/jobs HTTP/1.1\r\nHost: {parts.netloc}\r\nTransfer-Encoding: chunked\r\n"
                  f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n").encode())
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"video\"; filename=\"big.mp4\"\r\n"
            "Content-Type: video/mp4\r\n\r\n").encode()
    chunks = [head] + [b"\0" * 65536] * (megabytes * 16)
    sent = 0
    for chunk in chunks:
        if select.select([sock], [], [], 0)[0]:  # the server has answered: stop sending
            break
        try:
            sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += len(chunk)
    answer = sock.recv(4096).decode(errors="replace")
    sock.close()
    return int(answer.split()[1]), sent


def test_kill_9_mid_job_loses_no_accepted_job_and_sigterm_drains_then_exits_0(tmp_path, sample_video):
    data = tmp_path / "data"
    first, client = start(data)
    ids = [post(client, sample_video, seed=seed).json()["id"] for seed in range(3)]
    wait_state(client, ids[0], ("running",))
    first.send_signal(signal.SIGKILL)  # kill -9 while the first job runs and two wait
    first.wait(30)

    second, client = start(data)
    jobs = [wait_state(client, job_id, ("done", "failed", "cancelled")) for job_id in ids]
    assert [job["state"] for job in jobs] == ["done"] * 3
    assert jobs[0]["attempts"] == 1  # the interrupted one ran again; the others ran once
    assert all(client.get(f"/v1/jobs/{job_id}/files/video.mp4").status_code == 200 for job_id in ids)

    url = str(client.base_url)
    for path in (f"/v1/jobs/{ids[0]}/files/../../jobs.sqlite3", f"/v1/jobs/{ids[0]}/files/..",
                 f"/v1/jobs/{ids[0]}/files/%2e%2e/%2e%2e/jobs.sqlite3", f"/v1/jobs/{ids[0]}/files//etc/passwd",
                 f"/v1/jobs/{ids[0]}/files/..%2f..%2fjobs.sqlite3", "/v1/jobs/../../jobs.sqlite3"):
        status, body = raw_get(url, path)
        assert status == 404 and body.startswith(b'{"error":') and b"SQLite" not in body, (path, status, body[:80])
    status, sent = streamed_upload_status(url, megabytes=64)
    assert status == 413 and sent < 8 * 2**20, (status, sent)  # refused as it streamed, long before the end
    assert sorted(path.name for path in (data / "uploads").iterdir()) == sorted(ids)  # the oversize one was not kept

    slow = post(client, sample_video, image_steps=200).json()["id"]  # several seconds of image stage
    waiting = post(client, sample_video).json()["id"]
    wait_state(client, slow, ("running",), stage="image")
    second.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 30
    while client.get("/readyz").status_code != 503:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    refused = post(client, sample_video)
    assert refused.status_code == 503 and "shutting down" in refused.json()["error"]
    assert client.get(f"/v1/jobs/{slow}").json()["state"] == "running"  # still draining, still answering
    assert second.wait(120) == 0
    assert "Traceback" not in second.stderr.read()
    store = JobStore(data / "jobs.sqlite3")
    assert store.get(slow).state == "done" and store.get(waiting).state == "queued"  # kept for the next start
    store.close()


def test_in_thread_serves_on_a_real_loopback_socket_and_stops_cleanly(tmp_path, sample_video):
    from mmgp_lesson.capstone.weights import resolve_checkpoints
    from mmgp_lesson.serve.config import ServeSettings
    from mmgp_lesson.serve.runner import StageRunner
    from mmgp_lesson.serve.server import in_thread

    built = StageRunner.build(resolve_checkpoints("tiny"), frames=9)
    settings = ServeSettings(mode="tiny", port=0, data=tmp_path / "data", batch_size=1)
    with in_thread(settings, runner_factory=lambda: built) as url:
        assert urlsplit(url).hostname == "127.0.0.1" and urlsplit(url).port > 0
        client = httpx.Client(base_url=url, timeout=30)
        while client.get("/readyz").status_code != 200:
            time.sleep(0.02)
        job_id = post(client, sample_video).json()["id"]
        assert wait_state(client, job_id, ("done",))["state"] == "done"
        assert 'mmgp_jobs_total{state="done",variant="A"} 1.0' in client.get("/metrics").text
        client.close()
    with socket.socket() as probe:  # the port is closed again
        assert probe.connect_ex((urlsplit(url).hostname, urlsplit(url).port)) != 0
