"""The HTTP API of ``mmgp-lesson serve``: ``create_app(settings)`` returns the FastAPI app.

Routes (OpenAPI at ``/openapi.json``; no ``/docs``, which would load Swagger from a CDN):

- ``POST /v1/jobs`` (multipart: ``video`` file, ``seed``, ``frames``, ``image_steps``, ``video_steps``,
  ``candidates``) -> 202 ``{"id", "state": "queued", "links"}`` and ``Location``;
- ``GET /v1/jobs`` (recent jobs), ``GET /v1/jobs/{id}`` (state, per-stage progress and seconds),
  ``GET /v1/jobs/{id}/events`` (server-sent events, one per change, until the job ends),
  ``GET /v1/jobs/{id}/files/{name}`` (a name of :data:`~mmgp_lesson.serve.jobs.RESULT_FILES`),
  ``DELETE /v1/jobs/{id}`` (cancel);
- ``/healthz`` (alive), ``/readyz`` (models built, engine running, not draining), ``/metrics``, ``/``.

Every error is one JSON line ``{"error": "..."}`` with its status, in the CLI's words where the CLI
has the check. The API key (when set) and the admission checks (draining: 503, queue full: 429)
run before a byte of an upload is read; the body limit (413) is enforced while it streams.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import os
import re
import shutil
import uuid
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path
from typing import Callable

from fastapi import Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.routing import Match

from mmgp_lesson.capstone.errors import CapstoneError
from mmgp_lesson.capstone.media import NotAVideoError, read_video
from mmgp_lesson.capstone.weights import resolve_checkpoints, video_sampling
from mmgp_lesson.serve.config import ServeSettings
from mmgp_lesson.serve.engines import make_engine
from mmgp_lesson.serve.jobs import FINISHED, RESULT_FILES, Conflict, Job, JobStore, NotFound, QueueFull
from mmgp_lesson.serve.metrics import Metrics
from mmgp_lesson.serve.options import job_options
from mmgp_lesson.serve.runner import StageRunner

log = logging.getLogger(__name__)
JOB_ID = re.compile(r"[0-9a-f]{32}")
PROTECTED = ("/v1/", "/metrics")
"""Path prefixes that need the API key when one is set; ``/``, the probes and the OpenAPI schema do not."""
EVENT_POLL_S = 0.1
"""How often an event stream looks at its job in the store."""
STATIC = files("mmgp_lesson.serve") / "static"


def error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    """The service's error response: ``{"error": message}``, one line."""
    return JSONResponse({"error": message.splitlines()[0]}, status_code=status, headers=headers)


class Service:
    """What the routes share: settings, store, metrics, the engine, and whether the server is draining."""

    def __init__(self, settings: ServeSettings, runner_factory: Callable[[], StageRunner] | None):
        self.settings = settings
        data = Path(settings.data).resolve()  # the store records upload paths: absolute, whatever the next cwd
        data.mkdir(parents=True, exist_ok=True)
        self.uploads = data / "uploads"
        self.uploads.mkdir(mode=0o700, exist_ok=True)
        self.uploads.chmod(0o700)  # also when it existed with looser permissions
        self.results = data / "results"
        self.results.mkdir(exist_ok=True)
        checkpoints = resolve_checkpoints(settings.mode, settings.weights)
        self.sampling = video_sampling(checkpoints)
        self.default_frames = settings.default_frames(checkpoints.real)
        self.store = JobStore(data / "jobs.sqlite3", capacity=settings.queue_size, results=self.results)
        self.metrics = Metrics(self.store, settings.batch_size)
        factory = runner_factory or (lambda: StageRunner.build(checkpoints, settings.device, self.default_frames))
        self.engine = make_engine(settings, self.store, self.metrics, factory, self.results)
        self.draining = False
        self.stopped = False

    def drain(self) -> None:
        """Refuse new jobs (503) and wait for the jobs in flight to finish; queued ones stay queued in the store."""
        self.draining = True
        self.engine.stop(drain=True)
        self.stopped = True  # ends the event streams, so that the server can close their connections

    def not_ready(self) -> str | None:
        """Why the service cannot take jobs now, or ``None``."""
        if self.draining:
            return "the server is shutting down; retry on another instance or after its restart"
        if self.engine.ready():
            return None
        failure = getattr(self.engine, "error", None)
        if failure is not None:
            return f"the engine stopped: could not build the models ({type(failure).__name__}: {failure})"
        return "the models are still loading; retry in a few seconds"

    def retry_after(self) -> str:
        """Seconds until a queue slot is likely free: one job's mean service time, at least 1."""
        return str(max(1, math.ceil(self.store.mean_service_seconds() or 1)))

    def queue_full(self) -> JSONResponse:
        return error(
            429, f"the queue is full ({self.settings.queue_size} jobs waiting); retry later",
            {"Retry-After": self.retry_after()},
        )

    def too_large(self) -> str:
        return (f"the upload is over --max-upload-mb {self.settings.max_upload_mb:g} MB; send a shorter clip "
                "or start the server with a larger --max-upload-mb")

    def job(self, job_id: str) -> Job:
        """The job ``job_id`` (a 404 for anything that is not a known job id)."""
        if not JOB_ID.fullmatch(job_id):
            raise HTTPException(404, f"no job {job_id!r}; job ids are 32 hex digits, as POST /v1/jobs returns them")
        try:
            return self.store.get(job_id)
        except NotFound:
            raise HTTPException(404, f"no job {job_id}; it never existed or was purged after --retention") from None


def create_app(settings: ServeSettings, runner_factory: Callable[[], StageRunner] | None = None) -> FastAPI:
    """The service's app. ``runner_factory`` builds the pipeline in the engine (default: the one
    ``settings`` names, as ``mmgp-lesson run`` builds it); tests pass one that returns a built runner."""
    service = Service(settings, runner_factory)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        recovered = service.store.recover()
        if recovered:
            log.warning("re-queued %d job(s) left running by a server that stopped", recovered)
        service.engine.start()
        purger = asyncio.create_task(purge_forever())
        try:
            yield
        finally:
            purger.cancel()
            await run_in_threadpool(service.drain)
            service.store.close()

    async def purge_forever():
        """Delete finished jobs past ``--retention`` (rows, uploads, results), checking every 1..60 s."""
        period = min(60.0, max(1.0, settings.retention / 2))
        while True:
            purged = await run_in_threadpool(service.store.purge, settings.retention)
            if purged:
                log.info("purged %d job(s) older than --retention %g s", purged, settings.retention)
            await asyncio.sleep(period)

    app = FastAPI(title="mmgp-lesson serve", version="1", docs_url=None, redoc_url=None, lifespan=lifespan,
                  description=__doc__.split("\n\n")[0])
    app.state.service = service

    def route_of(request: Request) -> str:
        """The route template a request's path matches (``/v1/jobs/{job_id}``), so ids never become labels."""
        for route in app.router.routes:
            if route.matches(request.scope)[0] is not Match.NONE:
                return route.path
        return "unmatched"

    @app.middleware("http")
    async def admit(request: Request, call_next):
        """API key, then (for a new job) draining, queue space and the declared size: all before the body is
        read. (A body without Content-Length is cut off at the limit as it streams, by the route's
        ``max_body_size``.)"""
        path = request.url.path
        if settings.api_key and path.startswith(PROTECTED):
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), settings.api_key.encode()):
                return error(401, "missing or wrong API key; send the header Authorization: Bearer KEY",
                             {"WWW-Authenticate": "Bearer"})
        if request.method == "POST" and path == "/v1/jobs":
            reason = service.not_ready()
            if reason:
                return error(503, reason, {"Retry-After": "5"})
            if service.store.queue_depth() >= settings.queue_size:
                return service.queue_full()
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > settings.max_upload_bytes:
                return error(413, service.too_large())
        return await call_next(request)

    @app.middleware("http")
    async def count(request: Request, call_next):
        """``mmgp_requests_total{route, method, status}``, for every answer (401s and 404s included)."""
        response = await call_next(request)
        service.metrics.requests.labels(route_of(request), request.method, str(response.status_code)).inc()
        return response

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        messages = {
            404: f"no such route {request.url.path}; the API is described at /openapi.json",
            405: f"{request.method} is not allowed on {request.url.path}; see /openapi.json",
            413: service.too_large(),
        }
        standard = exc.detail in ("Not Found", "Method Not Allowed", "Content Too Large")
        message = messages.get(exc.status_code, exc.detail) if standard else exc.detail
        return error(exc.status_code, str(message), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"][1:]) or "request"
        return error(422, f"{where}: {first['msg']}")

    @app.post(
        "/v1/jobs", status_code=202, max_body_size=settings.max_upload_bytes,
        form_limits={"max_files": 1, "max_fields": 8, "max_part_size": 1024},
        responses={code: {"description": text} for code, text in {
            401: "no or wrong API key", 413: "upload over --max-upload-mb", 415: "not a video container",
            422: "a video that cannot be decoded, or bad settings", 429: "queue full (Retry-After)",
            503: "draining or models loading"}.items()},
    )
    async def submit(
        video: UploadFile = File(description="the input clip (.mp4, .webm, .gif)"),
        seed: str | None = Form(None, description="seed of the image and video noise, 0..2^63-1 (default 0)"),
        frames: str | None = Form(None, description="frames of the generated video, 8k+1"),
        image_steps: str | None = Form(None, description="aMUSEd unmasking steps (default 12)"),
        video_steps: str | None = Form(None, description="LTX-Video sampler steps (default: the mode's)"),
        candidates: str | None = Form(None, description="best of N images, rated by SmolVLM2 (default 1)"),
    ):
        """Queue a job: the clip is stored privately (0600, named by the job id) and decoded once to check it."""
        job_id = uuid.uuid4().hex
        fields = {"seed": seed, "frames": frames, "image_steps": image_steps, "video_steps": video_steps,
                  "candidates": candidates}
        try:
            options = job_options(fields, job_id, settings, service.default_frames)
        except CapstoneError as problem:
            return error(422, str(problem))
        upload = service.uploads / job_id
        try:
            await run_in_threadpool(store_upload, video, upload)
            await run_in_threadpool(read_video, upload, sampling=service.sampling)
            service.store.submit(options, upload, id=job_id)
        except (CapstoneError, QueueFull) as problem:
            upload.unlink(missing_ok=True)
            if isinstance(problem, QueueFull):
                return service.queue_full()
            message = str(problem).replace(str(upload), "the upload")
            return error(415 if isinstance(problem, NotAVideoError) else 422, message)
        except BaseException:
            upload.unlink(missing_ok=True)
            raise
        service.metrics.accepted.inc()
        location = f"/v1/jobs/{job_id}"
        links = {"self": location, "events": f"{location}/events",
                 "files": {name: f"{location}/files/{name}" for name in RESULT_FILES}}
        return JSONResponse({"id": job_id, "state": "queued", "links": links}, status_code=202,
                            headers={"Location": location})

    @app.get("/v1/jobs")
    def recent(limit: int = Query(20, ge=1, le=100, description="how many, newest first")):
        """The most recent jobs."""
        return {"jobs": [job.to_json() for job in service.store.recent(limit)]}

    @app.get("/v1/jobs/{job_id}")
    def status(job_id: str):
        """A job's state, per-stage progress and seconds, error, variant, and its files once done."""
        return service.job(job_id).to_json()

    def existing(job_id: str) -> Job:
        return service.job(job_id)

    @app.get("/v1/jobs/{job_id}/events", response_class=EventSourceResponse)
    async def events(job: Job = Depends(existing)):
        """Server-sent events: the job's JSON each time it changes; the stream ends when the job does."""
        last = None
        while True:
            record = (await run_in_threadpool(service.store.get, job.id)).to_json()
            if record != last:
                yield ServerSentEvent(data=record, event="job")
                last = record
            if record["state"] in FINISHED or service.stopped:
                return
            await asyncio.sleep(EVENT_POLL_S)

    @app.get("/v1/jobs/{job_id}/files/{name}", responses={404: {"description": "unknown job or name, or not done"}})
    def result_file(job_id: str, name: str):
        """One file of a done job: exactly one of caption.txt, image.png, video.mp4, preview.gif, manifest.json."""
        job = service.job(job_id)
        if name not in RESULT_FILES:
            raise HTTPException(404, f"no file {name!r}; a job has {', '.join(RESULT_FILES)}")
        if job.state != "done":
            raise HTTPException(404, f"job {job.id} is {job.state}; its files exist once it is done")
        # The path joins the store's job id and a name of the fixed list: no other text can reach it.
        return FileResponse(service.results / job.id / name, media_type=RESULT_FILES[name])

    @app.delete("/v1/jobs/{job_id}", status_code=202, responses={409: {"description": "already finished"}})
    def cancel(job_id: str):
        """Cancel a queued or running job (a running one stops at its next stage boundary)."""
        job = service.job(job_id)
        try:
            cancelled = service.store.cancel(job.id)
        except Conflict as problem:
            raise HTTPException(409, str(problem)) from None
        service.metrics.jobs.labels("cancelled", cancelled.variant).inc()
        return JSONResponse(cancelled.to_json(), status_code=202)

    @app.get("/healthz")
    def healthz():
        """The process answers."""
        return {"status": "alive"}

    @app.get("/readyz", responses={503: {"description": "draining, loading, or the engine stopped"}})
    def readyz():
        """Models built, engine running, not draining."""
        reason = service.not_ready()
        return error(503, reason) if reason else {"status": "ready"}

    @app.get("/metrics")
    def metrics():
        """Prometheus text format."""
        return Response(service.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    return app


def store_upload(video: UploadFile, path: Path) -> None:
    """Copy the upload to ``path``, created for the owner only (0600) and never over an existing file."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        video.file.seek(0)
        shutil.copyfileobj(video.file, handle)
