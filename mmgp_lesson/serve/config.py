"""The service's settings (``mmgp-lesson serve``'s options) and their checks, with no heavy import.

:meth:`ServeSettings.check` runs before torch, uvicorn or FastAPI is imported, so a refused
command line (a public ``--host`` without an API key, a bad ``--frames``) costs a fraction of a second.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from mmgp_lesson.capstone.errors import CapstoneError
from mmgp_lesson.capstone.settings import MAX_STEPS, check_settings
from mmgp_lesson.errors import UsageError

MAX_CANDIDATES = 16
"""The most best-of-N candidates one request may ask for: each is a full image in memory."""
ENGINES = {"local": "mmgp_lesson.serve.worker:Worker", "ray": "mmgp_lesson.serve.ray_engine:RayEngine"}
"""``--engine`` name -> ``module:class`` of an :class:`~mmgp_lesson.serve.engines.Engine` (``ray``: one Ray
Serve deployment per stage, :mod:`mmgp_lesson.serve.ray_engine`)."""
MAX_BATCH = 64
"""The largest ``--batch-size`` accepted: one aMUSEd call holds every image of a batch at once."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to any address, so it is not loopback
        return False


@dataclass(frozen=True)
class ServeSettings:
    """Everything ``mmgp-lesson serve`` is told; the defaults are the CLI's.

    ``frames`` is the default clip length of a job (:meth:`default_frames` when ``None``);
    ``retention`` is how many seconds a finished job's upload and results are kept;
    ``ab_fraction`` of the jobs (decided by :func:`~mmgp_lesson.serve.ab.variant`) run variant "B",
    which draws its image in ``ab_image_steps`` steps.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    data: Path = Path("outputs/serve")
    mode: str = "auto"
    weights: str | None = None
    device: str | None = None
    frames: int | None = None
    batch_size: int = 4
    batch_wait_ms: float = 50.0
    queue_size: int = 64
    max_upload_mb: float = 50.0
    retention: float = 24 * 3600.0
    api_key: str | None = None
    ab_fraction: float = 0.0
    ab_image_steps: int = 8
    engine: str = "local"

    def check(self) -> None:
        """Raise a one-line error for a setting the service refuses; nothing is created."""
        if not is_loopback(self.host) and not self.api_key:
            raise UsageError(
                f"--host {self.host} is not a loopback address and no API key is set: anyone who can reach it "
                "could run jobs; pass --api-key KEY (or set MMGP_API_KEY), or keep --host 127.0.0.1"
            )
        if not 0 <= self.port <= 65535:
            raise CapstoneError(f"--port {self.port} is outside 0..65535; pick e.g. --port 8000 (0: any free port)")
        if self.frames is not None:
            check_settings(self.frames, None, None, 12, None)
        bounds = {
            "--batch-size": (self.batch_size, 1, MAX_BATCH),
            "--batch-wait-ms": (self.batch_wait_ms, 0, 60_000),
            "--queue-size": (self.queue_size, 1, 100_000),
            "--max-upload-mb": (self.max_upload_mb, 0.001, 10_000),
            "--retention": (self.retention, 0, 10 * 365 * 86400),
            "--ab-fraction": (self.ab_fraction, 0, 1),
            "--ab-image-steps": (self.ab_image_steps, 1, MAX_STEPS),
        }
        for name, (value, low, high) in bounds.items():
            if not low <= value <= high:
                raise CapstoneError(f"{name} {value} is outside {low}..{high}; leave it out for the default")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 2**20)

    def default_frames(self, real: bool) -> int:
        """Frames of a job that does not say: ``frames``, else 49 (two seconds) with real weights, 9 tiny."""
        return self.frames if self.frames is not None else (49 if real else 9)
