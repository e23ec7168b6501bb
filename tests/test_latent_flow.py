"""Tests for mmgp_lesson.latent_flow: Euler sampling, straightness, reflow."""

import math

import pytest
import torch

from mmgp_lesson.latent_flow import euler_sample, straightness, train_reflow
from mmgp_lesson.paths import LinearPath
from mmgp_lesson.toys import DTYPE, GaussianMixture


@pytest.fixture(scope="module")
def mixture():
    return GaussianMixture.isotropic([[-2.0, -1.0], [2.0, -1.0], [0.0, 2.0]], std=0.35)


def exact_field(mixture):
    path = LinearPath()
    return lambda z, t: path.velocity_by_definition(mixture, t, z)


def test_euler_is_exact_for_a_constant_field():
    z0 = torch.randn(10, 3, dtype=DTYPE, generator=torch.Generator().manual_seed(0))
    shift = torch.tensor([1.0, -2.0, 0.5], dtype=DTYPE)
    assert torch.allclose(euler_sample(lambda z, t: shift.expand_as(z), z0, 7), z0 + shift, atol=1e-12)
    assert euler_sample(lambda z, t: shift.expand_as(z), z0, 4, path=True).shape == (5, 10, 3)


def test_euler_is_first_order_on_a_linear_ode():
    # dz/dt = z: exact z1 = e * z0; Euler gives (1 + 1/n)^n z0, error ≈ e / (2n)
    z0 = torch.ones(1, 1, dtype=DTYPE)
    errors = [abs(euler_sample(lambda z, t: z, z0, n).item() - math.e) for n in (50, 100, 200)]
    orders = [math.log2(errors[0] / errors[1]), math.log2(errors[1] / errors[2])]
    assert all(0.95 < order < 1.05 for order in orders)


def test_exact_field_transports_noise_to_the_mixture(mixture):
    z0 = torch.randn(4000, 2, dtype=DTYPE, generator=torch.Generator().manual_seed(1))
    z1 = euler_sample(exact_field(mixture), z0, 100)
    mean = (mixture.weights[:, None] * mixture.means).sum(0)
    standard_error = torch.cov(z1.T).diagonal().sqrt() / math.sqrt(len(z1))
    assert ((z1.mean(0) - mean).abs() / standard_error).max() < 5  # within five standard errors
    masses = mixture.responsibilities(z1).mean(0)
    assert (masses - mixture.weights).abs().max() < 5 * math.sqrt(1 / 3 * 2 / 3 / len(z1)) + 0.01  # 0.01 for the O(1/n) Euler bias


def test_straightness_is_zero_for_straight_paths_and_positive_for_curved(mixture):
    z0 = torch.randn(500, 2, dtype=DTYPE, generator=torch.Generator().manual_seed(2))
    target = torch.tensor([3.0, -1.0], dtype=DTYPE)
    assert straightness(lambda z, t: target.expand_as(z), z0) < 1e-20  # constant velocity: straight
    assert straightness(exact_field(mixture), z0) > 0.5  # the marginal field bends paths towards the modes


def test_reflow_straightens(mixture):
    generator = torch.Generator().manual_seed(3)
    z0 = torch.randn(3000, 2, dtype=DTYPE, generator=generator)
    field = exact_field(mixture)
    z1 = euler_sample(field, z0, 50)
    reflow, losses = train_reflow(z0, z1, steps=800, batch=256)
    straight = lambda z, t: reflow(z, t)
    test = torch.randn(500, 2, dtype=DTYPE, generator=generator)
    before, after = straightness(field, test), straightness(straight, test)
    assert after < before / 10  # the coupling is deterministic: the refit paths are nearly straight
    one_step = euler_sample(straight, test, 1)
    many_steps = euler_sample(field, test, 50)
    assert (one_step - many_steps).norm(dim=1).mean() < 0.5 * (euler_sample(field, test, 1) - many_steps).norm(dim=1).mean()
