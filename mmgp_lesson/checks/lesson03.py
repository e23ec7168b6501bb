"""Checks for lesson 03: the probability-flow ODE."""

from __future__ import annotations

import math

import numpy as np
import torch

from mmgp_lesson.checks import CheckFailed, answer_tensor, close, exercise, generator, passed, reference_mixture, require
from mmgp_lesson.sde import VPSDE, euler, time_grid
from mmgp_lesson.toys import DTYPE


def _points(count: int = 64, seed: int = 0) -> torch.Tensor:
    return 2 * torch.randn(count, 2, dtype=DTYPE, generator=generator(seed))


@exercise("03-1", answer="pf_velocity")
def probability_flow_velocity(pf_velocity) -> None:
    """Exercise 03.1: ``pf_velocity(drift, g, score)`` must return f - g²/2 · score.

    Tolerance 1e-10 relative: an algebraic formula in float64.
    """
    sde, data = VPSDE(0.1, 20.0, 1.0), reference_mixture()
    x, t = _points(), 0.4
    drift, g, score = sde.drift(x, t), sde.diffusion(t), sde.marginal(data, t).score(x)
    value = answer_tensor(pf_velocity, drift, g, score)
    require(value.shape == x.shape, f"your velocity has shape {tuple(value.shape)}; it should have the shape of x, {tuple(x.shape)}")
    exact = drift - 0.5 * g**2 * score
    if close(value, exact):
        passed("the probability-flow velocity f - g²/2 ∇log p_t matches the exact one")
        return
    if close(value, drift - g**2 * score):
        raise CheckFailed("you used the reverse-SDE drift f - g² ∇log p: the probability flow takes half the score term, f - g²/2 ∇log p")
    if close(value, drift + 0.5 * g**2 * score):
        raise CheckFailed("the score term has the wrong sign: the probability flow is f - g²/2 ∇log p_t")
    if close(value, drift - 0.5 * g * score):
        raise CheckFailed("you multiplied the score by g/2: the diffusion coefficient enters squared, f - g²/2 ∇log p_t")
    raise CheckFailed("your velocity differs from f - g²/2 ∇log p_t: combine the drift and the score term exactly so")


def _rotation(x, t):
    return (1 + t) * torch.stack([-x[:, 1], x[:, 0]], dim=1)


def _integrate(step, field, x, times):
    """Run the learner's one-step function ``step`` over the grid ``times`` (in the learner's process)."""
    for t0, t1 in zip(times[:-1].tolist(), times[1:].tolist()):
        x = step(field, x, t0, t1 - t0)
    return x


@exercise("03-2", answer="heun_step", references=("mmgp_lesson.sde:heun",))
def heun_step(step) -> None:
    """Exercise 03.2: ``heun_step(field, x, t, dt)`` must be one Heun step; its measured order must be 2.

    The order is fitted on dx/dt = (1 + t) J x (a rotation by t + t²/2) from 20 to 160 steps; Heun's
    fit lands within 0.1 of 2.
    """
    x = torch.randn(3, 2, dtype=DTYPE, generator=generator(2))
    value = answer_tensor(step, _rotation, x, 0.2, 0.1)
    require(value.shape == x.shape, f"your step returns shape {tuple(value.shape)}; it should return the new particles, shape {tuple(x.shape)}")
    slope = _rotation(x, 0.2)
    predictor = x + 0.1 * slope
    exact = x + 0.05 * (slope + _rotation(predictor, 0.3))
    if not close(value, exact):
        if close(value, predictor):
            raise CheckFailed("your step is an Euler step: Heun also evaluates the field at the predictor x + Δt v(x, t), time t + Δt, and averages the two slopes")
        if close(value, x + 0.1 * _rotation(predictor, 0.3)):
            raise CheckFailed("you used only the slope at the predictor: Heun averages it with the slope at the start, x + Δt/2 (v(x, t) + v(x̃, t + Δt))")
        if close(value, x + 0.05 * (slope + _rotation(predictor, 0.2))):
            raise CheckFailed("the second slope is evaluated at time t: evaluate it at the predictor and at time t + Δt")
        raise CheckFailed("your step differs from Heun's x + Δt/2 (v(x, t) + v(x + Δt v(x, t), t + Δt))")

    angle = 1.5
    exact_end = torch.stack([math.cos(angle) * x[:, 0] - math.sin(angle) * x[:, 1], math.sin(angle) * x[:, 0] + math.cos(angle) * x[:, 1]], dim=1)
    steps = [20, 40, 80, 160]
    errors = [(answer_tensor(step, _rotation, x, time_grid(0.0, 1.0, n), runner=_integrate) - exact_end).norm().item() for n in steps]
    order = -np.polyfit(np.log(steps), np.log(errors), 1)[0]
    require(1.9 < order < 2.1, f"your integrator's measured order is {order:.2f}, not 2: check that each step uses the right times")
    euler_error = (euler(_rotation, x, time_grid(0.0, 1.0, 160)) - exact_end).norm().item()
    passed(f"one Heun step is exact, and the measured order is {order:.2f} (error {errors[-1]:.1e} vs Euler's {euler_error:.1e} at 160 steps)")


@exercise("03-3", answer="reverse_vp_step")
def reverse_vp_step(step) -> None:
    """Exercise 03.3: ``reverse_vp_step(x, beta, score, dt, z)`` must be the reverse VP Euler–Maruyama step.

    Exact formula x + (β x / 2 + β s) Δt + √(β Δt) z, compared to 1e-10 relative (float64 algebra).
    """
    data, sde = reference_mixture(), VPSDE(0.1, 20.0, 1.0)
    x, t, dt = _points(), 0.6, 0.01
    beta, score = sde.beta(t), sde.marginal(data, t).score(x)
    z = torch.randn(x.shape, dtype=DTYPE, generator=generator(1))
    value = answer_tensor(step, x, beta, score, dt, z)
    require(value.shape == x.shape, f"your step returns shape {tuple(value.shape)}; it should return the new particles, shape {tuple(x.shape)}")
    noise = math.sqrt(beta * dt) * z
    exact = x + (0.5 * beta * x + beta * score) * dt + noise
    if close(value, exact):
        passed("the reverse VP step x + (βx/2 + β∇log p_t) Δt + √(βΔt) z is right")
        return
    if close(value, x + (0.5 * beta * x + 0.5 * beta * score) * dt + noise):
        raise CheckFailed("you used the probability-flow drift (β/2 ∇log p) with noise added: the reverse SDE needs the full score term β ∇log p_t")
    if close(value, x + (0.5 * beta * x + beta * score) * dt):
        raise CheckFailed("your step has no noise: the reverse SDE adds √(β Δt) z (without it, use the probability-flow drift instead)")
    if close(value, x + (-0.5 * beta * x + beta * score) * dt + noise) or close(value, x - (0.5 * beta * x + beta * score) * dt + noise):
        raise CheckFailed("a sign is wrong: going back in time the drift -βx/2 - β∇log p is reversed, giving +βx/2 + β∇log p_t")
    if close(value, x + (0.5 * beta * x + beta * score) * dt + beta * math.sqrt(dt) * z):
        raise CheckFailed("the noise should be √(β Δt) z: the diffusion coefficient is g = √β, not β")
    raise CheckFailed("your step differs from x + (βx/2 + β∇log p_t) Δt + √(βΔt) z")
