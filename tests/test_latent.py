"""The linear-Gaussian latent model against independent computations (Monte Carlo, autograd, scipy)."""

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from mmgp_lesson.latent import (
    LinearGaussianModel,
    gaussian_kl,
    importance_weighted_bound,
    reparameterisation_gradients,
    score_function_gradients,
)
from mmgp_lesson.toys import DTYPE


@pytest.fixture
def model() -> LinearGaussianModel:
    return LinearGaussianModel.random(data_dim=4, latent_dim=2, noise_std=0.7, generator=torch.Generator().manual_seed(0))


@pytest.fixture
def x(model) -> torch.Tensor:
    return model.sample(8, torch.Generator().manual_seed(1))[0]


def _perturbed_q(model, x, seed):
    generator = torch.Generator().manual_seed(seed)
    mean, covariance = model.posterior(x)
    mean = mean + 0.5 * torch.randn(mean.shape, dtype=DTYPE, generator=generator)
    scale = torch.linalg.cholesky(covariance) @ torch.tensor([[0.6, 0.0], [0.4, 1.5]], dtype=DTYPE)
    return mean, scale


def test_log_evidence_matches_scipy(model, x):
    expected = multivariate_normal(model.bias.numpy(), model.evidence_covariance().numpy()).logpdf(x.numpy())
    np.testing.assert_allclose(model.log_evidence(x).numpy(), expected, rtol=1e-12)


def test_posterior_is_bayes_rule(model, x):
    """log p(z | x) = log p(x, z) - log p(x) at random z: the posterior's density, checked pointwise."""
    mean, covariance = model.posterior(x)
    z = torch.randn(8, 2, dtype=DTYPE, generator=torch.Generator().manual_seed(2))
    bayes = model.log_joint(x, z) - model.log_evidence(x)
    direct = torch.tensor([multivariate_normal(m, covariance.numpy()).logpdf(zi) for m, zi in zip(mean.numpy(), z.numpy())])
    assert (bayes - direct).abs().max() < 1e-10


def test_elbo_identity_and_bound(model, x):
    mean, covariance = model.posterior(x)
    exact = model.elbo(x, mean, torch.linalg.cholesky(covariance))
    assert (exact - model.log_evidence(x)).abs().max() < 1e-10
    q_mean, q_scale = _perturbed_q(model, x, 3)
    gap = model.log_evidence(x) - model.elbo(x, q_mean, q_scale)
    assert (gap > 0).all()
    kl = gaussian_kl(q_mean, q_scale @ q_scale.T, mean, covariance)
    assert (gap - kl).abs().max() < 1e-10


def test_closed_form_elbo_equals_monte_carlo(model, x):
    q_mean, q_scale = _perturbed_q(model, x, 4)
    log_weights = model.log_weights(x, q_mean, q_scale, 100_000, torch.Generator().manual_seed(5))
    standard_error = log_weights.std(0) / np.sqrt(len(log_weights))
    assert ((log_weights.mean(0) - model.elbo(x, q_mean, q_scale)).abs() < 5 * standard_error).all()


def test_iwae_rises_with_k_and_is_exact_at_the_posterior(model, x):
    q_mean, q_scale = _perturbed_q(model, x, 6)
    generator = torch.Generator().manual_seed(7)
    bounds = []
    for k in (1, 4, 64):
        estimates = torch.stack([importance_weighted_bound(model.log_weights(x, q_mean, q_scale, k, generator)) for _ in range(2000)])
        bounds.append(estimates.mean(0))
    log_evidence = model.log_evidence(x)
    assert (bounds[0] < bounds[1]).all() and (bounds[1] < bounds[2]).all() and (bounds[2] < log_evidence + 1e-3).all()
    mean, covariance = model.posterior(x)
    exact_weights = model.log_weights(x, mean, torch.linalg.cholesky(covariance), 3, generator)
    assert (importance_weighted_bound(exact_weights) - log_evidence).abs().max() < 1e-10  # constant weights p(x)


def test_both_gradient_estimators_are_unbiased(model, x):
    q_mean, q_scale = _perturbed_q(model, x[:1], 8)
    mean = q_mean.clone().requires_grad_(True)
    exact = torch.autograd.grad(model.elbo(x[:1], mean, q_scale).sum(), mean)[0][0]
    for estimator, count in ((reparameterisation_gradients, 20_000), (score_function_gradients, 400_000)):
        draws = estimator(model, x[0], q_mean[0], q_scale, count, torch.Generator().manual_seed(9))
        standard_error = draws.std(0) / np.sqrt(count)
        assert ((draws.mean(0) - exact).abs() < 5 * standard_error).all(), estimator.__name__
    reparam = reparameterisation_gradients(model, x[0], q_mean[0], q_scale, 20_000, torch.Generator().manual_seed(10))
    score = score_function_gradients(model, x[0], q_mean[0], q_scale, 20_000, torch.Generator().manual_seed(10))
    assert (score.var(0) > 10 * reparam.var(0)).all()
