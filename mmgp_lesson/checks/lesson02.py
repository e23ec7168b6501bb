"""Checks for lesson 02: score/flow duality."""

from __future__ import annotations

import torch

from mmgp_lesson.checks import CheckFailed, answer_tensor, close, exercise, generator, passed, reference_mixture, require
from mmgp_lesson.paths import GaussianPath, LinearPath, VariancePreservingPath
from mmgp_lesson.toys import DTYPE

_TIMES = (0.2, 0.5, 0.8)


def _cases():
    """(path, t, coefficients, x ~ p_t) for both paths at three times; x in float64."""
    data, stream = reference_mixture(), generator(21)
    for path in (LinearPath(), VariancePreservingPath()):
        for t in _TIMES:
            coefficients = path.coefficients(torch.tensor(t, dtype=DTYPE))
            yield path, t, coefficients, path.marginal(data, t).sample(50, stream)


def _close9(value: torch.Tensor, exact: torch.Tensor) -> bool:
    """Agreement to 1e-9 relative: a few float64 operations on numbers of order one."""
    return close(value, exact, 1e-9)


def _where(path: GaussianPath, t: float) -> str:
    return f"on the {path.name} path at t = {t}"


@exercise("02-1", answer="conditional_velocity", references=("mmgp_lesson.paths:GaussianPath.conditional_velocity",))
def conditional_velocity(answer) -> None:
    """Exercise 02.1: ``answer(a, s, da, ds, x, x1)`` must equal u_t(x | x1) = a' x1 + (s'/s)(x - a x1).

    Tolerance 1e-9 relative: a few float64 operations.
    """
    stream = generator(22)
    for path, t, (a, s, da, ds), x in _cases():
        x1 = reference_mixture().sample(len(x), stream)
        value = answer_tensor(answer, a, s, da, ds, x, x1)
        exact = path.conditional_velocity(torch.tensor(t, dtype=DTYPE), x, x1)
        require(value.shape == exact.shape, f"your velocity has shape {tuple(value.shape)}; it should have the shape of x, {tuple(exact.shape)}")
        if not _close9(value, exact):
            if _close9(value, path.conditional_score(torch.tensor(t, dtype=DTYPE), x, x1)):
                raise CheckFailed(f"you returned the conditional score -(x - a x1)/s²: the velocity is a different field ({_where(path, t)}), which is the point of lesson 02's misstatement")
            if _close9(value, da * x1 - ds / s * (x - a * x1)):
                raise CheckFailed(f"the noise term has the wrong sign {_where(path, t)}: u = a' x1 + (s'/s)(x - a x1), and s' < 0 as the noise shrinks")
            if _close9(value, da * x1 + ds * (x - a * x1)):
                raise CheckFailed(f"you used s'(x - a x1) {_where(path, t)}: the noise is ε = (x - a x1)/s, so divide by s")
            raise CheckFailed(f"your velocity differs from a' x1 + (s'/s)(x - a x1) {_where(path, t)}")
    passed(f"conditional velocity correct on both paths at t = {_TIMES}")


@exercise("02-2", answer="velocity_from_score", references=("mmgp_lesson.paths:GaussianPath.velocity_from_score",))
def velocity_from_score(answer) -> None:
    """Exercise 02.2: ``answer(a, s, da, ds, x, score)`` must equal the duality formula; compared with the
    marginal velocity computed from its definition (posterior expectation). Tolerance 1e-9 relative.
    """
    data = reference_mixture()
    for path, t, (a, s, da, ds), x in _cases():
        score = path.marginal(data, t).score(x)
        value = answer_tensor(answer, a, s, da, ds, x, score)
        exact = path.velocity_by_definition(data, t, x)
        require(value.shape == exact.shape, f"your velocity has shape {tuple(value.shape)}; it should have the shape of x, {tuple(exact.shape)}")
        if not _close9(value, exact):
            if _close9(value, da / a * x + (s * da / a - ds) * score):
                raise CheckFailed(f"the score term is missing a factor s = σ_t {_where(path, t)}: it is s (s a'/a - s') ∇log p_t")
            if _close9(value, da / a * x + s * (s * da / a + ds) * score):
                raise CheckFailed(f"the sign of s' is wrong {_where(path, t)}: the bracket is (s a'/a - s')")
            if _close9(value, s * (s * da / a - ds) * score):
                raise CheckFailed(f"the term (a'/a) x is missing {_where(path, t)}")
            if _close9(value, da / a * x - s * (s * da / a - ds) * score):
                raise CheckFailed(f"the score term has the wrong sign {_where(path, t)}: from Tweedie, E[x1 | x] = (x + s² ∇log p_t)/a")
            raise CheckFailed(f"your velocity differs from the one computed from its definition {_where(path, t)}: retrace the two steps of the derivation")
    passed("the duality formula matches the marginal velocity from its definition on both paths")


@exercise("02-3", answer="denoiser", references=("mmgp_lesson.paths:GaussianPath.posterior_mean",))
def tweedie_denoiser(answer) -> None:
    """Exercise 02.3: ``answer(a, s, x, score)`` must equal E[x1 | x_t = x], computed here by Gaussian
    conditioning (no score). Tolerance 1e-9 relative to the terms, amplified by 1/a where a is small.
    """
    data = reference_mixture()
    for path, t, (a, s, _, _), x in _cases():
        score = path.marginal(data, t).score(x)
        value = answer_tensor(answer, a, s, x, score)
        exact = path.posterior_mean(data, t, x)
        require(value.shape == exact.shape, f"your denoiser has shape {tuple(value.shape)}; it should have the shape of x, {tuple(exact.shape)}")
        if not _close9(value, exact):
            if _close9(value, (x + s * score) / a):
                raise CheckFailed(f"use s² not s {_where(path, t)}: E[x1 | x] = (x + s² ∇log p_t(x)) / a")
            if _close9(value, (x - s**2 * score) / a):
                raise CheckFailed(f"the score term has the wrong sign {_where(path, t)}: the score points towards the data, so add s² ∇log p_t")
            if _close9(value, x + s**2 * score):
                raise CheckFailed(f"divide by a {_where(path, t)}: x_t = a x1 + s ε, so the clean point is rescaled by 1/a")
            raise CheckFailed(f"your denoiser differs from the exact posterior mean {_where(path, t)}: start from ∇log p_t(x) = -(x - a E[x1 | x]) / s²")
    passed("Tweedie's denoiser matches the exact posterior mean on both paths")
