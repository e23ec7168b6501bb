"""The toy distributions against independent computations (scipy, autograd, Monte Carlo)."""

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from mmgp_lesson.toys import DTYPE, DoubleWell, GaussianMixture


@pytest.fixture
def mixture() -> GaussianMixture:
    return GaussianMixture(
        weights=[2.0, 1.0],  # not normalised on purpose
        means=[[-1.0, 0.5], [2.0, -1.0]],
        covariances=[[[1.0, 0.4], [0.4, 0.8]], [[0.3, 0.0], [0.0, 2.0]]],
    )


def test_log_prob_matches_scipy(mixture):
    x = torch.randn(50, 2, dtype=DTYPE, generator=torch.Generator().manual_seed(1)) * 3
    expected = np.log(sum(
        w * multivariate_normal(m, c).pdf(x.numpy())
        for w, m, c in zip([2 / 3, 1 / 3], mixture.means.numpy(), mixture.covariances.numpy())
    ))
    np.testing.assert_allclose(mixture.log_prob(x).numpy(), expected, rtol=1e-12, atol=1e-12)


def test_log_prob_is_finite_far_from_the_means(mixture):
    far = torch.tensor([[60.0, -60.0]], dtype=DTYPE)
    assert torch.isfinite(mixture.log_prob(far)).all()


def test_score_equals_autograd(mixture):
    x = (torch.randn(100, 2, dtype=DTYPE, generator=torch.Generator().manual_seed(2)) * 3).requires_grad_(True)
    autograd = torch.autograd.grad(mixture.log_prob(x).sum(), x)[0]
    assert (mixture.score(x.detach()) - autograd).abs().max() < 1e-10


def test_samples_have_the_mixture_mean_within_five_standard_errors(mixture):
    samples = mixture.sample(100_000, torch.Generator().manual_seed(3))
    mean = (mixture.weights[:, None] * mixture.means).sum(0)
    standard_error = samples.std(0) / np.sqrt(len(samples))
    assert ((samples.mean(0) - mean).abs() < 5 * standard_error).all()
    fraction_first = (mixture.responsibilities(samples)[:, 0] > 0.5).double().mean()
    assert abs(fraction_first - 2 / 3) < 0.02  # components are well separated; binomial s.e. 0.0015


def test_one_component_samples_have_its_covariance_within_five_standard_errors():
    # A single correlated component, so the sample covariance must be Σ = L Lᵀ (not Lᵀ L); each entry's
    # standard error is estimated from the draws: sqrt(Var[(x_i - μ_i)(x_j - μ_j)] / n).
    covariance = torch.tensor([[1.0, 0.8], [0.8, 2.0]], dtype=DTYPE)
    component = GaussianMixture([1.0], [[0.0, 0.0]], covariance[None])
    samples = component.sample(100_000, torch.Generator().manual_seed(5))
    products = (samples[:, :, None] * samples[:, None, :]).reshape(len(samples), -1)
    z = (products.mean(0) - covariance.reshape(-1)) / (products.std(0) / np.sqrt(len(samples)))
    assert z.abs().max() < 5


def test_sampling_is_reproducible(mixture):
    first = mixture.sample(10, torch.Generator().manual_seed(4))
    second = mixture.sample(10, torch.Generator().manual_seed(4))
    assert torch.equal(first, second)


def test_double_well_gradient_equals_autograd():
    well = DoubleWell(barrier=2.5, dim=3)
    x = torch.randn(20, 3, dtype=DTYPE, generator=torch.Generator().manual_seed(5)).requires_grad_(True)
    autograd = torch.autograd.grad(well.energy(x).sum(), x)[0]
    assert (well.grad_energy(x.detach()) - autograd).abs().max() < 1e-10
    minima = torch.tensor([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]], dtype=DTYPE)
    assert well.energy(minima).abs().max() == 0
