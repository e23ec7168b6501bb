r"""The linear-Gaussian latent model, where every quantity of lesson 01 is exact.

The model is :math:`z \sim \mathcal N(0, I_k)`, :math:`x \mid z \sim \mathcal N(W z + b, \sigma^2 I_d)`.
Its evidence :math:`p(x) = \mathcal N(x; b, W W^\top + \sigma^2 I)` and its posterior
:math:`p(z \mid x) = \mathcal N(m(x), S)` are Gaussian, so the ELBO of a Gaussian
:math:`q(z) = \mathcal N(\mu, L L^\top)`, the gap :math:`\mathrm{KL}(q \,\|\, p(z \mid x))`, the
importance-weighted bound and the gradients of the ELBO can all be checked against closed forms.

Shapes: ``x`` is (N, d); a Gaussian ``q`` is a mean (N, k) and one lower-triangular scale ``L``
(k, k) shared by the batch (the exact posterior covariance does not depend on ``x``).
"""

from __future__ import annotations

import math

import torch

from mmgp_lesson.toys import DTYPE


def gaussian_log_prob(z: torch.Tensor, mean: torch.Tensor, scale_tril: torch.Tensor) -> torch.Tensor:
    r""":math:`\log \mathcal N(z; \mu, L L^\top)` over the last dimension; ``z`` and ``mean`` broadcast, result drops it."""
    diff = torch.linalg.solve_triangular(scale_tril, (z - mean).unsqueeze(-1), upper=False).squeeze(-1)
    log_det = 2 * torch.log(torch.diagonal(scale_tril)).sum()
    return -0.5 * ((diff**2).sum(-1) + log_det + z.shape[-1] * math.log(2 * math.pi))


def gaussian_kl(mean_q: torch.Tensor, cov_q: torch.Tensor, mean_p: torch.Tensor, cov_p: torch.Tensor) -> torch.Tensor:
    r"""Closed-form :math:`\mathrm{KL}(\mathcal N(\mu_q, \Sigma_q) \,\|\, \mathcal N(\mu_p, \Sigma_p))`, shape (N,).

    :math:`\tfrac12 [\operatorname{tr}(\Sigma_p^{-1}\Sigma_q) + (\mu_p-\mu_q)^\top \Sigma_p^{-1} (\mu_p-\mu_q) - k + \log|\Sigma_p| - \log|\Sigma_q|]`.
    """
    k = mean_q.shape[-1]
    precision_p = torch.linalg.inv(cov_p)
    diff = mean_p - mean_q
    mahalanobis = torch.einsum("...i,ij,...j->...", diff, precision_p, diff)
    trace = torch.trace(precision_p @ cov_q)
    return 0.5 * (trace + mahalanobis - k + torch.logdet(cov_p) - torch.logdet(cov_q))


class LinearGaussianModel:
    r"""Prior :math:`\mathcal N(0, I_k)`, decoder :math:`\mathcal N(W z + b, \sigma^2 I_d)`.

    Args:
        weight: (d, k) matrix :math:`W`.
        bias: (d,) vector :math:`b`.
        noise_std: the decoder's standard deviation :math:`\sigma`.
    """

    def __init__(self, weight, bias, noise_std: float):
        self.weight = torch.as_tensor(weight, dtype=DTYPE)
        self.bias = torch.as_tensor(bias, dtype=DTYPE)
        self.noise_std = float(noise_std)
        self.data_dim, self.latent_dim = self.weight.shape

    @classmethod
    def random(cls, data_dim: int, latent_dim: int, noise_std: float, generator: torch.Generator) -> "LinearGaussianModel":
        """A model with standard-normal :math:`W` and :math:`b`, for tests and lessons."""
        weight = torch.randn(data_dim, latent_dim, dtype=DTYPE, generator=generator)
        bias = torch.randn(data_dim, dtype=DTYPE, generator=generator)
        return cls(weight, bias, noise_std)

    def sample(self, count: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw ``count`` pairs ``(x, z)`` from the joint law."""
        z = torch.randn(count, self.latent_dim, dtype=DTYPE, generator=generator)
        noise = torch.randn(count, self.data_dim, dtype=DTYPE, generator=generator)
        return z @ self.weight.T + self.bias + self.noise_std * noise, z

    def log_joint(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        r""":math:`\log p(x, z) = \log \mathcal N(x; Wz + b, \sigma^2 I) + \log \mathcal N(z; 0, I)`; ``z`` may carry leading sample dims."""
        residual = x - (z @ self.weight.T + self.bias)
        log_likelihood = -0.5 * ((residual / self.noise_std) ** 2).sum(-1) - self.data_dim * math.log(self.noise_std * math.sqrt(2 * math.pi))
        log_prior = -0.5 * (z**2).sum(-1) - 0.5 * self.latent_dim * math.log(2 * math.pi)
        return log_likelihood + log_prior

    def evidence_covariance(self) -> torch.Tensor:
        r""":math:`W W^\top + \sigma^2 I_d`, the covariance of :math:`p(x)`."""
        return self.weight @ self.weight.T + self.noise_std**2 * torch.eye(self.data_dim, dtype=DTYPE)

    def log_evidence(self, x: torch.Tensor) -> torch.Tensor:
        r"""Exact :math:`\log p(x) = \log \mathcal N(x; b, W W^\top + \sigma^2 I)`, shape (N,)."""
        return gaussian_log_prob(x, self.bias, torch.linalg.cholesky(self.evidence_covariance()))

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Exact :math:`p(z \mid x) = \mathcal N(m, S)`: :math:`S = (I + W^\top W / \sigma^2)^{-1}`, :math:`m = S W^\top (x - b) / \sigma^2`.

        Returns the means (N, k) and the shared covariance (k, k).
        """
        precision = torch.eye(self.latent_dim, dtype=DTYPE) + self.weight.T @ self.weight / self.noise_std**2
        covariance = torch.linalg.inv(precision)
        mean = (x - self.bias) @ self.weight @ covariance.T / self.noise_std**2
        return mean, covariance

    def elbo(self, x: torch.Tensor, q_mean: torch.Tensor, q_scale_tril: torch.Tensor) -> torch.Tensor:
        r"""Closed-form :math:`\mathrm{ELBO}(q) = \mathbb E_q[\log p(x \mid z)] + \mathbb E_q[\log p(z)] + H(q)`, shape (N,).

        With :math:`q = \mathcal N(\mu, C)`, :math:`C = L L^\top`:
        :math:`\mathbb E_q \log p(x \mid z) = -\frac{\lVert x - b - W\mu\rVert^2 + \operatorname{tr}(W C W^\top)}{2\sigma^2} - \frac d2 \log 2\pi\sigma^2`,
        :math:`\mathbb E_q \log p(z) = -\frac{\lVert\mu\rVert^2 + \operatorname{tr} C}{2} - \frac k2 \log 2\pi`,
        :math:`H(q) = \frac12 \log|C| + \frac k2 (1 + \log 2\pi)`.
        """
        cov = q_scale_tril @ q_scale_tril.T
        residual = x - self.bias - q_mean @ self.weight.T
        expected_log_likelihood = (-(residual**2).sum(-1) - torch.trace(self.weight @ cov @ self.weight.T)) / (2 * self.noise_std**2) \
            - 0.5 * self.data_dim * math.log(2 * math.pi * self.noise_std**2)
        expected_log_prior = -0.5 * ((q_mean**2).sum(-1) + torch.trace(cov)) - 0.5 * self.latent_dim * math.log(2 * math.pi)
        entropy = torch.log(torch.diagonal(q_scale_tril)).sum() + 0.5 * self.latent_dim * (1 + math.log(2 * math.pi))
        return expected_log_likelihood + expected_log_prior + entropy

    def log_weights(self, x: torch.Tensor, q_mean: torch.Tensor, q_scale_tril: torch.Tensor, count: int,
                    generator: torch.Generator) -> torch.Tensor:
        r"""Importance log-weights :math:`\log p(x, z_j) - \log q(z_j)` for ``count`` draws :math:`z_j \sim q`, shape (count, N)."""
        eps = torch.randn(count, *q_mean.shape, dtype=DTYPE, generator=generator)
        z = q_mean + eps @ q_scale_tril.T
        return self.log_joint(x, z) - gaussian_log_prob(z, q_mean, q_scale_tril)


def importance_weighted_bound(log_weights: torch.Tensor) -> torch.Tensor:
    r"""The IWAE estimate :math:`\log \frac1K \sum_{j=1}^K w_j` from (K, ...) log-weights, by ``logsumexp``.

    Its expectation is :math:`\mathcal L_K`, which rises with :math:`K` from the ELBO (:math:`K = 1`) to :math:`\log p(x)`.
    """
    return torch.logsumexp(log_weights, dim=0) - math.log(log_weights.shape[0])


def reparameterisation_gradients(model: LinearGaussianModel, x: torch.Tensor, q_mean: torch.Tensor,
                                 q_scale_tril: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    r"""Per-draw reparameterisation estimates of :math:`\nabla_\mu \mathrm{ELBO}` for one point ``x`` (d,), shape (count, k).

    With :math:`z = \mu + L\varepsilon`, each draw is :math:`\nabla_\mu [\log p(x, \mu + L\varepsilon) - \log q(\mu + L\varepsilon)]`.
    """
    mean = q_mean.detach().expand(count, -1).clone().requires_grad_(True)
    eps = torch.randn(count, model.latent_dim, dtype=DTYPE, generator=generator)
    z = mean + eps @ q_scale_tril.T
    objective = model.log_joint(x, z) - gaussian_log_prob(z, mean, q_scale_tril)
    return torch.autograd.grad(objective.sum(), mean)[0]


def score_function_gradients(model: LinearGaussianModel, x: torch.Tensor, q_mean: torch.Tensor,
                             q_scale_tril: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    r"""Per-draw score-function (REINFORCE) estimates of :math:`\nabla_\mu \mathrm{ELBO}` for one point ``x`` (d,), shape (count, k).

    Each draw is :math:`f(z)\, \nabla_\mu \log q(z) = [\log p(x, z) - \log q(z)]\, C^{-1}(z - \mu)`, :math:`z \sim q`;
    the term :math:`\mathbb E_q[\nabla_\mu \log q] = 0` is dropped.
    """
    eps = torch.randn(count, model.latent_dim, dtype=DTYPE, generator=generator)
    z = q_mean + eps @ q_scale_tril.T
    f = model.log_joint(x, z) - gaussian_log_prob(z, q_mean, q_scale_tril)
    score = torch.cholesky_solve((z - q_mean).unsqueeze(-1), q_scale_tril).squeeze(-1)
    return f[:, None] * score
