"""Checks for lesson 04: Langevin dynamics."""

from __future__ import annotations

import math

import torch

from mmgp_lesson.checks import CheckFailed, answer_tensor, close, exercise, generator, passed, require, rng
from mmgp_lesson.toys import DTYPE, DoubleWell


def _points(count: int = 64, seed: int = 0) -> torch.Tensor:
    return 1.5 * torch.randn(count, 2, dtype=DTYPE, generator=generator(seed))


_WELL = DoubleWell(barrier=1.5, dim=2)


def _well_log_prob(x: torch.Tensor) -> torch.Tensor:
    """Unnormalised log-density -E(x) of the checks' double well."""
    return -_WELL.energy(x)


def _well_score(x: torch.Tensor) -> torch.Tensor:
    """Score -∇E(x) of the checks' double well."""
    return -_WELL.grad_energy(x)


def _gaussian_score(x: torch.Tensor) -> torch.Tensor:
    """Score -x of E(x) = x²/2, the standard normal."""
    return -x


def _ula_chain(step_function, score, x, step: float, steps: int, seed: int) -> torch.Tensor:
    """Run the learner's ULA step ``steps`` times from ``x`` with noise from ``seed`` (in the learner's process)."""
    noise = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = step_function(score, x, step, torch.randn(x.shape, dtype=DTYPE, generator=noise))
    return x


@exercise("04-1", answer="ula_step", references=("mmgp_lesson.sde:ula",))
def ula_step(step_function) -> None:
    """Exercise 04.1: ``ula_step(score, x, step, z)`` must return x + η score(x) + √(2η) z.

    Compared to 1e-10 relative (float64 algebra); then run for 100 steps on E = x²/2 with η = 0.2, whose
    stationary variance 1/(1 - η/2) the chain must reach within five standard errors.
    """
    score, x, eta = _well_score, _points(), 0.05
    z = torch.randn(x.shape, dtype=DTYPE, generator=generator(1))
    value = answer_tensor(step_function, score, x, eta, z)
    require(value.shape == x.shape, f"your step returns shape {tuple(value.shape)}; it should return the new particles, shape {tuple(x.shape)}")
    exact = x + eta * score(x) + math.sqrt(2 * eta) * z
    if not close(value, exact):
        if close(value, x + eta * score(x) + math.sqrt(eta) * z):
            raise CheckFailed("the noise is √η z: Langevin's diffusion is √2 dW, so one step adds √(2η) z")
        if close(value, x - eta * score(x) + math.sqrt(2 * eta) * z):
            raise CheckFailed("the drift has the wrong sign: the step climbs the log-density, x + η ∇log p(x) = x - η ∇E(x)")
        if close(value, x + eta * score(x)):
            raise CheckFailed("your step has no noise: without √(2η) z it is gradient ascent on log p and collapses onto the modes")
        if close(value, x + eta * score(x) + 2 * eta * z):
            raise CheckFailed("the noise should be √(2η) z, not 2η z: Brownian increments over a step η have standard deviation √η")
        raise CheckFailed("your step differs from x + η ∇log p(x) + √(2η) z")
    eta, count = 0.2, 40_000
    chain = answer_tensor(step_function, _gaussian_score, torch.zeros(count, 1, dtype=DTYPE), eta, 100,
                          generator(2).initial_seed(), runner=_ula_chain)
    require(chain.shape == (count, 1), f"after 100 steps from shape ({count}, 1) your chain has shape {tuple(chain.shape)}")
    variance, exact_variance = chain.var().item(), 1 / (1 - eta / 2)
    require(abs(variance - exact_variance) < 5 * exact_variance * math.sqrt(2 / count),
            f"your chain's variance on E = x²/2 is {variance:.3f}, not 1/(1 - η/2) = {exact_variance:.3f}: check the step once more")
    passed(f"the ULA step is right, and on E = x²/2 with η = 0.2 it reaches variance {variance:.3f} (closed form {exact_variance:.3f})")


@exercise("04-2", answer="stationary_variance")
def ula_stationary_variance(variance) -> None:
    """Exercise 04.2: ``variance(step)`` must be ULA's stationary variance 1/(1 - η/2) on E = x²/2.

    An exact formula: compared to 1e-10 at five fixed steps and three drawn at grading time.
    """
    steps = [0.01, 0.1, 0.5, 1.0, 1.5] + rng(5).uniform(0.05, 1.9, size=3).tolist()
    values = torch.stack([answer_tensor(variance, eta).reshape(()) for eta in steps])
    exact = torch.tensor([1 / (1 - eta / 2) for eta in steps], dtype=DTYPE)
    if close(values, exact):
        passed("the stationary variance 1/(1 - η/2) is right: the bias η/2 + O(η²) grows linearly with the step")
        return
    etas = torch.tensor(steps, dtype=DTYPE)
    if close(values, torch.ones_like(exact)):
        raise CheckFailed("you returned the exact law's variance 1: ULA is biased; solve v = (1 - η)² v + 2η for the variance of its stationary law")
    if close(values, 1 + etas / 2):
        raise CheckFailed("1 + η/2 is only the first-order term: solve v = (1 - η)² v + 2η exactly")
    if close(values, 1 / (1 - etas)) or close(values, 1 / (1 - etas / 2) ** 2):
        raise CheckFailed("expand (1 - η)² = 1 - 2η + η² carefully: v (2η - η²) = 2η")
    raise CheckFailed("your variance is not the fixed point of v = (1 - η)² v + 2η (one ULA step x ← (1 - η) x + √(2η) z)")


@exercise("04-3", answer="log_acceptance_ratio", references=("mmgp_lesson.sde:mala",))
def mala_log_acceptance(log_ratio) -> None:
    """Exercise 04.3: ``log_ratio(log_prob, score, x, y, step)`` must be log[p(y) q(x|y) / (p(x) q(y|x))].

    With q(y | x) = N(y; x + η score(x), 2η I); compared to 1e-10 relative (float64 algebra).
    """
    log_prob, score = _well_log_prob, _well_score
    x, y, eta = _points(seed=3), _points(seed=4), 0.3
    value = answer_tensor(log_ratio, log_prob, score, x, y, eta)
    require(value.shape == (len(x),), f"your log-ratio has shape {tuple(value.shape)}; it should be one number per particle, shape ({len(x)},)")

    def log_q(to, start, variance):
        return -((to - start - eta * score(start)) ** 2).sum(1) / (2 * variance)

    target = log_prob(y) - log_prob(x)
    exact = target + log_q(x, y, 2 * eta) - log_q(y, x, 2 * eta)
    if close(value, exact):
        passed("the MALA log acceptance ratio log p(y) - log p(x) + log q(x|y) - log q(y|x) is right")
        return
    if close(value, target):
        raise CheckFailed("you dropped the proposal terms: the Langevin proposal is not symmetric, add log q(x|y) - log q(y|x)")
    if close(value, target - log_q(x, y, 2 * eta) + log_q(y, x, 2 * eta)):
        raise CheckFailed("the proposal terms are swapped: the ratio is q(x|y) / q(y|x), the reverse move over the forward move")
    if close(value, target + log_q(x, y, eta) - log_q(y, x, eta)):
        raise CheckFailed("the proposal variance is 2η (the noise is √(2η) z), so log q = -|y - x - η ∇log p(x)|² / (4η)")
    if close(value, -exact):
        raise CheckFailed("your ratio has the wrong sign overall: it is the log of p(y) q(x|y) over p(x) q(y|x)")
    raise CheckFailed("your log-ratio differs from log p(y) - log p(x) + log q(x|y) - log q(y|x) with q(y|x) = N(x + η∇log p(x), 2η I)")
