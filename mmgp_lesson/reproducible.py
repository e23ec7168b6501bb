"""Repeatable runs: seeded construction and single-threaded execution, used by every training loop.

- :func:`seeded` builds a module (or anything else that draws from torch's global generator) with the
  draws coming from one seed, and leaves the global generator as it found it: the same seed gives the
  same initial weights whatever ran before.
- :func:`single_thread` runs a block on one CPU thread. The course's networks are tiny (64-wide layers,
  batches of a few hundred): splitting each matrix product across threads costs more synchronisation
  than it saves, and on a shared 2-core machine the extra threads mostly wait for each other. Timings
  taken inside it measure the computation, not thread contention.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import torch

Built = TypeVar("Built")


def seeded(build: Callable[[], Built], seed: int) -> Built:
    """``build()`` with torch's global generator seeded by ``seed``; the global state is restored afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


@contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one thread inside the block, restoring the previous thread count on exit."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
