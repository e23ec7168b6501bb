"""Checks for lesson 06: flow matching for video (Euler sampling, LTX latent shapes, frame counts)."""

from __future__ import annotations

import math

import torch

from mmgp_lesson.checks import CheckFailed, call_answer, exercise, generator, passed, require, rng
from mmgp_lesson.latent_flow import euler_sample
from mmgp_lesson.ltx_shape import frames_for, is_valid_frame_count, latent_shape
from mmgp_lesson.toys import DTYPE


def _linear_field(z: torch.Tensor, t: float) -> torch.Tensor:
    """v(z, t) = (t - 1) z + 1: a field depending on both z and t, so a wrong time index shows."""
    return (t - 1.0) * z + 1.0


@exercise("06-1", answer="euler", references=("mmgp_lesson.latent_flow:euler_sample",))
def euler_sampler(sampler) -> None:
    """Exercise 06.1: ``sampler(velocity, z0, steps)`` must be Euler's method from t = 0 to t = 1.

    Compared with the package's Euler on a time-dependent linear field v(z, t) = (t - 1) z + 1, where the
    common mistakes (wrong direction, evaluating at the right end point, wrong step size) give answers
    that differ by order 1/steps ≈ 0.1; both sides are float64, so the tolerance is 1e-10.
    """
    z0 = torch.randn(16, 2, dtype=DTYPE, generator=generator(0))
    velocity, steps = _linear_field, 8
    value = call_answer(sampler, velocity, z0, steps, returns="a tensor")
    require(isinstance(value, torch.Tensor) and value.shape == z0.shape,
            f"return the end points z_1 as a tensor of the shape of z0, {tuple(z0.shape)}")
    exact = euler_sample(velocity, z0, steps)
    error = (value - exact).abs().max().item()
    if error < 1e-10:
        passed(f"your Euler sampler matches z_(k+1) = z_k + h v(z_k, k h) to {error:.1e}")
        return
    h = 1.0 / steps
    z = z0.clone()
    for k in range(steps):
        z = z + h * velocity(z, (k + 1) * h)
    if (value - z).abs().max() < 1e-10:
        raise CheckFailed("you evaluate the velocity at the end of each step, t = (k+1) h; Euler uses the start, t = k h")
    z = z0.clone()
    for k in range(steps):
        z = z - h * velocity(z, 1 - k * h)
    if (value - z).abs().max() < 1e-10:
        raise CheckFailed("you integrate from t = 1 towards t = 0: in this course noise is at t = 0 and data at t = 1, so step forward in time")
    if (value - (z0 + velocity(z0, 0.0))).abs().max() < 1e-10:
        raise CheckFailed("you took one step of size 1: take `steps` steps of size h = 1/steps")
    raise CheckFailed(f"your end points differ from Euler's by up to {error:.3g}: use h = 1/steps and z <- z + h v(z, k h) for k = 0..steps-1")


@exercise("06-2", answer="ltx_latent", references=("mmgp_lesson.ltx_shape:latent_shape",))
def ltx_latent_shape(shape_fn) -> None:
    """Exercise 06.2: ``shape_fn(frames, height, width, channels)`` must give LTX's latent shape (C, F', H', W')."""
    drawn = rng(62)
    cases = [(49, 512, 704, 128), (9, 64, 64, 8), (121, 480, 832, 128), (1, 32, 32, 4)]
    cases.append((8 * int(drawn.integers(1, 30)) + 1, 32 * int(drawn.integers(1, 40)), 32 * int(drawn.integers(1, 40)), int(drawn.choice([4, 8, 128]))))
    for frames, height, width, channels in cases:
        value = call_answer(shape_fn, frames, height, width, channels, returns="a tuple of four ints")
        value = tuple(int(v) for v in value)
        exact = latent_shape(frames, height, width, channels)
        if value == exact:
            continue
        require(len(value) == 4, f"return four numbers (C, F', H', W'); you return {len(value)}")
        if value[1] == frames // 8:
            raise CheckFailed(f"for {frames} frames you give {value[1]} latent frames: the first frame has its own latent, F' = 1 + (F - 1) / 8")
        if value[2:] in ((height // 8, width // 8), (height // 16, width // 16)):
            raise CheckFailed("the LTX VAE compresses 32 × 32 pixels into one latent position, not 8 × 8 or 16 × 16")
        if value[0] != channels:
            raise CheckFailed("the first entry is the number of latent channels, passed in as `channels`")
        raise CheckFailed(f"for {frames} frames of {height}×{width} you give {value}; expected {exact}")
    passed(f"latent shapes (C, 1 + (F-1)/8, H/32, W/32) are right for {len(cases)} clips")


@exercise("06-3", answer="frames_for", references=("mmgp_lesson.ltx_shape:frames_for",))
def frames_for_seconds(frames_fn) -> None:
    """Exercise 06.3 (and 08.1): ``frames_fn(seconds, fps)`` must give the fewest 8k+1 frames lasting ``seconds``.

    A clip of F frames lasts F / fps seconds (:mod:`mmgp_lesson.ltx_shape`). The cases include
    durations of exactly 8k + 1 frames (1 s at 25 fps, 1 s at 17 fps), where counting frame
    intervals, (F - 1) / fps, asks for 8 frames too many: that mistake gets its own feedback.
    Integers in, an integer out: the comparison is exact.
    """
    for seconds, fps in ((2, 24), (1, 25), (5, 24), (1, 17), (0.5, 30), (10, 30), (3, 8)):
        value = call_answer(frames_fn, seconds, fps, returns="an int")
        exact = frames_for(seconds, fps)
        if value == exact:
            continue
        case = f"for {seconds} s at {fps} fps ({seconds * fps:g} frames)"
        require(isinstance(value, int), f"{case} return an int, not {type(value).__name__}")
        by_intervals = 8 * math.ceil(seconds * fps / 8 - 1e-9) + 1  # the fewest 8k + 1 with (F - 1)/fps >= seconds
        if value == by_intervals:
            raise CheckFailed(
                f"{case} you return {value}: you count frame intervals, (F - 1)/fps; a clip of F frames "
                f"lasts F/fps seconds (each frame is shown 1/fps), so {exact} frames are enough"
            )
        if value == seconds * fps and not is_valid_frame_count(value):
            raise CheckFailed(f"{case} you return {value}, which is not of the form 8k + 1 (erratum 6)")
        if value % 8 == 0:
            raise CheckFailed(f"{case} you return {value}, a multiple of 8; the VAE needs one more frame, 8k + 1")
        if not is_valid_frame_count(value):
            raise CheckFailed(f"{case} you return {value}, which is not of the form 8k + 1")
        if value < seconds * fps:
            raise CheckFailed(f"{case} your {value} frames last only {value / fps:.3g} s: round the number of groups of 8 up")
        raise CheckFailed(f"{case} you return {value}; {exact} is the smallest 8k + 1 that is at least {seconds * fps:g}")
    passed("frame counts are 8k + 1 and last the requested duration (49 for 2 s at 24 fps, 25 for 1 s at 25 fps)")
