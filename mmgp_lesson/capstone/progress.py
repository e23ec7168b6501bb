"""Progress of a pipeline run on stderr: a tqdm bar per stage on a terminal, one line per stage otherwise.

:class:`Progress` is handed to :meth:`MMGPPipeline.__call__ <mmgp_lesson.capstone.pipeline.MMGPPipeline.__call__>`;
``with progress.stage("image", steps=12) as step:`` opens a stage and ``step()`` marks one denoising or
unmasking step done. On a terminal each stage is a tqdm bar (steps, elapsed seconds); in a log (stderr
not a terminal) each stage prints one line when it ends, ``image: 12 steps in 0.41 s``, so a log stays
short; ``quiet=True`` prints nothing.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import TextIO

from tqdm import tqdm


class Progress:
    """Per-stage progress on ``stream`` (stderr by default); silent with ``quiet``."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False):
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.bars = not quiet and self.stream.isatty()

    @contextmanager
    def stage(self, name: str, steps: int | None = None):
        """Report the stage ``name`` of ``steps`` steps (``None``: one indivisible stage); yields ``step()``."""
        if self.quiet:
            yield lambda: None
            return
        start = time.perf_counter()
        if self.bars:
            with tqdm(total=steps, desc=name, file=self.stream, leave=True, unit="step") as bar:
                yield bar.update
            return
        done = [0]

        def step() -> None:
            done[0] += 1

        yield step
        what = f"{done[0]} steps in " if steps else ""
        print(f"{name}: {what}{time.perf_counter() - start:.2f} s", file=self.stream, flush=True)
