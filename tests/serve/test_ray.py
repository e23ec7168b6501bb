"""The Ray engine (``--engine ray``) in tiny mode on a local Ray instance, on loopback only.

One Ray start for the module (it is the slow part): the service with the Ray engine on a live
127.0.0.1 socket takes three jobs; all end done, on the three Serve deployments (their replicas are
running and their logs record the calls); with ``--batch-size 1`` a job's files are the local engine's
for the same clip and settings, byte for byte (the manifest differs only in the fields that name the
service's job: its upload path and job id); ``/metrics`` counts the three jobs; stopping the service
shuts Ray down, and no address but 127.0.0.0/8 appears anywhere in Ray's session logs.
"""

import ipaddress
import json
import re
import shutil
from collections import Counter

import pytest

from mmgp_lesson.serve import ray_engine  # before ray: it sets the environment that keeps Ray on loopback
from mmgp_lesson.serve.app import create_app
from mmgp_lesson.serve.config import ServeSettings

from .conftest import metric, serving, submit, wait_for
from .live import live_server

ray, serve = ray_engine.ray, ray_engine.serve

SEEDS = (0, 1, 2)
COMPARED = 1  # the seed of the job compared with the local engine's
OPTIONS = {"frames": 17, "image_steps": 3, "video_steps": 2}  # not the defaults: each must reach its replica
BEST_OF = {2: 2}  # seed -> candidates: that job draws best-of-N on the image deployment
FILES = ("caption.txt", "image.png", "video.mp4", "preview.gif")
IPV4 = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])")


def _addresses(text: str) -> set[str]:
    """Every IPv4 address written in ``text`` (dotted quads that are not addresses, 1.2.300.4, left out)."""
    found = set()
    for candidate in IPV4.findall(text):
        try:
            found.add(str(ipaddress.IPv4Address(candidate)))
        except ValueError:
            continue
    return found


def _outputs(get, job_id: str, headers=None) -> dict:
    """A done job's files; the manifest without the fields that name the service's job."""
    files = {name: get(f"/v1/jobs/{job_id}/files/{name}").content for name in FILES}
    manifest = json.loads(get(f"/v1/jobs/{job_id}/files/manifest.json").content)
    assert manifest.pop("service")["job"] == job_id and manifest.pop("input").endswith(job_id)
    return {**files, "manifest.json": manifest}


@pytest.fixture(scope="module")
def local_outputs(runner, sample_video, tmp_path_factory) -> dict:
    """The files the local engine makes for the compared job."""
    with serving(tmp_path_factory.mktemp("local"), runner, batch_size=1) as client:
        job_id = submit(client, sample_video, seed=COMPARED, **OPTIONS).json()["id"]
        assert wait_for(client, job_id)["state"] == "done"
        return _outputs(client.get, job_id)


def test_ray_engine_runs_jobs_on_its_deployments_on_loopback(runner, sample_video, local_outputs, tmp_path):
    app = create_app(ServeSettings(mode="tiny", data=tmp_path / "data", engine="ray", batch_size=1, batch_wait_ms=0),
                     runner_factory=lambda: runner)
    engine = app.state.service.engine
    with live_server(app, timeout=300) as client:
        print(f"Ray and its three deployments up in {engine.startup_seconds:.1f} s")
        ids = {seed: submit(client, sample_video, seed=seed, candidates=BEST_OF.get(seed, 1), **OPTIONS).json()["id"]
               for seed in SEEDS}
        records = {seed: wait_for(client, job_id, timeout=240) for seed, job_id in ids.items()}
        assert {seed: record["state"] for seed, record in records.items()} == dict.fromkeys(SEEDS, "done"), records

        status = serve.status().applications
        for name in ("understand", "image", "video"):
            deployments = status[name].deployments
            assert all(deployment.replica_states.get("RUNNING", 0) >= 1 for deployment in deployments.values()), status

        outputs = _outputs(client.get, ids[COMPARED])
        for name, local in local_outputs.items():
            assert outputs[name] == local, f"{name} differs from the local engine's for the same job"
        assert outputs["manifest.json"]["image"]["batch"] == {"size": 1, "position": 0, "seed": COMPARED}
        for seed, count in BEST_OF.items():
            candidates = json.loads(client.get(f"/v1/jobs/{ids[seed]}/files/manifest.json").content)["image"]["candidates"]
            assert candidates["count"] == len(candidates["scores"]) == count, candidates

        assert metric(client, "mmgp_jobs_total", state="done", variant="A") == len(SEEDS)
        assert metric(client, "mmgp_batch_size_count") == len(SEEDS)
        assert metric(client, "mmgp_jobs_accepted_total") == len(SEEDS)
    assert not engine.ready() and not ray.is_initialized(), "stopping the service left Ray running"

    # session_latest links to the session's folder: each file once, by its real path.
    logs = {path.resolve() for path in engine.temp_dir.glob("session_*/logs/**/*") if path.is_file()}
    text = {path: path.read_text(errors="replace") for path in logs}
    shutil.rmtree(engine.temp_dir)  # the engine keeps Ray's folder for its logs; the test has read them
    calls = {  # Serve's replica log has one "CALL <method> OK" line per request answered
        stage: Counter(method for path, body in text.items() if path.name.startswith(f"replica_{stage}_")
                       for method in re.findall(r"CALL (\w+) OK", body))
        for stage in ("understand", "image", "video")
    }
    best = len(BEST_OF)
    expected = {"understand": {"__call__": len(SEEDS)}, "image": {"draw": len(SEEDS) - best, "best": best},
                "video": {"__call__": len(SEEDS)}}
    assert calls == expected, f"calls recorded in the replicas' logs: {calls}"
    addresses = set().union(*map(_addresses, text.values()))
    loopback = {address for address in addresses if ipaddress.ip_address(address).is_loopback}
    assert "127.0.0.1" in loopback, f"no address found in {len(logs)} log files: the scan measured nothing"
    assert addresses == loopback, f"addresses other than loopback in Ray's logs: {sorted(addresses - loopback)}"
