"""Checks for lesson 10: inference-time scaling."""

from __future__ import annotations

import numpy as np
from scipy import special

from mmgp_lesson.checks import CheckFailed, answer_number, call_answer, exercise, passed, require, rng
from mmgp_lesson.scaling import beta_failure as _beta_failure
from mmgp_lesson.scaling import compute_optimal_k as _optimal


@exercise("10-1", answer="best_of_n_success")
def best_of_n_success(success) -> None:
    """Exercise 10.1: the share of rounds whose top-scored candidate is correct.

    A share of 500 rounds is a multiple of 1/500: compared to 1e-12.
    """
    r = rng(0)
    correct = r.random((500, 6)) < 0.3
    scores = correct + r.standard_normal((500, 6))
    value = answer_number(success, scores, correct)
    rows = np.arange(500)
    exact = correct[rows, scores.argmax(1)].mean()
    if abs(value - exact) < 1e-12:
        passed(f"best-of-6 success {value:.3f} with a noisy verifier")
        return
    wrong = {
        correct[rows, scores.argmin(1)].mean(): "you kept the lowest score: best-of-N keeps the candidate the verifier scores highest",
        correct.any(1).mean(): "you counted rounds where any candidate is correct: that is a perfect verifier; use the scores to pick one",
        correct.mean(): "you averaged all candidates: keep only the top-scored one in each round",
    }
    for candidate, feedback in wrong.items():
        if abs(value - candidate) < 1e-12:
            raise CheckFailed(feedback)
    raise CheckFailed(f"your share is {value:.4f}, not {exact:.4f}: per round take argmax of scores, then look up correct")


@exercise("10-2", answer="beta_failure", references=("mmgp_lesson.scaling:beta_failure",))
def beta_failure(failure) -> None:
    """Exercise 10.2: E(1 - p)^N = B(a, b + N) / B(a, b), compared to 1e-9 relative (float64 special functions)."""
    r = rng(1)
    a, b = float(r.uniform(0.3, 2.0)), float(r.uniform(1.0, 5.0))
    n = np.array([1, 4, 16, 64, 256, 1024, 4096])
    value = np.asarray(call_answer(failure, a, b, n, returns="an array, one failure rate per n"), dtype=np.float64)
    exact = _beta_failure(a, b, n)
    if value.shape != exact.shape:
        raise CheckFailed(f"return one value per entry of n: shape {exact.shape}, not {value.shape}")
    if np.allclose(value, exact, rtol=1e-9, atol=0):
        slope = np.polyfit(np.log(n[3:]), np.log(value[3:]), 1)[0]
        passed(f"the failure rate is right; its log-log slope {slope:.2f} approaches -a = {-a:.2f}")
        return
    wrong = {
        "mean": ((1 - a / (a + b)) ** n, "you used the mean success rate a/(a+b) for every problem: that gives exponential decay, average (1 - p)^N over the Beta law instead"),
        "p^n": (np.exp(special.betaln(a + n, b) - special.betaln(a, b)), "that is E p^N, the chance all draws succeed: failure is (1 - p)^N, which shifts b, B(a, b + N)"),
        "unnormalised": (np.exp(special.betaln(a, b + n)), "divide by B(a, b): the Beta density is p^(a-1)(1-p)^(b-1) / B(a, b)"),
    }
    for candidate, feedback in wrong.values():
        if np.allclose(value, candidate, rtol=1e-9, atol=0):
            raise CheckFailed(feedback)
    raise CheckFailed("your failure rates differ from B(a, b + N) / B(a, b)")


@exercise("10-3", answer="compute_optimal_k", references=("mmgp_lesson.scaling:compute_optimal_k",))
def compute_optimal_k(optimal) -> None:
    """Exercise 10.3: K* = (A γ / (λ c))^(1/(γ+1)), compared to 1e-10 relative, and checked to maximise the net gain."""
    r = rng(2)
    amplitude, gamma, price, cost = float(r.uniform(0.5, 2)), float(r.uniform(0.2, 1.0)), float(r.uniform(1e-4, 1e-2)), float(r.uniform(0.5, 3))
    value = answer_number(optimal, amplitude, gamma, price, cost)
    exact = _optimal(amplitude, gamma, price, cost)
    if abs(value - exact) <= 1e-10 * exact:
        net = [-amplitude * k ** (-gamma) - price * cost * k for k in (0.9 * value, value, 1.1 * value)]
        require(net[1] > max(net[0], net[2]), "your K* does not maximise the net gain")
        passed(f"K* = {value:.1f}: the net gain there beats both 0.9 K* and 1.1 K*")
        return
    ratio = amplitude * gamma / (price * cost)
    wrong = {
        ratio ** (1 / gamma): "the exponent is 1/(γ + 1): from A γ K^(-γ-1) = λ c",
        (amplitude / (price * cost)) ** (1 / (gamma + 1)): "the derivative of -A K^(-γ) brings down a factor γ: K* = (A γ / (λ c))^(1/(γ+1))",
        (amplitude * gamma / price) ** (1 / (gamma + 1)): "include the cost per sample c: the price of K samples is λ c K",
        ratio: "take the 1/(γ + 1) power: A γ K^(-γ-1) = λ c solves for K^(γ+1), not K",
    }
    for candidate, feedback in wrong.items():
        if abs(value - candidate) <= 1e-10 * abs(candidate):
            raise CheckFailed(feedback)
    raise CheckFailed(f"your K is {value:.4g}, not {exact:.4g}: set d/dK [Q∞ - A K^(-γ) - λ c K] = 0")
