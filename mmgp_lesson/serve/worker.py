"""The local engine: one thread that takes jobs from the store in batches and runs them.

Batching rule. The worker claims the oldest queued job, then keeps claiming until it holds
``batch_size`` jobs or ``batch_wait_ms`` have passed since that first job *arrived* (was submitted:
a job that already waited that long in a backlog does not wait again). It reads and captions each
job, then draws the images of all of them in **one** ``AmusedPipeline`` call per step count (jobs
asking different ``image_steps``, e.g. the two A/B arms, cannot share a call; a best-of-N job draws
its candidates in a call of its own), then each job's video.

Reproducibility. aMUSEd takes one generator per call, so the images of a batch are drawn from one
generator seeded with the seed of the batch's first job; image ``i`` of a batch of ``n`` depends on
its prompt, that seed, ``n`` and ``i`` only, and the manifest records ``image.batch = {"size": n,
"position": i, "seed": s}`` to reproduce it. With ``batch_size = 1`` every job is drawn exactly as
``mmgp-lesson run`` draws it: the same files, byte for byte. The video is always drawn with the job's
own seed.

A cancelled job is dropped at the next stage boundary. Stage progress and seconds are written to the
store as they happen (``GET /v1/jobs/{id}`` and its event stream read them there).
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from mmgp_lesson.capstone.errors import CapstoneError
from mmgp_lesson.capstone.pipeline import MMGPPipeline, MMGPResult
from mmgp_lesson.serve.jobs import Job, JobStore
from mmgp_lesson.serve.metrics import Metrics
from mmgp_lesson.serve.runner import StageRunner

log = logging.getLogger(__name__)


@dataclass
class _Work:
    """One job on its way through the stages, with what each stage made."""

    job: Job
    view: MMGPPipeline
    clip: object = None
    caption: str = ""
    image: object = None
    extra: dict = field(default_factory=dict)  # manifest["image"] additions: the batch, the candidates
    timings: dict = field(default_factory=dict)


class Worker:
    """The local engine (``--engine local``): :meth:`start`, :meth:`stop`, :meth:`ready`.

    ``runner_factory`` builds the :class:`StageRunner` in the worker's thread, so the server answers
    ``/healthz`` while the models load (``/readyz`` says 503 until they are built).
    """

    def __init__(
        self,
        store: JobStore,
        runner_factory: Callable[[], StageRunner],
        metrics: Metrics,
        results: str | Path,
        batch_size: int = 1,
        batch_wait_ms: float = 0.0,
        poll_s: float = 0.02,
    ):
        self.store = store
        self.runner_factory = runner_factory
        self.metrics = metrics
        self.results = Path(results)
        self.batch_size = batch_size
        self.batch_wait_ms = batch_wait_ms
        self.poll_s = poll_s
        self.runner: StageRunner | None = None
        self.error: BaseException | None = None
        self._stopping = threading.Event()
        self._abandon = False
        self._thread = threading.Thread(target=self._loop, name="mmgp-worker", daemon=False)

    def start(self) -> None:
        self._thread.start()

    def ready(self) -> bool:
        """Models built, thread alive, not stopping."""
        return self.runner is not None and self._thread.is_alive() and not self._stopping.is_set()

    def stop(self, drain: bool = True) -> None:
        """Claim no more jobs and wait for the thread. ``drain``: finish the jobs in flight first;
        otherwise leave them at the next stage boundary, ``running`` in the store, for the next start's
        :meth:`~mmgp_lesson.serve.jobs.JobStore.recover`."""
        self._abandon = self._abandon or not drain
        self._stopping.set()
        if self._thread.ident is not None:
            self._thread.join()

    def _loop(self) -> None:
        try:
            self.runner = self.runner_factory()
        except BaseException as error:  # reported by /readyz and the log; the server stays up to say so
            self.error = error
            log.exception("the worker could not build the models")
            return
        while not self._stopping.is_set():
            batch = self._collect()
            if batch:
                self._process(batch)
            else:
                self._stopping.wait(self.poll_s)

    def _collect(self) -> list[Job]:
        """The next batch: the oldest queued job and what else arrives within ``batch_wait_ms`` of it."""
        batch = self.store.claim(self.batch_size)
        if not batch:
            return []
        deadline = batch[0].created + self.batch_wait_ms / 1000
        while len(batch) < self.batch_size and not self._stopping.is_set():
            remaining = deadline - time.time()
            if remaining <= 0:
                break
            time.sleep(min(self.poll_s, remaining))
            batch += self.store.claim(self.batch_size - len(batch))
        return batch

    def _running(self, works: list[_Work]) -> list[_Work]:
        """The works still to do: not cancelled meanwhile, and not abandoned by ``stop(drain=False)``."""
        if self._abandon:
            return []
        return [work for work in works if self.store.get(work.job.id).state == "running"]

    @contextmanager
    def _stage(self, works: list[_Work], name: str, steps: int | None = None):
        """Record stage ``name`` of ``works`` in the store as it runs; yields ``step()`` (one step done)."""
        done = [0]
        for work in works:
            self.store.stage(work.job.id, name, state="running", **({"steps": [0, steps]} if steps else {}))

        def step() -> None:
            done[0] += 1
            for work in works:
                self.store.stage(work.job.id, name, steps=[done[0], steps])

        start = time.perf_counter()
        yield step
        seconds = time.perf_counter() - start
        self.metrics.stage_seconds.labels(name).observe(seconds)
        for work in works:
            work.timings[name] = seconds
            self.store.stage(work.job.id, name, state="done", seconds=round(seconds, 4))

    def _fail(self, works: list[_Work], error: Exception) -> None:
        """Fail ``works`` with one line: the input's problem, or an internal error (traceback to the log)."""
        if isinstance(error, CapstoneError):
            message = str(error)
        else:
            log.exception("internal error in jobs %s", [work.job.id for work in works])
            message = f"internal error ({type(error).__name__}: {error}); see the server's log"
        for work in works:
            if self.store.fail(work.job.id, message.splitlines()[0] if message else type(error).__name__):
                self.metrics.jobs.labels("failed", work.job.variant).inc()

    def _attempt(self, works: list[_Work], action: Callable[[], None]) -> list[_Work]:
        """Run ``action`` for ``works``; on an error fail them all and return none of them."""
        try:
            action()
        except Exception as error:
            self._fail(works, error)
            return []
        return works

    def _process(self, batch: list[Job]) -> None:
        runner = self.runner
        works = []
        for job in batch:
            options = job.options
            work = _Work(job, runner.view(options.get("image_steps"), options.get("frames"), options.get("video_steps")))
            works += self._attempt([work], lambda work=work: self._prepare(work))
        works = self._running(works)
        batchable: dict[int, list[_Work]] = {}
        for work in works:
            if work.job.options.get("candidates", 1) > 1:
                self._attempt([work], lambda work=work: self._best(work))
            else:
                batchable.setdefault(work.view.image.steps, []).append(work)
        for group in batchable.values():
            self._attempt(group, lambda group=group: self._images(group))
        for work in self._running([work for work in works if work.image is not None]):
            self._attempt([work], lambda work=work: self._finish(work))

    def _prepare(self, work: _Work) -> None:
        """Read and caption one job's clip."""
        with self._stage([work], "read"):
            work.clip = self.runner.read(work.job.upload)
        with self._stage([work], "understand"):
            work.caption = self.runner.understand(work.clip)

    def _images(self, group: list[_Work]) -> None:
        """The images of ``group`` (one step count) in one aMUSEd call, seeded by the first job's seed."""
        seed = group[0].job.options["seed"]
        with self._stage(group, "image", steps=group[0].view.image.steps) as step:
            images = self.runner.images(group[0].view, [work.caption for work in group], seed, on_step=step)
        self.metrics.batch_size.observe(len(group))
        for position, (work, image) in enumerate(zip(group, images)):
            work.image = image
            work.extra["batch"] = {"size": len(group), "position": position, "seed": seed}

    def _best(self, work: _Work) -> None:
        """A best-of-N job's image: its candidates in a call of their own, as ``mmgp-lesson run --candidates``."""
        seed = work.job.options["seed"]
        with self._stage([work], "image"):
            chosen = self.runner.best(work.view, work.caption, work.job.options["candidates"], seed)
        self.metrics.batch_size.observe(1)
        work.image = chosen.image
        work.extra.update(batch={"size": 1, "position": 0, "seed": seed}, candidates=chosen.manifest())

    def _finish(self, work: _Work) -> None:
        """The job's video, then its files (atomically, into ``results/<id>/``), then done."""
        job, view = work.job, work.view
        seed = job.options["seed"]
        with self._stage([work], "video", steps=view.video.steps) as step:
            frames = self.runner.video(view, work.caption, seed, on_step=step)
        manifest = view.manifest(work.clip, seed, work.caption, work.caption, work.timings)
        manifest["image"].update(work.extra)
        manifest["service"] = {"job": job.id, "variant": job.variant}
        result = MMGPResult(work.caption, work.caption, work.image, frames, work.timings, manifest)
        self.runner.save(self.results / job.id, result)
        if self.store.finish(job.id):
            self.metrics.jobs.labels("done", job.variant).inc()
            self.metrics.job_seconds.labels(job.variant).observe(time.time() - job.created)
