"""Checks for lesson 01: the ELBO."""

from __future__ import annotations

import math

import torch

from mmgp_lesson.checks import CheckFailed, call_answer, close, exercise, generator, passed, require
from mmgp_lesson.latent import LinearGaussianModel, gaussian_kl, importance_weighted_bound
from mmgp_lesson.toys import DTYPE


def _reference_model() -> LinearGaussianModel:
    """A 5-D model with a 2-D latent and noise level 0.5 (not 1, so a missing σ² shows)."""
    return LinearGaussianModel.random(data_dim=5, latent_dim=2, noise_std=0.5, generator=generator(11))


def _close8(value, exact) -> bool:
    """Agreement to 1e-8: closed forms in float64, whose round-off is near 1e-14."""
    return close(value, exact, 1e-8)


@exercise("01-1", answer="posterior", references=("mmgp_lesson.latent:LinearGaussianModel.posterior",))
def exact_posterior(posterior) -> None:
    """Exercise 01.1: ``posterior(model, x)`` must return the exact mean (N, k) and covariance (k, k).

    Tolerance 1e-8: a few float64 matrix products and one inverse, so round-off is near 1e-14.
    """
    model = _reference_model()
    x, _ = model.sample(6, generator(12))
    answer = call_answer(posterior, model, x, returns="a pair (mean, covariance) of tensors")
    require(isinstance(answer, (tuple, list)) and len(answer) == 2, "your posterior should return a pair (mean, covariance)")
    mean, cov = (torch.as_tensor(value, dtype=DTYPE) for value in answer)
    exact_mean, exact_cov = model.posterior(x)
    require(mean.shape == exact_mean.shape, f"your mean has shape {tuple(mean.shape)}; it should be one latent mean per point, shape {tuple(exact_mean.shape)}")
    require(cov.shape == exact_cov.shape, f"your covariance has shape {tuple(cov.shape)}; it should be the shared (k, k) matrix, shape {tuple(exact_cov.shape)}")
    if not _close8(cov, exact_cov):
        eye, gram = torch.eye(2, dtype=DTYPE), model.weight.T @ model.weight
        if _close8(cov, torch.linalg.inv(exact_cov)):
            raise CheckFailed("you returned the posterior precision I + WᵀW/σ²: the covariance is its inverse")
        if _close8(cov, torch.linalg.inv(eye + gram)):
            raise CheckFailed("your covariance ignores the noise level: the precision is I + WᵀW / σ², not I + WᵀW")
        if _close8(cov, torch.linalg.inv(gram / model.noise_std**2)):
            raise CheckFailed("your covariance forgets the prior: the precision is I + WᵀW / σ² (the I comes from p(z) = N(0, I))")
        raise CheckFailed("your covariance is not (I + WᵀW / σ²)⁻¹: complete the square in log p(x | z) + log p(z)")
    if not _close8(mean, exact_mean):
        if _close8(mean, -exact_mean):
            raise CheckFailed("your posterior mean has the wrong sign: m = S Wᵀ (x - b) / σ²")
        if _close8(mean, (x @ model.weight @ exact_cov.T) / model.noise_std**2):
            raise CheckFailed("your posterior mean forgets the offset: use x - b, not x")
        if _close8(mean, ((x - model.bias) @ model.weight @ exact_cov.T)):
            raise CheckFailed("your posterior mean is missing the factor 1/σ²: m = S Wᵀ (x - b) / σ²")
        raise CheckFailed("your covariance is right but your mean is not S Wᵀ (x - b) / σ²")
    gap = (model.log_evidence(x) - model.elbo(x, mean, torch.linalg.cholesky(cov))).abs().max().item()
    passed(f"exact posterior: the ELBO at your q equals log p(x) to {gap:.1e}")


def _kl_cases():
    stream = generator(13)
    mean_q, mean_p = torch.randn(5, 3, dtype=DTYPE, generator=stream), torch.randn(5, 3, dtype=DTYPE, generator=stream)
    a, b = torch.randn(3, 3, dtype=DTYPE, generator=stream), torch.randn(3, 3, dtype=DTYPE, generator=stream)
    return mean_q, a @ a.T + 0.5 * torch.eye(3, dtype=DTYPE), mean_p, b @ b.T + 0.5 * torch.eye(3, dtype=DTYPE)


@exercise("01-2", answer="kl", references=("mmgp_lesson.latent:gaussian_kl",))
def gaussian_kl_divergence(kl) -> None:
    """Exercise 01.2: ``kl(mean_q, cov_q, mean_p, cov_p)`` must equal KL(N(mean_q, cov_q) || N(mean_p, cov_p)).

    Tolerance 1e-8: closed forms in float64; the reference is checked against the ELBO gap in lesson 01.
    """
    mean_q, cov_q, mean_p, cov_p = _kl_cases()
    value = torch.as_tensor(call_answer(kl, mean_q, cov_q, mean_p, cov_p, returns="a tensor"), dtype=DTYPE)
    exact = gaussian_kl(mean_q, cov_q, mean_p, cov_p)
    require(value.shape == exact.shape, f"your KL has shape {tuple(value.shape)}; it should be one number per mean, shape {tuple(exact.shape)}")
    if not _close8(value, exact):
        if _close8(value, gaussian_kl(mean_p, cov_p, mean_q, cov_q)):
            raise CheckFailed("you computed KL(p || q): the divergence is not symmetric, and the ELBO gap is KL(q || p), with Σ_p⁻¹ in the trace and the Mahalanobis term")
        if _close8(value, 2 * exact):
            raise CheckFailed("your KL is twice the exact one: the whole bracket is multiplied by 1/2")
        if _close8(value, exact + 1.5):
            raise CheckFailed("your KL is off by k/2: subtract the dimension k inside the bracket")
        if _close8(value - exact, (value - exact).mean().expand_as(exact)):
            raise CheckFailed("your KL is off by a constant: check the log-determinant terms log|Σ_p| - log|Σ_q| and the -k")
        raise CheckFailed("your KL does not match ½[tr(Σ_p⁻¹Σ_q) + (μ_p-μ_q)ᵀΣ_p⁻¹(μ_p-μ_q) - k + log|Σ_p| - log|Σ_q|]")
    self_kl = torch.as_tensor(call_answer(kl, mean_q, cov_q, mean_q, cov_q, returns="a tensor"), dtype=DTYPE).abs().max().item()
    require(self_kl < 1e-8, f"your KL of a Gaussian with itself is {self_kl:.2g}, not zero")
    passed(f"Gaussian KL matches the closed form to {(value - exact).abs().max().item():.1e}, and KL(q || q) = 0")


@exercise("01-3", answer="iwae", references=("mmgp_lesson.latent:importance_weighted_bound",))
def iwae_estimate(iwae) -> None:
    """Exercise 01.3: ``iwae(log_weights)`` must return log (1/K) Σ_j exp(log_weights[j]) along dim 0.

    Tolerance 1e-8: logsumexp in float64. The log-weights sit near -1000, where exp underflows to zero.
    """
    log_weights = -1000 + 3 * torch.randn(32, 7, dtype=DTYPE, generator=generator(14))
    value = torch.as_tensor(call_answer(iwae, log_weights, returns="a tensor"), dtype=DTYPE)
    exact = importance_weighted_bound(log_weights)
    if value.shape == (32,):
        raise CheckFailed("your estimate has one number per sample: reduce over the K samples, dim 0, not over the points")
    require(value.shape == exact.shape, f"your estimate has shape {tuple(value.shape)}; it should be one number per point, shape {tuple(exact.shape)}")
    if not _close8(value, exact):
        if not torch.isfinite(value).all():
            raise CheckFailed("your estimate is not finite: exp(-1000) underflows to zero, so combine the weights with torch.logsumexp")
        if _close8(value, log_weights.mean(0)):
            raise CheckFailed("you averaged the log-weights: that is the ELBO estimate; the IWAE bound is the log of the average weight")
        if _close8(value, exact + math.log(32)):
            raise CheckFailed("your estimate is off by log K: divide the sum of weights by K (subtract log K after logsumexp)")
        raise CheckFailed("your estimate is not log (1/K) Σ_j w_j: use torch.logsumexp(log_weights, dim=0) - log K")
    passed(f"the IWAE estimate matches logsumexp - log K to {(value - exact).abs().max().item():.1e}, even where exp underflows")
