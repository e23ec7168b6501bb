"""The Ray engine (``mmgp-lesson serve --engine ray``): each stage of the pipeline a Ray Serve deployment.

The HTTP API, the job store, the metrics and the per-job bookkeeping are the local engine's
(:class:`~mmgp_lesson.serve.worker.Worker`, which this engine extends): jobs are claimed from the same
SQLite store, so an accepted job survives a crash whichever engine runs. What changes is where the
models run and who batches:

- three deployments, one per stage: :class:`Understand` (SmolVLM2 captions a clip),
  ``Image`` (aMUSEd; made by :func:`image_deployment`, whose ``draw`` is a ``@serve.batch`` method
  with ``max_batch_size = B`` and ``batch_wait_timeout_s = W / 1000``) and :class:`Video` (LTX-Video),
  each with its own ``autoscaling_config`` (:func:`deployment_options`);
- the engine runs up to :meth:`RayEngine.in_flight` jobs at once, one thread each; each thread calls
  the deployments through Serve's handles (:class:`RemoteRunner`), so concurrent image calls from
  different jobs are batched by Serve, not by the worker. Reading the upload and writing the results
  stay in the server's process (the files live there).

Batching and reproducibility follow the local engine's rule: the prompts of one Serve batch are drawn
in one aMUSEd call per step count, seeded with the seed of the first of them, and ``image.batch`` in
the manifest records ``size``, ``position`` and ``seed``. With ``B = 1`` every file of a job is the
local engine's, byte for byte (``tests/serve/test_ray.py`` compares them).

Ray stays on this machine's loopback: ``ray.init`` gets ``_node_ip_address="127.0.0.1"``, the
environment ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` and ``RAY_AUTH_MODE=disabled`` (set for this
process when this module is imported, *before* ``ray`` is: Ray reads the first at import, and with
it unset ``ray.init`` turns ``_node_ip_address="127.0.0.1"`` into the machine's network address, where
every Ray process then listened; the engine refuses to run if Ray's node is not 127.0.0.1), a
temporary folder of its own (:attr:`RayEngine.temp_dir`, kept after the engine stops, like Ray's
``/tmp/ray``, for its logs), and Serve runs no HTTP proxy at all
(``proxy_location="Disabled"``): the service's own FastAPI app is the only HTTP server.

Each replica builds its own stage (:meth:`MMGPPipeline.build_stage
<mmgp_lesson.capstone.pipeline.MMGPPipeline.build_stage>`) from :func:`stage_recipe`, the arguments the
server's own pipeline was built with, so on a cluster every replica loads its checkpoint on its node.
Stage objects are not shipped through Ray's object store: a pickled transformers text encoder came
back without its hidden states (aMUSEd then fails), so they are rebuilt, never copied. The server's
process still builds the whole pipeline (the local engine's runner: job views, manifests, files), so in
real mode it holds the three checkpoints too without running them.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

RAY_ENVIRONMENT = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled"}
"""Keep every Ray process on loopback, and write no auth token to the home folder; set before ``import ray``."""
os.environ.update(RAY_ENVIRONMENT)

import ray  # noqa: E402  (after the environment above)
import torch  # noqa: E402
from ray import serve  # noqa: E402
from ray.exceptions import RayTaskError  # noqa: E402

from mmgp_lesson.capstone.candidates import best_of_n
from mmgp_lesson.capstone.errors import CapstoneError
from mmgp_lesson.capstone.pipeline import MMGPPipeline
from mmgp_lesson.capstone.weights import MODEL_IDS, Checkpoints
from mmgp_lesson.serve.jobs import Job
from mmgp_lesson.serve.runner import StageRunner
from mmgp_lesson.serve.worker import Worker, _Work

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
MAX_REPLICAS = 2
"""Each deployment's autoscaling ceiling; the floor is one replica."""
RAY_START_ATTEMPTS = 3
"""Ray gives its node a fixed 30 s to come up (``ray/_private/node.py``), and its raylet gives the metrics
agent about 15 s: on a loaded machine either can run out (seen 3 times in 10 starts on 2 shared cores)."""


def _with(stage, **fields):
    """A shallow copy of ``stage`` (same model) with ``fields`` changed where given, as
    :meth:`StageRunner.view <mmgp_lesson.serve.runner.StageRunner.view>` makes a job's view."""
    view = copy.copy(stage)
    for name, value in fields.items():
        setattr(view, name, value or getattr(stage, name))
    return view


def stage_recipe(pipeline: MMGPPipeline) -> dict:
    """The keyword arguments of :meth:`MMGPPipeline.build_stage` that rebuild ``pipeline``'s stages:
    the same checkpoints (its ``sources``), device type, video shape and steps, image steps and options."""
    real = pipeline.mode == "real"
    folders = {stage: Path(pipeline.sources[stage]) if real else None for stage in MODEL_IDS}
    video = pipeline.video
    return {
        "checkpoints": Checkpoints(real=real, folders=folders, note=pipeline.mode_note),
        "device": pipeline.understand.model.device.type,
        "video": {"frames": video.frames, "height": video.height, "width": video.width, "steps": video.steps},
        "image_steps": pipeline.image.steps,
        "static_cache": pipeline.understand.static_cache,
        "compile": pipeline.image.compile,
    }


def _build(stage: str, recipe: dict):
    """``stage`` built in this replica from ``recipe``; tiny mode single-threaded, as :meth:`StageRunner.build` runs it."""
    if not recipe["checkpoints"].real:
        torch.set_num_threads(1)  # tiny tensors: a second thread only adds synchronisation
    return MMGPPipeline.build_stage(stage, **recipe)[0]


@serve.deployment(max_ongoing_requests=1)
class Understand:
    """SmolVLM2: one clip at a time per replica (``max_ongoing_requests=1``, as a GPU would take it)."""

    def __init__(self, recipe: dict):
        self.stage = _build("understand", recipe)

    def __call__(self, clip) -> str:
        return self.stage(clip)


def image_deployment(batch_size: int, batch_wait_ms: float):
    """The image deployment class, its ``draw`` batched by Serve: up to ``batch_size`` prompts, waiting at
    most ``batch_wait_ms`` after the first. The Serve batch parameters are fixed when the class is made."""

    @serve.deployment(max_ongoing_requests=2 * batch_size)
    class Image:
        """aMUSEd. ``draw`` takes one prompt and Serve hands the method every prompt of a batch; ``best``
        draws a best-of-N job's candidates in a call of their own and scores them with SmolVLM2
        (the 256M verifier sits beside aMUSEd, so best-of-N needs no second round trip)."""

        def __init__(self, recipe: dict):
            self.stage = _build("image", recipe)
            self.verifier = _build("understand", recipe)

        @serve.batch(max_batch_size=batch_size, batch_wait_timeout_s=batch_wait_ms / 1000)
        async def draw(self, prompts: list[str], seeds: list[int], steps: list[int]) -> list[tuple]:
            """One ``(image, batch record)`` per prompt; the model runs in a thread, so the next batch
            gathers while this one is drawn."""
            return await asyncio.to_thread(self._draw, prompts, seeds, steps)

        def _draw(self, prompts, seeds, steps) -> list[tuple]:
            answers = [None] * len(prompts)
            for count in dict.fromkeys(steps):  # one aMUSEd call per step count, in order of arrival
                group = [index for index, value in enumerate(steps) if value == count]
                seed = seeds[group[0]]
                images = _with(self.stage, steps=count)([prompts[index] for index in group], seed=seed)
                for position, (index, image) in enumerate(zip(group, images)):
                    answers[index] = (image, {"size": len(group), "position": position, "seed": seed})
            return answers

        def best(self, prompt: str, count: int, seed: int, steps: int):
            return best_of_n(_with(self.stage, steps=steps), self.verifier, prompt, count, seed)

    return Image


@serve.deployment(max_ongoing_requests=1)
class Video:
    """LTX-Video: one clip at a time per replica, with the job's frame count and steps."""

    def __init__(self, recipe: dict):
        self.stage = _build("video", recipe)

    def __call__(self, prompt: str, seed: int, frames: int, steps: int):
        return _with(self.stage, frames=frames, steps=steps)(prompt, seed=seed)


def deployment_options(stage: str, batch_size: int, device: str) -> dict:
    """Serve options of ``stage``'s deployment: autoscaling between 1 and :data:`MAX_REPLICAS` replicas
    (the image one aims at a full batch per replica), one CPU per replica, and one GPU each on CUDA."""
    target = batch_size if stage == "image" else 1
    return {
        "autoscaling_config": {"min_replicas": 1, "max_replicas": MAX_REPLICAS, "target_ongoing_requests": target},
        "ray_actor_options": {"num_cpus": 1, "num_gpus": 1 if device == "cuda" else 0},
    }


class RemoteRunner:
    """:class:`~mmgp_lesson.serve.runner.StageRunner`'s interface, with the three stages run by the deployments.

    ``read``, ``view`` and ``save`` are the local runner's (the upload and the results are on this
    machine); ``understand``, ``image``, ``best`` and ``video`` wait for a deployment's answer. A
    stage's error comes back as the replica raised it (a one-line :class:`CapstoneError` stays one line).
    """

    def __init__(self, local: StageRunner, handles: dict):
        self.handles = handles
        self.read, self.view, self.save = local.read, local.view, local.save

    @staticmethod
    def _answer(response):
        try:
            return response.result()
        except RayTaskError as error:
            raise error.cause from None

    def understand(self, clip) -> str:
        caption = self._answer(self.handles["understand"].remote(clip))
        if not caption:  # the local runner's rule and words
            raise CapstoneError("the understand stage returned an empty caption; there is nothing to draw from")
        return caption

    def image(self, view, prompt: str, seed: int) -> tuple:
        """The image for ``prompt`` and its batch record ``{"size", "position", "seed"}``."""
        return self._answer(self.handles["image"].draw.remote(prompt, seed, view.image.steps))

    def best(self, view, prompt: str, count: int, seed: int):
        return self._answer(self.handles["image"].best.remote(prompt, count, seed, view.image.steps))

    def video(self, view, prompt: str, seed: int, on_step=None):
        """The clip (its steps are not reported one by one: they run on a replica)."""
        return self._answer(self.handles["video"].remote(prompt, seed, view.video.frames, view.video.steps))


class RayEngine(Worker):
    """The Ray engine: :meth:`start`, :meth:`stop` and :meth:`ready` as the local :class:`Worker`'s.

    Its thread builds the pipeline, starts Ray on loopback and the three deployments, then claims jobs
    from the store as slots free up and runs each in a thread of its own: read and caption
    (:meth:`Worker._prepare`), the image (:meth:`_image`, or :meth:`Worker._best` for best-of-N), the
    video and the files (:meth:`Worker._finish`), recording each stage in the store and the metrics.
    ``stop(drain=True)`` lets the jobs in flight finish; ``drain=False`` drops them at their next stage
    boundary (left ``running`` for the next start's recovery). Then Serve and Ray shut down.
    """

    def __init__(self, *args, **options):
        super().__init__(*args, **options)
        self.temp_dir: Path | None = None
        self.startup_seconds: float | None = None

    @property
    def in_flight(self) -> int:
        """How many jobs run at once: enough to fill a batch on every image replica while the next gathers."""
        return 2 * self.batch_size * MAX_REPLICAS

    def _loop(self) -> None:
        try:
            local = self.runner_factory()
            start = time.perf_counter()
            handles = self._start_ray(local)
            self.startup_seconds = time.perf_counter() - start
        except BaseException as error:  # reported by /readyz and the log, as the local engine does
            self.error = error
            log.exception("the Ray engine could not start")
            self._shutdown_ray()
            return
        self.runner = RemoteRunner(local, handles)
        running: set = set()
        with ThreadPoolExecutor(self.in_flight, thread_name_prefix="mmgp-ray-job") as pool:
            while not self._stopping.is_set():
                running = {future for future in running if not future.done()}
                jobs = self.store.claim(self.in_flight - len(running)) if len(running) < self.in_flight else []
                running |= {pool.submit(self._job, job) for job in jobs}
                if not jobs:
                    self._stopping.wait(self.poll_s)
        self._shutdown_ray()

    def _start_ray(self, local: StageRunner) -> dict:
        """Ray on loopback with its own temporary folder, Serve without a proxy, the three deployments."""
        self.temp_dir = Path(tempfile.mkdtemp(prefix="mmgp-ray-"))
        for attempt in range(1, RAY_START_ATTEMPTS + 1):
            try:
                ray.init(
                    num_cpus=max(os.cpu_count() or 1, 3),  # logical CPUs: one replica of every stage always fits
                    include_dashboard=False,
                    _node_ip_address=LOOPBACK,
                    _temp_dir=str(self.temp_dir),
                    log_to_driver=False,
                )
                break
            except Exception as error:  # Ray raises a bare Exception when its node does not come up in time
                if "timed out during startup" not in str(error) or attempt == RAY_START_ATTEMPTS:
                    raise
                log.warning("Ray's node did not start in time (attempt %d); starting it again", attempt)
                ray.shutdown()
        node = ray.util.get_node_ip_address()
        if node != LOOPBACK:
            raise CapstoneError(
                f"Ray started on {node}, not {LOOPBACK} (ray was imported before mmgp_lesson.serve.ray_engine "
                "set RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0); set it in the environment and restart"
            )
        serve.start(proxy_location="Disabled", http_options={"host": LOOPBACK})
        recipe = stage_recipe(local.pipeline)
        deployments = {"understand": Understand, "image": image_deployment(self.batch_size, self.batch_wait_ms), "video": Video}
        apps = {
            stage: deployment.options(**deployment_options(stage, self.batch_size, recipe["device"])).bind(recipe)
            for stage, deployment in deployments.items()
        }
        handles = serve.run_many([serve.RunTarget(app, name=name, route_prefix=None) for name, app in apps.items()])
        return dict(zip(apps, handles))

    @staticmethod
    def _shutdown_ray() -> None:
        if ray.is_initialized():
            serve.shutdown()
            ray.shutdown()

    def _job(self, job: Job) -> None:
        """One job through the stages, in this thread; an error fails it with one line (:meth:`Worker._fail`)."""
        options = job.options
        work = _Work(job, self.runner.view(options.get("image_steps"), options.get("frames"), options.get("video_steps")))
        works = self._running(self._attempt([work], lambda: self._prepare(work)))
        if works:
            best = options.get("candidates", 1) > 1
            works = self._running(self._attempt(works, lambda: self._best(work) if best else self._image(work)))
        if works:
            self._attempt(works, lambda: self._finish(work))

    def _image(self, work: _Work) -> None:
        """The job's image, drawn in whatever batch Serve put its prompt in; the first of a batch counts it."""
        seed = work.job.options["seed"]
        with self._stage([work], "image", steps=work.view.image.steps):
            work.image, batch = self.runner.image(work.view, work.caption, seed)
        if batch["position"] == 0:
            self.metrics.batch_size.observe(batch["size"])
        work.extra["batch"] = batch
