"""The engines that run the service's jobs, and the interface the app drives them through.

An engine takes its jobs from the :class:`~mmgp_lesson.serve.jobs.JobStore` (``claim``), records
stage progress there (``stage``) and ends each job there (``finish`` / ``fail``), so the HTTP API,
the durability and the metrics are the same whichever engine runs.
:data:`~mmgp_lesson.serve.config.ENGINES` maps each ``--engine`` name to its class, imported only
when chosen (Ray is large).
"""

from __future__ import annotations

from importlib import import_module
from typing import Callable, Protocol

from mmgp_lesson.serve.config import ENGINES, ServeSettings
from mmgp_lesson.serve.jobs import JobStore
from mmgp_lesson.serve.metrics import Metrics

class Engine(Protocol):
    """What the app needs of an engine: start it, stop it (``drain``: finish the jobs in flight first;
    otherwise they are left ``running`` for the next start's recovery), and say whether it takes jobs."""

    def start(self) -> None: ...

    def stop(self, drain: bool = True) -> None: ...

    def ready(self) -> bool: ...


def make_engine(settings: ServeSettings, store: JobStore, metrics: Metrics, runner_factory: Callable, results) -> Engine:
    """The engine ``settings.engine`` names, built as ``cls(store, runner_factory, metrics, results,
    batch_size=B, batch_wait_ms=W)``."""
    module, name = ENGINES[settings.engine].split(":")
    engine = getattr(import_module(module), name)
    return engine(store, runner_factory, metrics, results, batch_size=settings.batch_size, batch_wait_ms=settings.batch_wait_ms)
