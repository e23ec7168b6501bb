"""Checks for lesson 00: notation and toy distributions."""

from __future__ import annotations

import torch

from mmgp_lesson.checks import CheckFailed, answer_tensor, exercise, generator, passed, reference_mixture, require
from mmgp_lesson.toys import DTYPE


def _points(count: int = 64) -> torch.Tensor:
    return 3 * torch.randn(count, 2, dtype=DTYPE, generator=generator(0))


@exercise("00-1", answer="log_prob", references=("mmgp_lesson.toys:GaussianMixture.log_prob",))
def mixture_log_prob(log_prob) -> None:
    """Exercise 00.1: ``log_prob(mixture, x)`` must equal the exact mixture log-density.

    Tolerance 1e-8: both sides are float64 and differ only by the order of summation.
    """
    mixture, x = reference_mixture(), _points()
    value = answer_tensor(log_prob, mixture, x)
    require(value.shape == (len(x),), f"your log_prob returns shape {tuple(value.shape)}; it should return one number per point, shape ({len(x)},)")
    exact = mixture.log_prob(x)
    error = (value - exact).abs().max().item()
    if error > 1e-8:
        offset = (value - exact).mean().item()
        if (value - exact).std().item() < 1e-6:
            raise CheckFailed(f"your log_prob is off by a constant {offset:+.4f}: check the normalising constant (2π)^(d/2) |Σ|^(1/2) or that the weights are normalised")
        if (torch.exp(value) - torch.exp(exact)).abs().max() < 1e-8:
            raise CheckFailed("your log_prob underflows far from the means: combine the components with torch.logsumexp instead of log(sum(exp))")
        raise CheckFailed(f"your log_prob differs from the exact one by up to {error:.3g}: check the Mahalanobis term (x-μ)ᵀ Σ⁻¹ (x-μ) and the log-weights")
    passed(f"log_prob matches the exact mixture log-density to {error:.1e} on {len(x)} points")


@exercise("00-2", answer="finite_difference_score", references=("mmgp_lesson.toys:GaussianMixture.score",))
def score_by_finite_differences(finite_difference_score) -> None:
    """Exercise 00.2: central differences of ``log p`` must approximate the exact score.

    With step h the central difference has error O(h²) ≈ 1e-5 · |third derivative| for h = 1e-3
    in float64, so the tolerance is 1e-4 relative to the score's size.
    """
    mixture, x = reference_mixture(), _points()
    value = answer_tensor(finite_difference_score, mixture.log_prob, x)
    require(value.shape == x.shape, f"your score has shape {tuple(value.shape)}; it should have the shape of x, {tuple(x.shape)}")
    exact = mixture.score(x)
    relative = ((value - exact).norm() / exact.norm()).item()
    if relative > 1e-4:
        if ((value + exact).norm() / exact.norm()).item() < 1e-4:
            raise CheckFailed("your finite-difference score has the wrong sign: use (log p(x + h e_i) - log p(x - h e_i)) / (2h)")
        if ((2 * value - exact).norm() / exact.norm()).item() < 1e-4:
            raise CheckFailed("your finite-difference score is half the exact one: divide by 2h, not 4h, or step by ±h, not ±h/2")
        if ((value - 2 * exact).norm() / exact.norm()).item() < 1e-4:
            raise CheckFailed("your finite-difference score is twice the exact one: a central difference divides by 2h")
        raise CheckFailed(f"your finite-difference score has relative error {relative:.2g}, above 1e-4: perturb one coordinate at a time and use a step near 1e-3")
    passed(f"finite differences match the exact score with relative error {relative:.1e}")
