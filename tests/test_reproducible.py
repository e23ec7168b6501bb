"""Tests for mmgp_lesson.reproducible: seeded construction and the single-thread block."""

import torch
from torch import nn

from mmgp_lesson.reproducible import seeded, single_thread


def test_seeded_gives_the_same_weights_whatever_ran_before():
    first = seeded(lambda: nn.Linear(4, 3), 7)
    torch.rand(100)  # move the global generator on
    second = seeded(lambda: nn.Linear(4, 3), 7)
    other = seeded(lambda: nn.Linear(4, 3), 8)
    assert torch.equal(first.weight, second.weight)
    assert not torch.equal(first.weight, other.weight)


def test_seeded_leaves_the_global_generator_where_it_was():
    state = torch.get_rng_state()
    seeded(lambda: torch.randn(10), 3)
    assert torch.equal(torch.get_rng_state(), state)


def test_single_thread_runs_on_one_thread_and_restores_the_count():
    before = torch.get_num_threads()
    with single_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    try:
        with single_thread():
            raise RuntimeError("inside the block")
    except RuntimeError:
        pass
    assert torch.get_num_threads() == before  # restored on an exception too
