r"""Gaussian probability paths :math:`x_t = a_t x_1 + s_t \varepsilon` (lesson 02).

Flow-matching time: :math:`t \in [0, 1]`, noise at :math:`t = 0`, data at :math:`t = 1`,
:math:`x_1 \sim p_{\text{data}}`, :math:`\varepsilon \sim \mathcal N(0, I)`. The conditional path is
:math:`p_t(x \mid x_1) = \mathcal N(a_t x_1, s_t^2 I)` with conditional velocity
:math:`u_t(x \mid x_1) = a_t' x_1 + s_t' \varepsilon`. For a Gaussian-mixture data law the marginal
:math:`p_t` is again a Gaussian mixture and :math:`\mathbb E[x_1 \mid x_t = x]` is exact, so the marginal
velocity :math:`v_t(x) = \mathbb E[u_t(x \mid x_1) \mid x_t = x]` can be computed from its definition and
compared with the score/flow duality formula.
"""

from __future__ import annotations

import torch

from mmgp_lesson.toys import DTYPE, GaussianMixture


class GaussianPath:
    r"""A path given by :math:`a_t`, :math:`s_t` and their time derivatives; subclasses define :meth:`coefficients`."""

    name = "gaussian path"

    def coefficients(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        r""":math:`(a_t, s_t, a_t', s_t')` at times ``t`` (any shape)."""
        raise NotImplementedError

    def sample(self, x1: torch.Tensor, t: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Draw :math:`x_t = a_t x_1 + s_t \varepsilon` for a batch ``x1`` (N, d) at times ``t`` (N,); returns ``(x_t, eps)``."""
        a, s, _, _ = self.coefficients(t[:, None])
        eps = torch.randn(x1.shape, dtype=x1.dtype, generator=generator)
        return a * x1 + s * eps, eps

    def conditional_velocity(self, t: torch.Tensor, x: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        r""":math:`u_t(x \mid x_1) = a_t' x_1 + \frac{s_t'}{s_t}(x - a_t x_1)`: the velocity of the path through ``x`` that ends at ``x1``."""
        a, s, da, ds = self.coefficients(_column(t))
        return da * x1 + ds / s * (x - a * x1)

    def conditional_score(self, t: torch.Tensor, x: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        r""":math:`\nabla_x \log p_t(x \mid x_1) = -(x - a_t x_1) / s_t^2`."""
        a, s, _, _ = self.coefficients(_column(t))
        return -(x - a * x1) / s**2

    def marginal(self, data: GaussianMixture, t: float) -> GaussianMixture:
        r""":math:`p_t` for a mixture data law: component :math:`\mathcal N(\mu_k, \Sigma_k)` becomes :math:`\mathcal N(a_t \mu_k, a_t^2 \Sigma_k + s_t^2 I)`."""
        a, s, _, _ = self.coefficients(torch.as_tensor(t, dtype=DTYPE))
        eye = torch.eye(data.dim, dtype=DTYPE)
        return GaussianMixture(data.weights, a * data.means, a**2 * data.covariances + s**2 * eye)

    def posterior_mean(self, data: GaussianMixture, t: float, x: torch.Tensor) -> torch.Tensor:
        r"""Exact :math:`\mathbb E[x_1 \mid x_t = x]` by Gaussian conditioning, shape (N, d).

        Component by component, :math:`\mathbb E[x_1 \mid x_t = x, k] = \mu_k + a_t \Sigma_k (a_t^2 \Sigma_k + s_t^2 I)^{-1}(x - a_t \mu_k)`;
        the components are weighted by their responsibilities under :math:`p_t`. No score is used.
        """
        marginal = self.marginal(data, t)
        a = self.coefficients(torch.as_tensor(t, dtype=DTYPE))[0]
        gain = a * data.covariances @ torch.linalg.inv(marginal.covariances)  # (K, d, d)
        diff = x[:, None, :] - marginal.means[None]  # (N, K, d)
        component_means = data.means[None] + torch.einsum("kij,nkj->nki", gain, diff)
        return (marginal.responsibilities(x)[..., None] * component_means).sum(1)

    def velocity_by_definition(self, data: GaussianMixture, t: float, x: torch.Tensor) -> torch.Tensor:
        r"""Marginal velocity from its definition, :math:`v_t(x) = \mathbb E[u_t(x \mid x_1) \mid x_t = x]`.

        :math:`u_t` is affine in :math:`x_1`, so the expectation is :math:`u_t` at :math:`\mathbb E[x_1 \mid x_t = x]`.
        """
        return self.conditional_velocity(torch.as_tensor(t, dtype=DTYPE), x, self.posterior_mean(data, t, x))

    def velocity_from_score(self, t: float, x: torch.Tensor, score: torch.Tensor) -> torch.Tensor:
        r"""The score/flow duality of lesson 02: :math:`v_t(x) = \frac{a_t'}{a_t} x + s_t\big(s_t \frac{a_t'}{a_t} - s_t'\big) \nabla \log p_t(x)`."""
        a, s, da, ds = self.coefficients(torch.as_tensor(t, dtype=DTYPE))
        return da / a * x + s * (s * da / a - ds) * score

    def score_from_velocity(self, t: float, x: torch.Tensor, velocity: torch.Tensor) -> torch.Tensor:
        r"""The duality solved for the score: :math:`\nabla \log p_t(x) = \big(v_t(x) - \frac{a_t'}{a_t} x\big) / \big(s_t(s_t \frac{a_t'}{a_t} - s_t')\big)`."""
        a, s, da, ds = self.coefficients(torch.as_tensor(t, dtype=DTYPE))
        return (velocity - da / a * x) / (s * (s * da / a - ds))


class LinearPath(GaussianPath):
    r"""The linear (rectified-flow, conditional-OT) path :math:`a_t = t`, :math:`s_t = 1 - t`."""

    name = "linear"

    def coefficients(self, t):
        t = torch.as_tensor(t, dtype=DTYPE)
        return t, 1 - t, torch.ones_like(t), -torch.ones_like(t)


class VariancePreservingPath(GaussianPath):
    r"""The variance-preserving path of a VP diffusion with linear :math:`\beta`, read in flow-matching time.

    With diffusion time :math:`\tau = 1 - t` and :math:`B(\tau) = \beta_{\min}\tau + \tfrac12(\beta_{\max} - \beta_{\min})\tau^2`:
    :math:`a_t = e^{-B(1-t)/2}`, :math:`s_t = \sqrt{1 - a_t^2}`, so :math:`a_t^2 + s_t^2 = 1`;
    :math:`a_t' = \tfrac12 \beta(1-t)\, a_t` and :math:`s_t' = -a_t a_t' / s_t`.
    """

    name = "variance-preserving"

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0):
        self.beta_min, self.beta_max = beta_min, beta_max

    def coefficients(self, t):
        tau = 1 - torch.as_tensor(t, dtype=DTYPE)
        integral = self.beta_min * tau + 0.5 * (self.beta_max - self.beta_min) * tau**2
        beta = self.beta_min + (self.beta_max - self.beta_min) * tau
        a = torch.exp(-0.5 * integral)
        s = torch.sqrt(-torch.expm1(-integral))  # 1 - a², accurate when a is close to 1
        da = 0.5 * beta * a
        return a, s, da, -a * da / s


def _column(t: torch.Tensor) -> torch.Tensor:
    """A batch of times (N,) as a column (N, 1) so it broadcasts over coordinates; scalars stay scalars."""
    t = torch.as_tensor(t, dtype=DTYPE)
    return t[:, None] if t.ndim == 1 else t

