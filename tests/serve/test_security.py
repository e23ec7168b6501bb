"""The service's security defaults: the API key, the loopback-only bind, upload limits and privacy, retention."""

import json
import stat
import subprocess
import sys
import time

import pytest

from mmgp_lesson.capstone.errors import CapstoneError
from mmgp_lesson.errors import UsageError
from mmgp_lesson.serve.config import ServeSettings, is_loopback
from tests.serve.conftest import assert_error, metric, serving, submit, wait_for

HEAVY = ("torch", "diffusers", "transformers", "fastapi", "uvicorn")


def test_with_an_api_key_every_job_route_and_the_metrics_need_it(tmp_path, runner, sample_video):
    key = "correct horse battery staple"
    good = {"Authorization": f"Bearer {key}"}
    with serving(tmp_path, runner, batch_size=1, api_key=key) as client:
        for headers in (None, {"Authorization": "Bearer wrong"}, {"Authorization": key}, {"Authorization": f"Basic {key}"}):
            refused = submit(client, sample_video, headers=headers)
            assert_error(refused, 401, "API key")
            assert refused.headers["www-authenticate"] == "Bearer"
        accepted = submit(client, sample_video, headers=good)
        assert accepted.status_code == 202
        job_id = accepted.json()["id"]
        for path in ("/v1/jobs", f"/v1/jobs/{job_id}", f"/v1/jobs/{job_id}/files/manifest.json", "/metrics"):
            assert_error(client.get(path), 401)
        assert wait_for(client, job_id, headers=good)["state"] == "done"
        assert client.get(f"/v1/jobs/{job_id}/files/caption.txt", headers=good).status_code == 200
        assert client.get("/metrics", headers=good).status_code == 200
        for path in ("/healthz", "/readyz", "/", "/openapi.json"):  # probes, the page and the schema stay open
            assert client.get(path).status_code == 200, path
        assert len(client.get("/v1/jobs", headers=good).json()["jobs"]) == 1  # the refused uploads left no job


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.5", False), ("example.org", False), ("127.0.0.1.example.org", False),
])
def test_only_loopback_binds_go_without_a_key(host, loopback):
    assert is_loopback(host) is loopback
    if loopback:
        ServeSettings(host=host).check()
    else:
        with pytest.raises(UsageError, match="not a loopback address"):
            ServeSettings(host=host).check()
        ServeSettings(host=host, api_key="k").check()  # with a key it is the operator's choice


_REFUSE = """
import json, sys
from mmgp_lesson.cli import main
status = main(json.loads(sys.argv[1]))
print(json.dumps([status, sorted(name for name in {heavy} if name in sys.modules)]), flush=True)
"""


@pytest.mark.parametrize("arguments, words", [
    (["serve", "--host", "0.0.0.0", "--mode", "tiny"], "--api-key KEY"),
    (["serve", "--mode", "tiny", "--frames", "10"], "--frames 10 is not 8k+1"),
    (["serve", "--mode", "tiny", "--batch-size", "0"], "--batch-size 0 is outside 1..64"),
])
def test_a_refused_serve_is_one_line_before_torch_or_the_web_stack_is_imported(arguments, words, tmp_path):
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # no MMGP_API_KEY from the caller
    completed = subprocess.run([sys.executable, "-c", _REFUSE.format(heavy=HEAVY), json.dumps(arguments)],
                               capture_output=True, text=True, timeout=120, env=environment, cwd=tmp_path)
    status, heavy = json.loads(completed.stdout)
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mmgp-lesson serve: error: ") and words in lines[0], completed.stderr
    assert status == (64 if "--host" in arguments else 2) and heavy == []
    assert list(tmp_path.iterdir()) == []  # nothing created


def test_uploads_are_private_and_an_oversize_one_is_refused_while_streaming_and_not_kept(tmp_path, runner, sample_video):
    size = sample_video.stat().st_size
    with serving(tmp_path, runner, batch_size=1, max_upload_mb=size / 2 / 2**20) as client:
        uploads = tmp_path / "data" / "uploads"
        assert stat.S_IMODE(uploads.stat().st_mode) == 0o700
        assert_error(submit(client, sample_video), 413, "--max-upload-mb")  # Content-Length says so at once
        content = sample_video.read_bytes()
        boundary = "mmgpboundary"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"video\"; filename=\"clip.mp4\"\r\n"
                f"Content-Type: video/mp4\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
        def chunks():  # no Content-Length: the limit applies to the bytes as they arrive (test_server.py: over a socket)
            for start in range(0, len(body), 4096):
                yield body[start : start + 4096]

        chunked = client.post("/v1/jobs", content=chunks(), headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        assert_error(chunked, 413, "--max-upload-mb")
        assert list(uploads.iterdir()) == [] and client.get("/v1/jobs").json()["jobs"] == []
    with serving(tmp_path, runner, batch_size=1) as client:
        job_id = submit(client, sample_video).json()["id"]
        assert wait_for(client, job_id)["state"] == "done"
        (upload,) = uploads.iterdir()
        assert upload.name == job_id and stat.S_IMODE(upload.stat().st_mode) == 0o600
        assert upload.read_bytes() == sample_video.read_bytes()


def test_retention_purges_the_job_its_upload_and_its_results(tmp_path, runner, sample_video):
    with serving(tmp_path, runner, batch_size=1, retention=0) as client:
        job_id = submit(client, sample_video).json()["id"]
        results = tmp_path / "data" / "results" / job_id
        deadline = time.monotonic() + 30
        while client.get(f"/v1/jobs/{job_id}").status_code != 404:  # done, then purged within a purge period
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert metric(client, "mmgp_jobs_total", state="done", variant="A") == 1  # it had run to the end
        assert not results.exists() and list((tmp_path / "data" / "uploads").iterdir()) == []
        assert_error(client.get(f"/v1/jobs/{job_id}/files/video.mp4"), 404, "purged")


def test_bad_settings_are_refused_with_the_option_named():
    with pytest.raises(CapstoneError, match="--ab-fraction 1.5 is outside 0..1"):
        ServeSettings(ab_fraction=1.5).check()
    with pytest.raises(CapstoneError, match="--port 70000"):
        ServeSettings(port=70000).check()
