"""Checks for lesson 05: masked-token images (VQ tokens, the cosine schedule, confidence-ordered unmasking)."""

from __future__ import annotations

import math

import torch

from mmgp_lesson.checks import CheckFailed, call_answer, exercise, generator, passed, require, rng
from mmgp_lesson.checks.data import describe
from mmgp_lesson.masked_tokens import masked_counts


def _straight_through_probe(straight_through, z_e, z_q, upstream) -> dict:
    """Call the learner's estimator on leaves z_e, z_q and back-propagate ``upstream`` through it.

    Runs in the learner's process (gradients cannot cross to the grader); returns only data.
    """
    z_e, z_q = z_e.clone().requires_grad_(True), z_q.clone().requires_grad_(True)
    value = straight_through(z_e, z_q)
    if not isinstance(value, torch.Tensor):
        return value  # not a tensor (None: a forgotten return): the check names what it is
    report = {"value": value.detach(), "requires_grad": value.requires_grad, "grad_e": None, "grad_q": None}
    if value.requires_grad and value.shape == upstream.shape:
        (value * upstream).sum().backward()
        report.update(grad_e=z_e.grad, grad_q=z_q.grad)
    return report


@exercise("05-1", answer="straight_through", references=("mmgp_lesson.masked_tokens:straight_through",))
def straight_through_estimator(straight_through) -> None:
    """Exercise 05.1: ``straight_through(z_e, z_q)`` must have the value of z_q and pass the gradient to z_e.

    Exact comparisons: the estimator adds and subtracts the same float32 numbers, so the value equals
    z_q to round-off (1e-6) and the gradient into z_e is exactly the upstream gradient.
    """
    stream = generator(0)
    z_e, z_q, upstream = (torch.randn(6, 4, generator=stream) for _ in range(3))
    report = call_answer(straight_through, z_e, z_q, upstream, runner=_straight_through_probe, returns="a tensor")
    require(isinstance(report, dict), f"straight_through should return a tensor; yours returns {describe(report)}")
    value = report["value"]
    require(value.shape == z_e.shape,
            f"straight_through should return a tensor of the shape of z_e, {tuple(z_e.shape)}, not {tuple(value.shape)}")
    require((value - z_q).abs().max().item() < 1e-6,
            "the forward value must equal z_q (the decoder sees the quantised vector): z_e + sg(z_q - z_e) = z_q")
    require(report["requires_grad"], "your result carries no gradient at all: do not detach z_e, only the difference z_q - z_e")
    grad_e = torch.zeros_like(z_e) if report["grad_e"] is None else report["grad_e"]
    grad_q = report["grad_q"]
    if grad_e.abs().max() == 0:
        raise CheckFailed("the encoder gets no gradient: z_e + (z_q - z_e) needs .detach() on the difference (erratum 11)")
    require(torch.allclose(grad_e, upstream), "the gradient into z_e must be the upstream gradient unchanged (identity Jacobian)")
    require(grad_q is None or grad_q.abs().max() == 0,
            "z_q receives a gradient through your estimator: the codebook is trained by its own loss, so stop the gradient of z_q - z_e as a whole")
    passed("value z_q, gradient copied onto z_e, none into z_q")


def _float64_counts(steps: int, tokens: int) -> list[int]:
    """The clipped cosine counts with γ computed in float64 (a near miss worth naming)."""
    counts, previous = [], tokens
    for i in range(steps - 1):
        previous = max(1, min(math.floor(tokens * math.cos(math.pi / 2 * (i + 1) / steps)), previous - 1))
        counts.append(previous)
    return counts + [0]


@exercise("05-2", answer="cosine_counts", references=("mmgp_lesson.masked_tokens:masked_counts",))
def cosine_counts(counts_fn) -> None:
    """Exercise 05.2: ``counts_fn(steps, tokens)`` must give the masked counts of the cosine schedule.

    Exact integer comparison with :func:`mmgp_lesson.masked_tokens.masked_counts` for four fixed
    (T, L) and two drawn at grading time.
    """
    drawn = rng(6)
    cases = [(12, 256), (12, 16), (8, 64), (3, 16)] + [(int(drawn.integers(2, 17)), int(drawn.choice([16, 64, 256]))) for _ in range(2)]
    for steps, tokens in cases:
        value = call_answer(counts_fn, steps, tokens, returns="a list of ints")
        try:
            value = [int(v) for v in value]
        except (TypeError, ValueError):
            raise CheckFailed(f"return a list of {steps} integers, one per step") from None
        exact = masked_counts(steps, tokens)
        require(len(value) == steps, f"for T = {steps} you return {len(value)} counts; there should be one per step, {steps}")
        if value == exact:
            continue
        linear = [math.floor(tokens * (1 - (i + 1) / steps)) for i in range(steps)]
        shifted = [math.floor(tokens * math.cos(math.pi / 2 * i / steps)) for i in range(steps)]
        if value == linear:
            raise CheckFailed("these are the counts of the linear schedule 1 - r; use γ(r) = cos(π r / 2)")
        if value[:2] == shifted[:2]:
            raise CheckFailed("off by one step: after step i (counting from 0) a fraction r = (i + 1) / T is done")
        if value == _float64_counts(steps, tokens):
            raise CheckFailed(f"for T = {steps}, L = {tokens} your counts differ from the scheduler's where float32 rounds cos down (e.g. cos(π/3) = 0.49999997): compute γ in float32")
        if value[-1] != 0:
            raise CheckFailed("the last step must leave no token masked (n_{T-1} = 0)")
        if any(b >= a for a, b in zip([tokens] + value[:-1], value)):
            raise CheckFailed(f"for T = {steps}, L = {tokens} some step commits no token: clip n_i to at most n_(i-1) - 1 (and at least 1 before the last step)")
        raise CheckFailed(f"for T = {steps}, L = {tokens} you give {value}, expected {exact}: use floor(L · cos(π (i+1) / (2T))) in float32")
    passed(f"the masked counts match the cosine schedule (and AmusedScheduler) for {len(cases)} (T, L) pairs")


@exercise("05-3", answer="remask")
def remask(remask_fn) -> None:
    """Exercise 05.3: ``remask_fn(confidence, masked, count)`` returns the boolean mask after one step.

    The ``count`` least confident positions among those still masked are masked again; committed tokens
    (``masked`` False) never are. Exact comparison on random confidences without ties.
    """
    stream = generator(5)
    confidence = torch.randn(8, 16, generator=stream)
    masked = torch.rand(8, 16, generator=stream) < 0.7
    masked[:, :12] = True  # at least 12 masked per row
    masked[:, 12:] = False  # the last 4 positions are committed
    confidence[:, 12:] = -10.0  # committed tokens have low raw confidence: they must still not be re-masked
    count = 5
    value = call_answer(remask_fn, confidence, masked, count, returns="a boolean tensor")
    require(isinstance(value, torch.Tensor) and value.shape == masked.shape and value.dtype == torch.bool,
            f"return a boolean tensor of shape {tuple(masked.shape)} (True = masked after this step)")
    per_row = value.sum(1)
    require(bool((per_row == count).all()), f"each row must keep exactly count = {count} tokens masked; yours keep {per_row.tolist()}")
    if value[:, 12:].any():
        raise CheckFailed("you re-masked committed tokens: give positions that are not masked confidence +inf before choosing")
    expected = torch.zeros_like(masked)
    rank = torch.where(masked, confidence, torch.full_like(confidence, math.inf)).argsort(1)[:, :count]
    expected.scatter_(1, rank, True)
    if torch.equal(value, expected):
        passed("the least confident masked positions are masked again, committed tokens stay")
        return
    highest = torch.where(masked, confidence, torch.full_like(confidence, -math.inf)).argsort(1, descending=True)[:, :count]
    if torch.equal(value, torch.zeros_like(masked).scatter_(1, highest, True)):
        raise CheckFailed("you re-masked the MOST confident tokens: keep those, mask again the least confident ones")
    raise CheckFailed("your positions are not the least confident masked ones: sort the confidences (committed ones as +inf) and take the lowest count")
