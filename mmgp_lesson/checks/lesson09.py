"""Checks for lesson 09: one interface for every family."""

from __future__ import annotations

import numpy as np
import torch

from mmgp_lesson.checks import CheckFailed, answer_tensor, call_answer, close, exercise, generator, passed, reference_mixture, require, rng
from mmgp_lesson.sample_quality import frechet_gaussians as _frechet, knn_radii, manifold_share
from mmgp_lesson.toys import DTYPE


@exercise("09-1", answer="affine_coupling")
def affine_coupling(coupling) -> None:
    """Exercise 09.1: ``affine_coupling(x, shift, log_scale)`` must return (z, log_scale).

    Compared to 1e-10 relative: float64 algebra.
    """
    g = generator(0)
    x = 2 * torch.randn(32, 2, dtype=DTYPE, generator=g)
    shift, log_scale = torch.randn(32, dtype=DTYPE, generator=g), 0.5 * torch.randn(32, dtype=DTYPE, generator=g)
    value = call_answer(coupling, x, shift, log_scale, returns="the pair (z, log_det)")
    require(isinstance(value, (tuple, list)) and len(value) == 2, "return the pair (z, log_det): the moved points and the log-determinant")
    z, log_det = (torch.as_tensor(v, dtype=DTYPE) for v in value)
    exact_z = torch.stack([x[:, 0], x[:, 1] * log_scale.exp() + shift], 1)
    require(z.shape == x.shape, f"z has shape {tuple(z.shape)}; it should have the shape of x, {tuple(x.shape)}")
    if not close(z, exact_z):
        if close(z, torch.stack([x[:, 0], (x[:, 1] + shift) * log_scale.exp()], 1)):
            raise CheckFailed("you shifted before scaling: z2 = x2 · exp(σ) + μ scales first, then shifts")
        if close(z, torch.stack([x[:, 0] * log_scale.exp() + shift, x[:, 1]], 1)):
            raise CheckFailed("you moved the first coordinate: the coupling keeps x1 and moves x2")
        if close(z, torch.stack([x[:, 0], x[:, 1] * log_scale + shift], 1)):
            raise CheckFailed("you multiplied by the log-scale itself: the scale is exp(log_scale)")
        raise CheckFailed("your z differs from (x1, x2 · exp(log_scale) + shift)")
    require(log_det.shape == log_scale.shape, f"log_det has shape {tuple(log_det.shape)}; it should be one number per point, {tuple(log_scale.shape)}")
    if close(log_det, log_scale):
        passed("the coupling and its log-determinant σ(x1) are right")
        return
    if close(log_det, log_scale.exp()):
        raise CheckFailed("log_det is exp(σ), the determinant itself: the log-determinant of the triangular Jacobian is σ")
    if close(log_det, -log_scale):
        raise CheckFailed("log_det has the wrong sign: -σ belongs to the inverse map x(z)")
    raise CheckFailed("your log_det differs from log|det ∂z/∂x| = log_scale (the Jacobian is triangular with diagonal 1, exp(σ))")


def _samples(offset: int) -> tuple[torch.Tensor, torch.Tensor]:
    data = reference_mixture()
    real = data.sample(300, generator(offset))
    generated = data.sample(200, generator(offset + 1)) + torch.tensor([1.5, 0.0], dtype=DTYPE)
    return real, generated


@exercise("09-2", answer="knn_precision", references=("mmgp_lesson.sample_quality:manifold_share",
                                                       "mmgp_lesson.sample_quality:precision_recall",
                                                       "mmgp_lesson.sample_quality:knn_radii"))
def knn_precision(precision) -> None:
    """Exercise 09.2: the share of generated points inside the real k-NN manifold, k = 3 and 5.

    A share of 200 points is a multiple of 1/200; compared to 1e-9.
    """
    real, generated = _samples(1)
    for k in (3, 5):
        value = float(answer_tensor(precision, real, generated, k))
        exact = manifold_share(real, generated, k)
        if abs(value - exact) < 1e-9:
            continue
        self_included = (torch.cdist(generated, real) <= knn_radii(real, k - 1)[None, :]).any(1).double().mean().item()
        if abs(value - self_included) < 1e-9:
            raise CheckFailed("your radius counts each real point as its own nearest neighbour: skip the zero distance to itself")
        if abs(value - manifold_share(generated, real, k)) < 1e-9:
            raise CheckFailed("you computed recall (real points inside the generated manifold): precision asks how many generated points are inside the real one")
        raise CheckFailed(f"with k = {k} your precision is {value:.4f}, not {exact:.4f}: a point counts when it lies within r_k(y_j) of some real y_j")
    passed("k-NN precision matches for k = 3 and 5")


@exercise("09-3", answer="frechet_gaussians", references=("mmgp_lesson.sample_quality:frechet_gaussians",
                                                           "mmgp_lesson.sample_quality:frechet_distance"))
def frechet_gaussians(frechet) -> None:
    """Exercise 09.3: the squared Fréchet distance of two Gaussians with random full covariances.

    Compared to 1e-8 relative: sqrtm of a 5×5 product in float64 is accurate to about 1e-12.
    """
    r = rng(3)
    a, b = r.standard_normal((5, 5)), r.standard_normal((5, 5))
    cov1, cov2 = a @ a.T + 0.5 * np.eye(5), b @ b.T + 0.5 * np.eye(5)
    mean1, mean2 = r.standard_normal(5), r.standard_normal(5)
    value = float(answer_tensor(frechet, mean1, cov1, mean2, cov2))
    exact = _frechet(mean1, cov1, mean2, cov2)
    if abs(value - exact) <= 1e-8 * max(1.0, abs(exact)):
        passed(f"Fréchet distance {value:.4f} is right")
        return
    means = float(((mean1 - mean2) ** 2).sum())
    traces = float(np.trace(cov1 + cov2))
    from scipy import linalg

    root = float(np.trace(linalg.sqrtm(cov1 @ cov2).real))
    wrong = {
        means + traces - root: "the cross term is 2 tr((Σ1Σ2)^½): you dropped the factor 2",
        means + traces - 2 * float(np.trace(np.sqrt(np.abs(cov1 * cov2)))): "(Σ1Σ2)^½ is a matrix square root of the product Σ1 @ Σ2, not an element-wise one",
        means + traces - 2 * float(np.trace(cov1 @ cov2)): "you left out the square root of Σ1Σ2",
        traces - 2 * root: "the mean term ‖μ1 − μ2‖² is missing",
        float(np.sqrt(max(exact, 0))): "you returned its square root: FID is the squared distance ‖μ1 − μ2‖² + tr(...)",
    }
    for candidate, feedback in wrong.items():
        if abs(value - candidate) <= 1e-8 * max(1.0, abs(candidate)):
            raise CheckFailed(feedback)
    raise CheckFailed(f"your distance is {value:.4f}, not {exact:.4f}: ‖μ1 − μ2‖² + tr(Σ1 + Σ2 − 2(Σ1Σ2)^½)")
