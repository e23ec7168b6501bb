r"""Inference-time scaling in closed-form toys (lesson 10).

**Best-of-N.** Draw N candidates, each correct with probability :math:`p`; a verifier scores candidate
:math:`j` as :math:`r_j = c_j + \sigma \xi_j` (:math:`c_j \in \{0, 1\}` correct or not, :math:`\xi_j \sim \mathcal N(0, 1)`)
and we keep the highest score. With :math:`\sigma = 0` the pick is correct iff one candidate is, so
:math:`P_N = 1 - (1 - p)^N`. With :math:`\sigma > 0` and :math:`k \ge 1` correct candidates, the pick is
correct iff the best correct score beats the best wrong one:

.. math:: P(\text{pick correct} \mid k) = \int k\, \varphi(u)\, \Phi(u)^{k-1}\, \Phi(u + 1/\sigma)^{N-k}\, du ,

averaged over :math:`k \sim \operatorname{Bin}(N, p)` (:func:`noisy_best_of_n`).

**Power laws from a spread of difficulties** (Brown et al., 2024 observe them; here is why). If problem
:math:`i` is solved by one draw with probability :math:`p_i \sim \operatorname{Beta}(a, b)`, the expected
failure rate after N independent draws is

.. math:: \mathbb E (1 - p)^N = \frac{B(a, b + N)}{B(a, b)} \sim \frac{\Gamma(a + b)}{\Gamma(b)}\, N^{-a} ,

a power law with exponent :math:`-a`, set by how much mass the Beta law puts near :math:`p = 0`. One fixed
:math:`p` gives the exponential :math:`(1 - p)^N` instead.

**Compute-optimal N.** With quality :math:`Q(K) = Q_\infty - A K^{-\gamma}` after K samples and a cost
:math:`\lambda c K` (``c`` units of compute per sample at price :math:`\lambda`), the net gain
:math:`Q(K) - \lambda c K` is largest at :math:`K^* = (A\gamma / (\lambda c))^{1/(\gamma+1)}` (Snell et al., 2024
frame test-time compute this way).
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, special, stats


def best_of_n_exact(p: float, n) -> np.ndarray:
    r"""Best-of-N success with a perfect verifier: :math:`1 - (1 - p)^N`."""
    return 1.0 - (1.0 - p) ** np.asarray(n, dtype=np.float64)


def simulate_best_of_n(p: float, n: int, sigma: float, trials: int, rng: np.random.Generator) -> np.ndarray:
    """``trials`` rounds of best-of-``n``: True where the highest verifier score is a correct candidate."""
    correct = rng.random((trials, n)) < p
    scores = correct + sigma * rng.standard_normal((trials, n))
    return correct[np.arange(trials), scores.argmax(1)]


def noisy_best_of_n(p: float, n: int, sigma: float, grid: int = 4001) -> float:
    """Best-of-N success with the Gaussian-noise verifier, by the integral in the module docstring
    (trapezoid rule on [-10, 10]: the integrand's mass outside is below 1e-20)."""
    if sigma == 0:
        return float(best_of_n_exact(p, n))
    u = np.linspace(-10, 10, grid)
    total = 0.0
    for k in range(1, n + 1):
        integrand = k * stats.norm.pdf(u) * stats.norm.cdf(u) ** (k - 1) * stats.norm.cdf(u + 1 / sigma) ** (n - k)
        total += stats.binom.pmf(k, n, p) * np.trapezoid(integrand, u)
    return float(total)


def beta_failure(a: float, b: float, n) -> np.ndarray:
    r""":math:`\mathbb E(1 - p)^N = B(a, b + N) / B(a, b)` for :math:`p \sim \operatorname{Beta}(a, b)`."""
    n = np.asarray(n, dtype=np.float64)
    return np.exp(special.betaln(a, b + n) - special.betaln(a, b))


def log_log_slope(n, values) -> float:
    """Least-squares slope of log(values) against log(n)."""
    return float(np.polyfit(np.log(n), np.log(values), 1)[0])


def power_law(k, q_inf, amplitude, gamma):
    r""":math:`Q(K) = Q_\infty - A K^{-\gamma}`."""
    return q_inf - amplitude * np.asarray(k, dtype=np.float64) ** (-gamma)


def fit_power_law(k, quality, errors) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least-squares fit of :func:`power_law` to ``quality`` ± ``errors``: parameters
    ``(Q∞, A, γ)`` and their covariance (scipy's ``curve_fit`` with ``absolute_sigma``)."""
    return optimize.curve_fit(power_law, k, quality, p0=(1.0, 1.0, 0.5), sigma=errors, absolute_sigma=True, maxfev=20000)


def compute_optimal_k(amplitude: float, gamma: float, price: float, cost: float = 1.0) -> float:
    r""":math:`K^* = (A\gamma / (\lambda c))^{1/(\gamma + 1)}`, the maximiser of :math:`Q_\infty - A K^{-\gamma} - \lambda c K`."""
    return (amplitude * gamma / (price * cost)) ** (1.0 / (gamma + 1.0))
