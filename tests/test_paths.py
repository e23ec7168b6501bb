"""Gaussian probability paths: coefficients, marginals, and the score/flow duality against independent routes."""

import pytest
import torch

from mmgp_lesson.paths import LinearPath, VariancePreservingPath
from mmgp_lesson.toys import DTYPE, GaussianMixture

PATHS = [LinearPath(), VariancePreservingPath()]


@pytest.fixture
def mixture() -> GaussianMixture:
    return GaussianMixture(
        weights=[0.6, 0.4],
        means=[[-1.5, 0.5], [2.0, -1.0]],
        covariances=[[[0.5, 0.2], [0.2, 0.4]], [[0.3, 0.0], [0.0, 0.8]]],
    )


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_derivatives_equal_autograd(path):
    t = torch.linspace(0.05, 0.95, 19, dtype=DTYPE, requires_grad=True)
    a, s, da, ds = path.coefficients(t)
    assert (torch.autograd.grad(a.sum(), t, retain_graph=True)[0] - da).abs().max() < 1e-10
    assert (torch.autograd.grad(s.sum(), t)[0] - ds).abs().max() < 1e-10


def test_endpoints():
    linear, vp = LinearPath(), VariancePreservingPath()
    a, s, _, _ = linear.coefficients(torch.tensor([0.0, 1.0], dtype=DTYPE))
    assert a.tolist() == [0.0, 1.0] and s.tolist() == [1.0, 0.0]
    a, s, _, _ = vp.coefficients(torch.tensor([0.0, 0.5, 1.0], dtype=DTYPE))
    assert ((a**2 + s**2) - 1).abs().max() < 1e-14 and a[0] < 1e-2 and a[2] == 1.0


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_marginal_matches_sampled_path(path, mixture):
    generator = torch.Generator().manual_seed(0)
    x1 = mixture.sample(200_000, generator)
    xt, _ = path.sample(x1, torch.full((len(x1),), 0.6, dtype=DTYPE), generator)
    marginal = path.marginal(mixture, 0.6)
    mean = (marginal.weights[:, None] * marginal.means).sum(0)
    standard_error = xt.std(0) / len(xt) ** 0.5
    assert ((xt.mean(0) - mean).abs() < 5 * standard_error).all()


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
@pytest.mark.parametrize("t", [0.1, 0.5, 0.9])
def test_duality_definition_equals_score_formula(path, mixture, t):
    x = path.marginal(mixture, t).sample(500, torch.Generator().manual_seed(1))
    definition = path.velocity_by_definition(mixture, t, x)
    duality = path.velocity_from_score(t, x, path.marginal(mixture, t).score(x))
    assert (definition - duality).abs().max() < 1e-10
    assert (path.score_from_velocity(t, x, definition) - path.marginal(mixture, t).score(x)).abs().max() < 1e-9


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_posterior_mean_equals_self_normalised_monte_carlo(path, mixture):
    """E[x_1 | x_t = x] by importance sampling from the data law with weights p_t(x | x_1) = N(x; a x_1, s² I)."""
    t, generator = 0.5, torch.Generator().manual_seed(2)
    a, s, _, _ = path.coefficients(torch.tensor(t, dtype=DTYPE))
    x = path.marginal(mixture, t).sample(3, generator)
    x1 = mixture.sample(400_000, generator)
    log_weights = -((x[:, None, :] - a * x1[None]) ** 2).sum(-1) / (2 * s**2)  # (3, M)
    estimate = torch.softmax(log_weights, dim=1) @ x1
    assert (estimate - path.posterior_mean(mixture, t, x)).abs().max() < 0.02  # effective sample size > 5e4 here: standard error below 0.005


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_conditional_velocity_moves_the_path(path):
    """u_t(x_t | x_1) equals d/dt (a_t x_1 + s_t eps) along a fixed (x_1, eps), by central differences."""
    generator = torch.Generator().manual_seed(3)
    x1, eps = torch.randn(10, 2, dtype=DTYPE, generator=generator), torch.randn(10, 2, dtype=DTYPE, generator=generator)
    t, h = torch.tensor(0.4, dtype=DTYPE), 1e-5
    position = lambda time: path.coefficients(time)[0] * x1 + path.coefficients(time)[1] * eps
    finite = (position(t + h) - position(t - h)) / (2 * h)
    assert (path.conditional_velocity(t, position(t), x1) - finite).abs().max() < 1e-7
