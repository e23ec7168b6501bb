"""``mmgp-lesson serve``: the capstone pipeline as an HTTP service (issue 15, lesson 11).

- :mod:`~mmgp_lesson.serve.config` — the settings and their checks (no heavy import);
- :mod:`~mmgp_lesson.serve.jobs` — the durable job queue (SQLite, WAL);
- :mod:`~mmgp_lesson.serve.options` — a job's options from the form fields, with the CLI's checks;
- :mod:`~mmgp_lesson.serve.ab` — which jobs run the A/B variant;
- :mod:`~mmgp_lesson.serve.runner` — the pipeline cut into the calls the worker makes;
- :mod:`~mmgp_lesson.serve.worker` — the local engine: batching, stages, results;
- :mod:`~mmgp_lesson.serve.engines` — the engine interface and the ``--engine`` choices;
- :mod:`~mmgp_lesson.serve.metrics` — Prometheus metrics on a private registry;
- :mod:`~mmgp_lesson.serve.app` — the FastAPI app and its routes;
- :mod:`~mmgp_lesson.serve.server` — uvicorn, with SIGTERM draining the jobs in flight.

Import each name from its module: this package imports nothing.
"""
