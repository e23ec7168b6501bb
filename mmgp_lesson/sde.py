r"""Forward and reverse SDEs, the probability-flow ODE and batched integrators (lessons 03 and 04).

Diffusion time: data at :math:`t = 0`, noise at :math:`t = T`. The forward SDE is the
variance-preserving (VP) one, :math:`dx = -\tfrac12 \beta(t)\, x\, dt + \sqrt{\beta(t)}\, dW_t`, with a
linear schedule :math:`\beta(t) = \beta_0 + (\beta_1 - \beta_0)\, t / T`; the constant schedule
:math:`\beta \equiv 2` is the Ornstein–Uhlenbeck process :math:`dx = -x\, dt + \sqrt 2\, dW_t`.

A *field* is a callable ``field(x, t)`` of a batch ``x`` (N, d) and a float time ``t`` returning (N, d).
Every integrator moves the whole batch at once, steps along a given time grid (increasing or
decreasing) and draws its noise from an explicit ``torch.Generator``.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from mmgp_lesson.toys import GaussianMixture, gaussian_convolution

Field = Callable[[torch.Tensor, float], torch.Tensor]
Score = Callable[[torch.Tensor], torch.Tensor]
LogProb = Callable[[torch.Tensor], torch.Tensor]


class VPSDE:
    r"""The VP SDE :math:`dx = -\tfrac12 \beta(t) x\, dt + \sqrt{\beta(t)}\, dW_t` on :math:`[0, T]`.

    With :math:`B(t) = \int_0^t \beta = \beta_0 t + (\beta_1 - \beta_0) t^2 / 2T`, the solution is
    :math:`x_t = \alpha_t x_0 + \sqrt{1 - \alpha_t^2}\, z` with :math:`\alpha_t = e^{-B(t)/2}`.
    """

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0, horizon: float = 1.0):
        self.beta_min, self.beta_max, self.horizon = beta_min, beta_max, horizon

    @classmethod
    def ornstein_uhlenbeck(cls, horizon: float = 5.0) -> "VPSDE":
        r"""The OU process :math:`dx = -x\, dt + \sqrt 2\, dW_t` (:math:`\beta \equiv 2`, :math:`\alpha_t = e^{-t}`)."""
        return cls(2.0, 2.0, horizon)

    def beta(self, t: float) -> float:
        r""":math:`\beta(t) = \beta_0 + (\beta_1 - \beta_0)\, t / T`."""
        return self.beta_min + (self.beta_max - self.beta_min) * t / self.horizon

    def beta_integral(self, t):
        r""":math:`B(t) = \int_0^t \beta = \beta_0 t + (\beta_1 - \beta_0)\, t^2 / 2T`; ``t`` a float or a tensor."""
        return self.beta_min * t + (self.beta_max - self.beta_min) * t**2 / (2 * self.horizon)

    def alpha(self, t: float) -> float:
        r""":math:`\alpha_t = \exp(-\tfrac12 \int_0^t \beta)`: the factor by which the mean shrinks."""
        return math.exp(-0.5 * self.beta_integral(t))

    def drift(self, x: torch.Tensor, t: float) -> torch.Tensor:
        r"""Forward drift :math:`f(x, t) = -\tfrac12 \beta(t)\, x`."""
        return -0.5 * self.beta(t) * x

    def diffusion(self, t: float) -> float:
        r"""Forward diffusion coefficient :math:`g(t) = \sqrt{\beta(t)}`."""
        return math.sqrt(self.beta(t))

    def marginal(self, data: GaussianMixture, t: float) -> GaussianMixture:
        r"""Exact :math:`p_t` when :math:`p_0` is a mixture: :math:`\mathcal N(\alpha_t \mu_k, \alpha_t^2 \Sigma_k + (1 - \alpha_t^2) I)`."""
        alpha = self.alpha(t)
        return gaussian_convolution(data, alpha, 1.0 - alpha**2)

    def exact_score(self, data: GaussianMixture) -> Field:
        r"""The field :math:`(x, t) \mapsto \nabla_x \log p_t(x)` of the exact marginals."""
        return lambda x, t: self.marginal(data, t).score(x)

    def probability_flow(self, score: Field) -> Field:
        r"""PF-ODE velocity :math:`f(x, t) - \tfrac12 g(t)^2 s_t(x)`; its flow has the SDE's marginals (Song et al., 2021)."""
        return lambda x, t: self.drift(x, t) - 0.5 * self.beta(t) * score(x, t)

    def reverse_drift(self, score: Field) -> Field:
        r"""Reverse-time SDE drift :math:`f(x, t) - g(t)^2 s_t(x)`, run with :math:`dt < 0` (Anderson, 1982)."""
        return lambda x, t: self.drift(x, t) - self.beta(t) * score(x, t)


def time_grid(start: float, end: float, steps: int) -> torch.Tensor:
    """``steps + 1`` equally spaced times from ``start`` to ``end`` (``end < start`` runs backwards)."""
    return torch.linspace(start, end, steps + 1, dtype=torch.float64)


def euler(field: Field, x: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
    r"""Explicit Euler for :math:`dx/dt = v(x, t)`: :math:`x \leftarrow x + v(x, t_i)\, \Delta t_i`. Global error :math:`O(\Delta t)`."""
    for t, t_next in zip(times[:-1].tolist(), times[1:].tolist()):
        x = x + (t_next - t) * field(x, t)
    return x


def heun(field: Field, x: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
    r"""Heun (explicit trapezoid): Euler predictor, then the average of both slopes. Global error :math:`O(\Delta t^2)`."""
    for t, t_next in zip(times[:-1].tolist(), times[1:].tolist()):
        dt = t_next - t
        slope = field(x, t)
        predictor = x + dt * slope
        x = x + 0.5 * dt * (slope + field(predictor, t_next))
    return x


def euler_maruyama(drift: Field, diffusion: Callable[[float], float], x: torch.Tensor, times: torch.Tensor,
                   generator: torch.Generator) -> torch.Tensor:
    r"""Euler–Maruyama for :math:`dx = b(x, t)\, dt + g(t)\, dW`: :math:`x \leftarrow x + b\, \Delta t + g \sqrt{|\Delta t|}\, z`.

    A decreasing grid integrates a reverse-time SDE (the Brownian increment has variance :math:`|\Delta t|`).
    """
    for t, t_next in zip(times[:-1].tolist(), times[1:].tolist()):
        dt = t_next - t
        noise = torch.randn(x.shape, dtype=x.dtype, generator=generator)
        x = x + dt * drift(x, t) + diffusion(t) * math.sqrt(abs(dt)) * noise
    return x


def ula(score: Score, x: torch.Tensor, step: float, steps: int, generator: torch.Generator) -> torch.Tensor:
    r"""Unadjusted Langevin: :math:`x \leftarrow x + \eta\, \nabla \log p(x) + \sqrt{2\eta}\, z`, ``steps`` times.

    It is Euler–Maruyama for :math:`dx = \nabla \log p\, dt + \sqrt 2\, dW`; its stationary law is biased by :math:`O(\eta)`.
    """
    scale = math.sqrt(2 * step)
    for _ in range(steps):
        x = x + step * score(x) + scale * torch.randn(x.shape, dtype=x.dtype, generator=generator)
    return x


def mala(log_prob: LogProb, score: Score, x: torch.Tensor, step: float, steps: int,
         generator: torch.Generator) -> tuple[torch.Tensor, float]:
    r"""Metropolis-adjusted Langevin: a ULA proposal :math:`y`, accepted with probability
    :math:`\min\{1, \tfrac{p(y)\, q(x \mid y)}{p(x)\, q(y \mid x)}\}`, :math:`q(y \mid x) = \mathcal N(y; x + \eta \nabla\log p(x), 2\eta I)`.

    The chain leaves :math:`p` exactly invariant for every :math:`\eta`. Returns the particles and the
    acceptance rate over all particles and steps.
    """
    scale = math.sqrt(2 * step)
    log_p, grad = log_prob(x), score(x)
    accepted = 0.0
    for _ in range(steps):
        proposal = x + step * grad + scale * torch.randn(x.shape, dtype=x.dtype, generator=generator)
        log_p_new, grad_new = log_prob(proposal), score(proposal)
        forward = ((proposal - x - step * grad) ** 2).sum(1)  # -4η log q(y | x) up to a constant
        backward = ((x - proposal - step * grad_new) ** 2).sum(1)  # -4η log q(x | y)
        log_ratio = log_p_new - log_p + (forward - backward) / (4 * step)
        accept = torch.rand(len(x), dtype=x.dtype, generator=generator).log() < log_ratio
        x = torch.where(accept[:, None], proposal, x)
        log_p, grad = torch.where(accept, log_p_new, log_p), torch.where(accept[:, None], grad_new, grad)
        accepted += accept.double().mean().item()
    return x, accepted / max(steps, 1)


def annealed_langevin(score: Callable[[torch.Tensor, float], torch.Tensor], levels: list[float], x: torch.Tensor,
                      steps_per_level: int, step_scale: float, generator: torch.Generator) -> torch.Tensor:
    r"""Annealed Langevin (Song & Ermon, 2019): ULA on each smoothed law :math:`p_\sigma = p * \mathcal N(0, \sigma^2 I)`,
    from the largest :math:`\sigma` to the smallest, with step :math:`\eta_\sigma = \epsilon\, \sigma^2 / \sigma_{\min}^2`.

    ``score(x, sigma)`` is :math:`\nabla \log p_\sigma(x)`; ``step_scale`` is :math:`\epsilon`.
    """
    smallest = min(levels)
    for sigma in levels:
        x = ula(lambda y: score(y, sigma), x, step_scale * sigma**2 / smallest**2, steps_per_level, generator)
    return x


def divergence(field: Field, x: torch.Tensor, t: float) -> torch.Tensor:
    r""":math:`\nabla \cdot v(x, t) = \sum_i \partial v_i / \partial x_i` by automatic differentiation, shape (N,)."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        value = field(x, t)
        return sum(torch.autograd.grad(value[:, i].sum(), x, retain_graph=i + 1 < x.shape[1])[0][:, i]
                   for i in range(x.shape[1]))


def log_density_by_divergence(field: Field, terminal_log_prob: LogProb, x: torch.Tensor,
                              times: torch.Tensor) -> torch.Tensor:
    r"""Instantaneous change of variables: along :math:`dx/dt = v`, :math:`\frac{d}{dt} \log p_t(x_t) = -\nabla\cdot v(x_t, t)`, so

    :math:`\log p_{t_0}(x) = \log p_{t_n}(x_{t_n}) + \int_{t_0}^{t_n} \nabla \cdot v(x_t, t)\, dt`.

    Integrates the pair :math:`(x_t, \int \nabla\cdot v)` with Heun along ``times`` (from ``t_0`` to ``t_n``)
    and returns :math:`\log p_{t_0}(x)`, shape (N,).
    """
    integral = torch.zeros(len(x), dtype=x.dtype)
    for t, t_next in zip(times[:-1].tolist(), times[1:].tolist()):
        dt = t_next - t
        slope, div = field(x, t).detach(), divergence(field, x, t)
        predictor = x + dt * slope
        slope_next, div_next = field(predictor, t_next).detach(), divergence(field, predictor, t_next)
        x = x + 0.5 * dt * (slope + slope_next)
        integral = integral + 0.5 * dt * (div + div_next)
    return terminal_log_prob(x) + integral
