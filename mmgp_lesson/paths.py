r"""Gaussian probability paths :math:`x_t = \alpha_t x_1 + \sigma_t \varepsilon` (lesson 02).

Flow-matching time: :math:`t \in [0, 1]`, noise at :math:`t = 0`, data at :math:`t = 1`,
:math:`x_1 \sim p_{\text{data}}`, :math:`\varepsilon \sim \mathcal N(0, I)`. The conditional path is
:math:`p_t(x \mid x_1) = \mathcal N(\alpha_t x_1, \sigma_t^2 I)` with conditional velocity
:math:`u_t(x \mid x_1) = \alpha_t' x_1 + \sigma_t' \varepsilon`. For a Gaussian-mixture data law the marginal
:math:`p_t` is again a Gaussian mixture and :math:`\mathbb E[x_1 \mid x_t = x]` is exact, so the marginal
velocity :math:`v_t(x) = \mathbb E[u_t(x \mid x_1) \mid x_t = x]` can be computed from its definition and
compared with the score/flow duality formula.
"""

from __future__ import annotations

import torch

from mmgp_lesson.sde import VPSDE
from mmgp_lesson.toys import DTYPE, GaussianMixture, gaussian_convolution


class GaussianPath:
    r"""A path given by :math:`\alpha_t`, :math:`\sigma_t` and their time derivatives; subclasses define :meth:`coefficients`."""

    name = "gaussian path"

    def coefficients(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        r""":math:`(\alpha_t, \sigma_t, \alpha_t', \sigma_t')` at times ``t`` (any shape)."""
        raise NotImplementedError

    def sample(self, x1: torch.Tensor, t: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Draw :math:`x_t = \alpha_t x_1 + \sigma_t \varepsilon` for a batch ``x1`` (N, d) at times ``t`` (N,); returns ``(x_t, eps)``."""
        alpha, sigma, _, _ = self.coefficients(t[:, None])
        eps = torch.randn(x1.shape, dtype=x1.dtype, generator=generator)
        return alpha * x1 + sigma * eps, eps

    def conditional_velocity(self, t: torch.Tensor, x: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        r""":math:`u_t(x \mid x_1) = \alpha_t' x_1 + \frac{\sigma_t'}{\sigma_t}(x - \alpha_t x_1)`: the velocity of the path through ``x`` that ends at ``x1``."""
        alpha, sigma, d_alpha, d_sigma = self.coefficients(_column(t))
        return d_alpha * x1 + d_sigma / sigma * (x - alpha * x1)

    def conditional_score(self, t: torch.Tensor, x: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        r""":math:`\nabla_x \log p_t(x \mid x_1) = -(x - \alpha_t x_1) / \sigma_t^2`."""
        alpha, sigma, _, _ = self.coefficients(_column(t))
        return -(x - alpha * x1) / sigma**2

    def marginal(self, data: GaussianMixture, t: float) -> GaussianMixture:
        r""":math:`p_t` for a mixture data law: component :math:`\mathcal N(\mu_k, \Sigma_k)` becomes :math:`\mathcal N(\alpha_t \mu_k, \alpha_t^2 \Sigma_k + \sigma_t^2 I)`."""
        alpha, sigma, _, _ = self.coefficients(torch.as_tensor(t, dtype=DTYPE))
        return gaussian_convolution(data, alpha, sigma**2)

    def posterior_mean(self, data: GaussianMixture, t: float, x: torch.Tensor) -> torch.Tensor:
        r"""Exact :math:`\mathbb E[x_1 \mid x_t = x]` by Gaussian conditioning, shape (N, d).

        Component by component, :math:`\mathbb E[x_1 \mid x_t = x, k] = \mu_k + \alpha_t \Sigma_k (\alpha_t^2 \Sigma_k + \sigma_t^2 I)^{-1}(x - \alpha_t \mu_k)`;
        the components are weighted by their responsibilities under :math:`p_t`. No score is used.
        """
        marginal = self.marginal(data, t)
        alpha = self.coefficients(torch.as_tensor(t, dtype=DTYPE))[0]
        gain = alpha * data.covariances @ torch.linalg.inv(marginal.covariances)  # (K, d, d)
        diff = x[:, None, :] - marginal.means[None]  # (N, K, d)
        component_means = data.means[None] + torch.einsum("kij,nkj->nki", gain, diff)
        return (marginal.responsibilities(x)[..., None] * component_means).sum(1)

    def velocity_by_definition(self, data: GaussianMixture, t: float, x: torch.Tensor) -> torch.Tensor:
        r"""Marginal velocity from its definition, :math:`v_t(x) = \mathbb E[u_t(x \mid x_1) \mid x_t = x]`.

        :math:`u_t` is affine in :math:`x_1`, so the expectation is :math:`u_t` at :math:`\mathbb E[x_1 \mid x_t = x]`.
        """
        return self.conditional_velocity(torch.as_tensor(t, dtype=DTYPE), x, self.posterior_mean(data, t, x))

    def velocity_from_score(self, t: float, x: torch.Tensor, score: torch.Tensor) -> torch.Tensor:
        r"""The score/flow duality of lesson 02: :math:`v_t(x) = \frac{\alpha_t'}{\alpha_t} x + \sigma_t\big(\sigma_t \frac{\alpha_t'}{\alpha_t} - \sigma_t'\big) s_t(x)`."""
        alpha, sigma, d_alpha, d_sigma = self.coefficients(torch.as_tensor(t, dtype=DTYPE))
        return d_alpha / alpha * x + sigma * (sigma * d_alpha / alpha - d_sigma) * score

    def score_from_velocity(self, t: float, x: torch.Tensor, velocity: torch.Tensor) -> torch.Tensor:
        r"""The duality solved for the score: :math:`s_t(x) = \big(v_t(x) - \frac{\alpha_t'}{\alpha_t} x\big) / \big(\sigma_t(\sigma_t \frac{\alpha_t'}{\alpha_t} - \sigma_t')\big)`."""
        alpha, sigma, d_alpha, d_sigma = self.coefficients(torch.as_tensor(t, dtype=DTYPE))
        return (velocity - d_alpha / alpha * x) / (sigma * (sigma * d_alpha / alpha - d_sigma))


class LinearPath(GaussianPath):
    r"""The linear (rectified-flow, conditional-OT) path :math:`\alpha_t = t`, :math:`\sigma_t = 1 - t`."""

    name = "linear"

    def coefficients(self, t):
        t = torch.as_tensor(t, dtype=DTYPE)
        return t, 1 - t, torch.ones_like(t), -torch.ones_like(t)


class VariancePreservingPath(GaussianPath):
    r"""The path of the VP SDE of lesson 03 (linear :math:`\beta`, horizon 1), read in flow-matching time.

    With diffusion time :math:`\tau = 1 - t` and :math:`B(\tau) = \int_0^\tau \beta` (:meth:`VPSDE.beta_integral`):
    :math:`\alpha_t = e^{-B(1-t)/2}`, :math:`\sigma_t = \sqrt{1 - \alpha_t^2}`, so :math:`\alpha_t^2 + \sigma_t^2 = 1`;
    :math:`\alpha_t' = \tfrac12 \beta(1-t)\, \alpha_t` and :math:`\sigma_t' = -\alpha_t \alpha_t' / \sigma_t`.
    """

    name = "variance-preserving"

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0):
        self.sde = VPSDE(beta_min, beta_max, horizon=1.0)

    def coefficients(self, t):
        tau = 1 - torch.as_tensor(t, dtype=DTYPE)
        integral = self.sde.beta_integral(tau)
        alpha = torch.exp(-0.5 * integral)
        sigma = torch.sqrt(-torch.expm1(-integral))  # 1 - α², accurate when α is close to 1
        d_alpha = 0.5 * self.sde.beta(tau) * alpha
        return alpha, sigma, d_alpha, -alpha * d_alpha / sigma


def _column(t: torch.Tensor) -> torch.Tensor:
    """A batch of times (N,) as a column (N, 1) so it broadcasts over coordinates; scalars stay scalars."""
    t = torch.as_tensor(t, dtype=DTYPE)
    return t[:, None] if t.ndim == 1 else t
