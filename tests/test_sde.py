"""SDEs and integrators against closed forms: marginals, convergence orders, stationary laws, densities."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate

from mmgp_lesson.sde import (VPSDE, annealed_langevin, divergence, euler, euler_maruyama, heun, log_density_by_divergence,
                             mala, time_grid, ula)
from mmgp_lesson.stats import log_density_z_test, two_sample_test
from mmgp_lesson.toys import DTYPE, DoubleWell, GaussianMixture, gaussian_convolution, sample_double_well


@pytest.fixture
def mixture() -> GaussianMixture:
    return GaussianMixture([0.6, 0.4], [[-1.5, 0.5], [1.5, -0.5]], [[[0.3, 0.1], [0.1, 0.2]], [[0.2, 0.0], [0.0, 0.4]]])


def _generator(seed=0):
    return torch.Generator().manual_seed(seed)


def _rotation(x, t):
    """dx/dt = (1 + t) J x with J the quarter turn: exact solution is a rotation by t + t²/2."""
    return (1 + t) * torch.stack([-x[:, 1], x[:, 0]], dim=1)


def _rotation_exact(x, t):
    angle = t + t**2 / 2
    c, s = math.cos(angle), math.sin(angle)
    return torch.stack([c * x[:, 0] - s * x[:, 1], s * x[:, 0] + c * x[:, 1]], dim=1)


def _measured_order(integrator, steps=(20, 40, 80, 160)):
    x = torch.tensor([[1.0, 0.5], [-0.3, 2.0]], dtype=DTYPE)
    exact = _rotation_exact(x, 1.0)
    errors = [(integrator(_rotation, x, time_grid(0.0, 1.0, n)) - exact).norm().item() for n in steps]
    return -np.polyfit(np.log(steps), np.log(errors), 1)[0]


def test_euler_is_first_order():
    assert 0.9 < _measured_order(euler) < 1.1


def test_heun_is_second_order():
    assert 1.9 < _measured_order(heun) < 2.1


def test_integrators_run_backwards_in_time():
    x = torch.tensor([[1.0, 0.0]], dtype=DTYPE)
    forward = heun(_rotation, x, time_grid(0.0, 1.0, 400))
    assert (heun(_rotation, forward, time_grid(1.0, 0.0, 400)) - x).abs().max() < 1e-5  # O(Δt²) each way


def test_vp_marginal_of_a_point_mass_has_alpha_and_one_minus_alpha_squared():
    sde = VPSDE(0.1, 20.0, 1.0)
    t = 0.3
    integral = 0.1 * t + 19.9 * t**2 / 2
    assert math.isclose(sde.alpha(t), math.exp(-integral / 2), rel_tol=1e-14)
    point = GaussianMixture([1.0], [[2.0, -1.0]], [[[1e-12, 0.0], [0.0, 1e-12]]])
    marginal = sde.marginal(point, t)
    assert torch.allclose(marginal.means, sde.alpha(t) * point.means)
    assert torch.allclose(marginal.covariances[0], (1 - sde.alpha(t) ** 2) * torch.eye(2, dtype=DTYPE), atol=1e-11)


def test_ou_is_vp_with_beta_two():
    ou = VPSDE.ornstein_uhlenbeck()
    assert math.isclose(ou.alpha(0.7), math.exp(-0.7), rel_tol=1e-14) and ou.diffusion(0.3) == math.sqrt(2)


def test_gaussian_convolution_adds_variance_and_scales_means(mixture):
    smoothed = gaussian_convolution(mixture, 0.5, 2.0)
    assert torch.allclose(smoothed.covariances, 0.25 * mixture.covariances + 2.0 * torch.eye(2, dtype=DTYPE))
    assert torch.allclose(smoothed.means, 0.5 * mixture.means)


def test_euler_maruyama_forward_sde_matches_the_exact_marginal(mixture):
    sde = VPSDE.ornstein_uhlenbeck()
    generator = _generator(1)
    x = euler_maruyama(sde.drift, sde.diffusion, mixture.sample(1500, generator), time_grid(0.0, 0.5, 200), generator)
    exact = sde.marginal(mixture, 0.5).sample(1500, generator)
    assert two_sample_test(x, exact, generator).within_sampling_error


def test_euler_maruyama_has_weak_order_one_on_ou_variance():
    # dx = -x dt + √2 dW from x = 0: EM variance after n steps of h is (1 - (1-h)^{2n}) / (1 - h/2) exactly;
    # its error to the true 1 - e^{-2t} is O(h). Check the EM recursion by Monte Carlo and the O(h) claim in closed form.
    generator = _generator(2)
    sde = VPSDE.ornstein_uhlenbeck()
    x = euler_maruyama(sde.drift, sde.diffusion, torch.zeros(200_000, 1, dtype=DTYPE), time_grid(0.0, 1.0, 10), generator)
    predicted = (1 - 0.9**20) / (1 - 0.05)
    assert abs(x.var().item() - predicted) < 5 * predicted * math.sqrt(2 / 200_000)  # variance estimate: 5 standard errors


def test_reverse_sde_and_pf_ode_carry_the_prior_to_the_data(mixture):
    sde = VPSDE(0.1, 20.0, 1.0)
    score = sde.exact_score(mixture)
    generator = _generator(3)
    start = sde.marginal(mixture, 1.0).sample(1000, generator)
    reverse_sde = euler_maruyama(sde.reverse_drift(score), sde.diffusion, start, time_grid(1.0, 0.0, 500), generator)
    reverse_ode = heun(sde.probability_flow(score), start, time_grid(1.0, 0.0, 200))
    data = mixture.sample(1000, generator)
    for cloud in (reverse_sde, reverse_ode):  # the omnibus test, and the sharp test of spread (lesson 03 measures both powers)
        assert two_sample_test(cloud, data, generator).within_sampling_error
        assert log_density_z_test(cloud, data, mixture.log_prob).within_sampling_error
    wrong = euler_maruyama(sde.probability_flow(score), sde.diffusion, start, time_grid(1.0, 0.0, 500), generator)
    assert not two_sample_test(wrong, data, generator).within_sampling_error  # PF drift + noise is not a sampler


def test_pf_ode_maps_a_gaussian_exactly():
    # For one component N(m, s² I) under OU the PF-ODE map is x ↦ m e^{-t} + (x - m) σ_t / s, σ_t² = s² e^{-2t} + 1 - e^{-2t}.
    s2, t = 0.25, 0.8
    single = GaussianMixture([1.0], [[1.0, -2.0]], [[[s2, 0.0], [0.0, s2]]])
    sde = VPSDE.ornstein_uhlenbeck()
    x = torch.tensor([[0.5, -1.0], [1.3, -2.2]], dtype=DTYPE)
    sigma_t = math.sqrt(s2 * math.exp(-2 * t) + 1 - math.exp(-2 * t))
    exact = single.means * math.exp(-t) + (x - single.means) * sigma_t / math.sqrt(s2)
    errors = [(heun(sde.probability_flow(sde.exact_score(single)), x, time_grid(0.0, t, n)) - exact).abs().max().item() for n in (200, 400)]
    assert errors[1] < 1e-4  # the map itself: Heun's O(Δt²) error is far below this at 400 steps
    assert 3.5 < errors[0] / errors[1] < 4.5  # and it converges to this map at second order


def test_divergence_matches_the_trace_of_a_linear_map():
    matrix = torch.tensor([[1.0, 2.0], [-3.0, 0.5]], dtype=DTYPE)
    x = torch.randn(10, 2, dtype=DTYPE, generator=_generator(4))
    assert torch.allclose(divergence(lambda y, t: y @ matrix.T, x, 0.0), torch.full((10,), 1.5, dtype=DTYPE))


def test_log_density_by_divergence_matches_the_exact_mixture(mixture):
    sde = VPSDE(0.1, 20.0, 1.0)
    x = mixture.sample(50, _generator(5))
    estimate = log_density_by_divergence(sde.probability_flow(sde.exact_score(mixture)), sde.marginal(mixture, 1.0).log_prob, x, time_grid(0.0, 1.0, 200))
    assert (estimate - mixture.log_prob(x)).abs().max() < 1e-3  # Heun O(Δt²) on the stiff start of the VP schedule


def test_ula_stationary_variance_is_one_over_one_minus_half_step():
    generator = _generator(6)
    for step in (0.1, 0.4):
        x = ula(lambda y: -y, torch.zeros(100_000, 1, dtype=DTYPE), step, 200, generator)
        exact = 1 / (1 - step / 2)
        assert abs(x.var().item() - exact) < 5 * exact * math.sqrt(2 / 100_000)  # 5 standard errors of a variance


def test_mala_removes_the_step_size_bias():
    generator = _generator(7)
    x, acceptance = mala(lambda y: -0.5 * (y**2).sum(1), lambda y: -y, torch.zeros(100_000, 1, dtype=DTYPE), 0.4, 200, generator)
    assert abs(x.var().item() - 1.0) < 5 * math.sqrt(2 / 100_000)
    assert 0.5 < acceptance < 1.0


def test_mala_rejects_everything_for_a_huge_step():
    _, acceptance = mala(lambda y: -0.5 * (y**2).sum(1), lambda y: -y, torch.zeros(1000, 2, dtype=DTYPE), 50.0, 10, _generator(8))
    assert acceptance < 0.01


def test_annealed_langevin_samples_a_mixture(mixture):
    generator = _generator(9)
    levels = [3.0, 1.5, 0.7, 0.3, 0.1]
    score = lambda x, sigma: gaussian_convolution(mixture, 1.0, sigma**2).score(x)
    x = annealed_langevin(score, levels, 4 * torch.randn(1000, 2, dtype=DTYPE, generator=generator), 100, 0.002, generator)
    assert two_sample_test(x, mixture.sample(1000, generator), generator).within_sampling_error


def test_annealed_langevin_step_grows_like_sigma_squared():
    # With a zero score each ULA step only adds N(0, 2η I), so after n steps per level the variance is
    # 2n Σ_σ η_σ with η_σ = ε σ²/σ_min²: for levels (2, 1) and ε = 1e-3 that is 2n·ε·(4 + 1) = 10nε. A step
    # proportional to σ instead (η_σ = ε σ/σ_min) would give 2n·ε·(2 + 1) = 6nε, 40% less.
    levels, steps, eps, count = [2.0, 1.0], 50, 1e-3, 200_000
    x = annealed_langevin(_zero_score, levels, torch.zeros(count, 1, dtype=DTYPE), steps, eps, _generator(11))
    expected = 2 * steps * eps * sum(sigma**2 / min(levels) ** 2 for sigma in levels)
    assert abs(x.var().item() - expected) < 5 * expected * math.sqrt(2 / count)  # 5 standard errors of a sample variance


def _zero_score(x: torch.Tensor, sigma: float) -> torch.Tensor:
    return torch.zeros_like(x)


def test_sample_double_well_matches_quadrature():
    # toys.sample_double_well (appended for lesson 04's exact draws): moments and a CDF value of x₁ against
    # quadrature of e^{-h(x²-1)²}, within five Monte-Carlo standard errors; x₂ must be N(0, 1).
    well, count = DoubleWell(barrier=2.0, dim=2), 200_000
    x = sample_double_well(well, count, _generator(10))
    density = lambda y: math.exp(-2.0 * (y * y - 1) ** 2)
    z = integrate.quad(density, -4, 4)[0]
    second = integrate.quad(lambda y: y * y * density(y), -4, 4)[0] / z
    fourth = integrate.quad(lambda y: y**4 * density(y), -4, 4)[0] / z
    below = integrate.quad(density, -4, 0.5)[0] / z
    assert abs((x[:, 0] ** 2).mean().item() - second) < 5 * math.sqrt((fourth - second**2) / count)
    assert abs((x[:, 0] < 0.5).double().mean().item() - below) < 5 * math.sqrt(below * (1 - below) / count)
    assert abs(x[:, 0].mean().item()) < 5 * math.sqrt(second / count)
    assert abs(x[:, 1].var().item() - 1) < 5 * math.sqrt(2 / count)
