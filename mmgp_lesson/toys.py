"""Toy distributions with exact densities, scores and samplers (lesson 00 onwards).

Everything is batched over the first dimension and computed in float64 torch tensors, so that a
score can be checked against autograd to round-off.
"""

from __future__ import annotations

import math

import torch

DTYPE = torch.float64


class GaussianMixture:
    r"""A mixture :math:`p(x) = \sum_k w_k \, \mathcal N(x; \mu_k, \Sigma_k)` in :math:`\mathbb R^d`.

    Args:
        weights: (K,) non-negative mixture weights; they are normalised to sum to one.
        means: (K, d) component means :math:`\mu_k`.
        covariances: (K, d, d) symmetric positive-definite :math:`\Sigma_k`.
    """

    def __init__(self, weights, means, covariances):
        self.weights = torch.as_tensor(weights, dtype=DTYPE)
        self.weights = self.weights / self.weights.sum()
        self.means = torch.as_tensor(means, dtype=DTYPE)
        self.covariances = torch.as_tensor(covariances, dtype=DTYPE)
        self.dim = self.means.shape[1]
        self._cholesky = torch.linalg.cholesky(self.covariances)
        self._precisions = torch.cholesky_inverse(self._cholesky)

    @classmethod
    def isotropic(cls, means, std=1.0, weights=None) -> "GaussianMixture":
        """Mixture of K Gaussians :math:`\\mathcal N(\\mu_k, \\sigma^2 I)` with equal weights by default."""
        means = torch.as_tensor(means, dtype=DTYPE)
        count, dim = means.shape
        weights = torch.ones(count, dtype=DTYPE) if weights is None else weights
        return cls(weights, means, (std**2) * torch.eye(dim, dtype=DTYPE).expand(count, dim, dim).clone())

    def component_log_probs(self, x: torch.Tensor) -> torch.Tensor:
        r"""(N, K) matrix of :math:`\log w_k + \log \mathcal N(x_n; \mu_k, \Sigma_k)`."""
        diff = x[:, None, :] - self.means[None]  # (N, K, d)
        mahalanobis = torch.einsum("nki,kij,nkj->nk", diff, self._precisions, diff)
        log_det = 2 * torch.log(torch.diagonal(self._cholesky, dim1=-2, dim2=-1)).sum(-1)
        return torch.log(self.weights) - 0.5 * (mahalanobis + log_det + self.dim * math.log(2 * math.pi))

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        r""":math:`\log p(x) = \operatorname{logsumexp}_k [\log w_k + \log \mathcal N(x; \mu_k, \Sigma_k)]`, shape (N,)."""
        return torch.logsumexp(self.component_log_probs(x), dim=1)

    def responsibilities(self, x: torch.Tensor) -> torch.Tensor:
        r"""(N, K) posterior component probabilities :math:`r_k(x) = w_k \mathcal N_k(x) / p(x)`."""
        return torch.softmax(self.component_log_probs(x), dim=1)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        r"""The score :math:`\nabla_x \log p(x) = -\sum_k r_k(x)\, \Sigma_k^{-1} (x - \mu_k)`, shape (N, d)."""
        diff = x[:, None, :] - self.means[None]
        component_scores = -torch.einsum("kij,nkj->nki", self._precisions, diff)
        return (self.responsibilities(x)[..., None] * component_scores).sum(1)

    def sample(self, count: int, generator: torch.Generator) -> torch.Tensor:
        """Draw ``count`` points: a component index by its weight, then a Gaussian draw from it."""
        index = torch.multinomial(self.weights, count, replacement=True, generator=generator)
        noise = torch.randn(count, self.dim, dtype=DTYPE, generator=generator)
        return self.means[index] + torch.einsum("nij,nj->ni", self._cholesky[index], noise)


def gaussian_convolution(mixture: GaussianMixture, scale: float, variance: float) -> GaussianMixture:
    r"""The law of :math:`\alpha X + \sigma Z`, :math:`X \sim` ``mixture``, :math:`Z \sim \mathcal N(0, I)` independent,
    for ``scale`` :math:`= \alpha` and ``variance`` :math:`= \sigma^2`: component :math:`\mathcal N(\mu_k, \Sigma_k)` becomes
    :math:`\mathcal N(\alpha \mu_k, \alpha^2 \Sigma_k + \sigma^2 I)` (the marginal of every Gaussian path and of the VP SDE)."""
    eye = torch.eye(mixture.dim, dtype=DTYPE)
    return GaussianMixture(mixture.weights, scale * mixture.means, scale**2 * mixture.covariances + variance * eye)


class DoubleWell:
    r"""The 1-D or separable d-D double-well energy :math:`E(x) = h\,(x_1^2 - 1)^2 + \tfrac12 \sum_{i>1} x_i^2`.

    The barrier between the minima at :math:`x_1 = \pm 1` has height ``h``; the Gibbs law is
    :math:`p \propto e^{-E}`.
    """

    def __init__(self, barrier: float = 1.0, dim: int = 1):
        self.barrier = barrier
        self.dim = dim

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`E(x)`, shape (N,)."""
        return self.barrier * (x[:, 0] ** 2 - 1) ** 2 + 0.5 * (x[:, 1:] ** 2).sum(1)

    def grad_energy(self, x: torch.Tensor) -> torch.Tensor:
        r""":math:`\nabla E(x)`: :math:`4 h x_1 (x_1^2 - 1)` in the first coordinate, :math:`x_i` in the others."""
        grad = x.clone()
        grad[:, 0] = 4 * self.barrier * x[:, 0] * (x[:, 0] ** 2 - 1)
        return grad


def sample_double_well(well: DoubleWell, count: int, generator: torch.Generator, resolution: int = 20_001) -> torch.Tensor:
    r"""Draws from :math:`p \propto e^{-E}` for a :class:`DoubleWell`: :math:`x_1` by inverting its CDF on a fine
    grid over :math:`[-3, 3]` (linear interpolation; the mass outside is below :math:`e^{-4h}`), the other
    coordinates :math:`\mathcal N(0, 1)`."""
    grid = torch.linspace(-3.0, 3.0, resolution, dtype=DTYPE)
    density = torch.exp(-well.barrier * (grid**2 - 1) ** 2)
    cdf = torch.cat([torch.zeros(1, dtype=DTYPE), torch.cumsum(0.5 * (density[1:] + density[:-1]), 0)])
    cdf = cdf / cdf[-1]
    u = torch.rand(count, dtype=DTYPE, generator=generator)
    index = torch.searchsorted(cdf, u).clamp(1, resolution - 1)
    fraction = (u - cdf[index - 1]) / (cdf[index] - cdf[index - 1])
    first = grid[index - 1] + fraction * (grid[index] - grid[index - 1])
    rest = torch.randn(count, well.dim - 1, dtype=DTYPE, generator=generator)
    return torch.cat([first[:, None], rest], dim=1)
