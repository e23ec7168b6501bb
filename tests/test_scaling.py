"""Best-of-N, Beta power laws and the compute-optimal K against closed forms and simulation."""

import math

import numpy as np
import pytest
from scipy import integrate, special

from mmgp_lesson.scaling import (beta_failure, best_of_n_exact, compute_optimal_k, fit_power_law, log_log_slope,
                                 noisy_best_of_n, power_law, simulate_best_of_n)


def test_perfect_verifier_is_the_closed_form_and_simulation_agrees():
    assert np.allclose(best_of_n_exact(0.3, [1, 2, 4]), [0.3, 0.51, 0.7599])
    assert noisy_best_of_n(0.3, 4, 0.0) == pytest.approx(0.7599)
    rng = np.random.default_rng(0)
    for sigma in (0.0, 0.7):
        estimate = simulate_best_of_n(0.3, 5, sigma, 40000, rng).mean()
        exact = noisy_best_of_n(0.3, 5, sigma)
        assert abs(estimate - exact) < 4 * math.sqrt(exact * (1 - exact) / 40000)  # 4 standard errors


def test_noisy_verifier_with_one_candidate_is_p_and_huge_noise_picks_at_random():
    assert noisy_best_of_n(0.3, 1, 1.0) == pytest.approx(0.3, abs=1e-9)
    assert noisy_best_of_n(0.3, 6, 1e4) == pytest.approx(0.3, abs=1e-3)  # scores are pure noise: a random pick


def test_beta_failure_matches_quadrature_and_its_slope_is_minus_a():
    a, b, n = 0.7, 2.0, 12
    density = lambda p: p ** (a - 1) * (1 - p) ** (b - 1) / special.beta(a, b)
    assert beta_failure(a, b, n) == pytest.approx(integrate.quad(lambda p: (1 - p) ** n * density(p), 0, 1)[0], rel=1e-8)
    grid = np.array([1e4, 2e4, 4e4])
    assert log_log_slope(grid, beta_failure(a, b, grid)) == pytest.approx(-a, abs=1e-3)  # asymptotic N^-a


def test_fit_recovers_an_exact_power_law_and_k_star_maximises_the_net_gain():
    k = np.array([1.0, 2, 4, 8, 16, 32, 64])
    truth = (0.9, 0.6, 0.5)
    params, covariance = fit_power_law(k, power_law(k, *truth), np.full(len(k), 1e-3))
    assert np.allclose(params, truth, atol=1e-6) and covariance.shape == (3, 3)
    k_star = compute_optimal_k(0.6, 0.5, 1e-3, 2.0)
    grid = np.linspace(0.5 * k_star, 2 * k_star, 2001)
    net = power_law(grid, *truth) - 1e-3 * 2.0 * grid
    assert abs(grid[net.argmax()] - k_star) < grid[1] - grid[0]
