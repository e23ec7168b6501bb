"""Benchmark the batched integrators of ``mmgp_lesson.sde`` against hand-vectorised NumPy and a Python loop.

Each integrator moves ``--particles`` particles (default 100,000) for ``--steps`` steps (default 1,000) in
2-D on the double well E(x) = (x₁² - 1)² + x₂²/2: Euler and Heun on the gradient flow dx/dt = -∇E,
Euler–Maruyama on the Langevin SDE, ULA and MALA with step 0.01; and Euler–Maruyama on the Langevin SDE
of a 2-D three-component Gaussian mixture (``score`` of :class:`~mmgp_lesson.toys.GaussianMixture`), the
row with the goal: the package within 1.5x of hand-vectorised NumPy.

Baselines do the same evaluations per step as the package: MALA keeps the energy and gradient of the
current point and evaluates both once per proposal. The NumPy baseline is the same updates written
directly on arrays; the package and NumPy run ``--repeats`` times interleaved after a warm-up
(``benchmarks/timing.py``), reported as min / median / max with the ratio's range, and "within noise"
where the ranges overlap. The pure-Python loop runs once on ``--baseline-particles`` particles,
extrapolated linearly (its cost is exactly proportional to the number of particles).

Usage: python benchmarks/bench_integrators.py [--particles N] [--steps S] [--repeats R] [--baseline-particles M] [--threads T]
Prints a table and writes JSON to benchmarks/results/integrators.json.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

from mmgp_lesson.sde import euler, euler_maruyama, heun, mala, time_grid, ula
from mmgp_lesson.toys import DTYPE, DoubleWell, GaussianMixture

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/timing.py, beside this script
from timing import interleaved, ratio, spread  # noqa: E402

STEP = 0.01
WELL = DoubleWell(barrier=1.0, dim=2)
MIXTURE = GaussianMixture([0.5, 0.3, 0.2], [[-2.0, 0.0], [2.0, 0.5], [0.0, 2.5]],
                          [[[0.5, 0.1], [0.1, 0.3]], [[0.4, 0.0], [0.0, 0.4]], [[0.3, -0.1], [-0.1, 0.6]]])
GOAL = 1.5
"""The issue's goal: Euler–Maruyama on the mixture score within 1.5x of hand-vectorised NumPy."""
RESULTS = Path(__file__).resolve().parent / "results" / "integrators.json"


def _grad(x1: float, x2: float) -> tuple[float, float]:
    return 4 * x1 * (x1 * x1 - 1), x2


def _energy(x1: float, x2: float) -> float:
    return (x1 * x1 - 1) ** 2 + 0.5 * x2 * x2


def _loop_particle(name: str, x1: float, x2: float, steps: int, rng: random.Random) -> tuple[float, float]:
    """One particle, one step at a time, in plain Python: the baseline."""
    h, noise = STEP, math.sqrt(2 * STEP)
    energy_x, cached = _energy(x1, x2), _grad(x1, x2)
    for _ in range(steps):
        g1, g2 = cached if name == "mala" else _grad(x1, x2)
        if name == "euler":
            x1, x2 = x1 - h * g1, x2 - h * g2
        elif name == "heun":
            p1, p2 = x1 - h * g1, x2 - h * g2
            q1, q2 = _grad(p1, p2)
            x1, x2 = x1 - 0.5 * h * (g1 + q1), x2 - 0.5 * h * (g2 + q2)
        elif name in ("euler_maruyama", "ula"):
            x1, x2 = x1 - h * g1 + noise * rng.gauss(0, 1), x2 - h * g2 + noise * rng.gauss(0, 1)
        else:  # mala: the energy and gradient of the current point are kept, as sde.mala keeps them
            y1, y2 = x1 - h * g1 + noise * rng.gauss(0, 1), x2 - h * g2 + noise * rng.gauss(0, 1)
            energy_y, (r1, r2) = _energy(y1, y2), _grad(y1, y2)
            forward = (y1 - x1 + h * g1) ** 2 + (y2 - x2 + h * g2) ** 2
            backward = (x1 - y1 + h * r1) ** 2 + (x2 - y2 + h * r2) ** 2
            if math.log(rng.random()) < energy_x - energy_y + (forward - backward) / (4 * h):
                x1, x2, energy_x, cached = y1, y2, energy_y, (r1, r2)
    return x1, x2


def _batched(name: str, x: torch.Tensor, steps: int, generator: torch.Generator) -> tuple[torch.Tensor, float | None]:
    flow = lambda y, t: -WELL.grad_energy(y)
    score = lambda y: -WELL.grad_energy(y)
    if name == "euler":
        return euler(flow, x, time_grid(0.0, steps * STEP, steps)), None
    if name == "heun":
        return heun(flow, x, time_grid(0.0, steps * STEP, steps)), None
    if name == "euler_maruyama":
        return euler_maruyama(flow, lambda t: math.sqrt(2), x, time_grid(0.0, steps * STEP, steps), generator), None
    if name == "ula":
        return ula(score, x, STEP, steps, generator), None
    if name == "mixture_em":
        return euler_maruyama(lambda y, t: MIXTURE.score(y), lambda t: math.sqrt(2), x, time_grid(0.0, steps * STEP, steps), generator), None
    return mala(lambda y: -WELL.energy(y), score, x, STEP, steps, generator)


def _grad_np(x: np.ndarray) -> np.ndarray:
    return np.stack([4 * x[:, 0] * (x[:, 0] ** 2 - 1), x[:, 1]], axis=1)


def _energy_np(x: np.ndarray) -> np.ndarray:
    return (x[:, 0] ** 2 - 1) ** 2 + 0.5 * x[:, 1] ** 2


_MEANS, _WEIGHTS = MIXTURE.means.numpy(), MIXTURE.weights.numpy()
_PRECISIONS = np.linalg.inv(MIXTURE.covariances.numpy())
_LOG_NORMS = np.log(_WEIGHTS) - 0.5 * np.log(np.linalg.det(MIXTURE.covariances.numpy())) - np.log(2 * np.pi)


def _mixture_score_np(x: np.ndarray) -> np.ndarray:
    """∇ log p(x) of the mixture: Σ_k r_k(x) Σ_k⁻¹ (μ_k − x), with the responsibilities r_k by a stable softmax."""
    diff = _MEANS[None] - x[:, None, :]  # (N, K, 2)
    pulled = np.einsum("kij,nkj->nki", _PRECISIONS, diff)  # Σ_k⁻¹ (μ_k − x)
    logits = _LOG_NORMS - 0.5 * np.einsum("nki,nki->nk", diff, pulled)
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    weights /= weights.sum(axis=1, keepdims=True)
    return np.einsum("nk,nki->ni", weights, pulled)


def _numpy(name: str, x: np.ndarray, steps: int, rng: np.random.Generator) -> np.ndarray:
    """The same updates as the package, hand-vectorised on NumPy arrays (the same evaluations per step)."""
    h, noise = STEP, math.sqrt(2 * STEP)
    if name == "mala":
        energy, grad = _energy_np(x), _grad_np(x)
    for _ in range(steps):
        if name == "euler":
            x = x - h * _grad_np(x)
        elif name == "heun":
            g = _grad_np(x)
            x = x - 0.5 * h * (g + _grad_np(x - h * g))
        elif name in ("euler_maruyama", "ula"):
            x = x - h * _grad_np(x) + noise * rng.standard_normal(x.shape)
        elif name == "mixture_em":
            x = x + h * _mixture_score_np(x) + noise * rng.standard_normal(x.shape)
        else:  # mala
            y = x - h * grad + noise * rng.standard_normal(x.shape)
            energy_y, grad_y = _energy_np(y), _grad_np(y)
            forward = ((y - x + h * grad) ** 2).sum(1)
            backward = ((x - y + h * grad_y) ** 2).sum(1)
            accept = np.log(rng.random(len(x))) < energy - energy_y + (forward - backward) / (4 * h)
            x = np.where(accept[:, None], y, x)
            energy, grad = np.where(accept, energy_y, energy), np.where(accept[:, None], grad_y, grad)
    return x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--particles", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=1_000)
    parser.add_argument("--baseline-particles", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each side, interleaved, after one warm-up")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads; 1 by default: on a busy 2-core machine two threads spin-wait on each other "
                             "and each elementwise op on 200,000 numbers gets tens of times slower")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    rows = []
    for name in ("euler", "heun", "euler_maruyama", "ula", "mala", "mixture_em"):
        start = torch.randn(args.particles, 2, dtype=DTYPE, generator=torch.Generator().manual_seed(0))
        start_np = start.numpy().copy()
        ends = {}

        def package():
            ends["package"] = _batched(name, start, args.steps, torch.Generator().manual_seed(1))[0]

        def hand_numpy():
            ends["numpy"] = _numpy(name, start_np, args.steps, np.random.default_rng(1))

        seconds = interleaved({"package": package, "numpy": hand_numpy}, repeats=args.repeats, warmup=1)
        assert torch.isfinite(ends["package"]).all() and np.isfinite(ends["numpy"]).all(), f"{name}: non-finite particles"
        row = {"integrator": name, "package_s": spread(seconds["package"]), "numpy_s": spread(seconds["numpy"]),
               "package_over_numpy": ratio(seconds["package"], seconds["numpy"]),
               # sanity: 1 for the Langevin samplers of the well, → 0 for its gradient flow; the two sides agree in law
               "x2_variance": {"package": ends["package"][:, 1].var().item(), "numpy": float(ends["numpy"][:, 1].var())}}
        if name != "mixture_em":
            rng = random.Random(0)
            subset = start[: args.baseline_particles].tolist()
            began = time.perf_counter()
            for x1, x2 in subset:
                _loop_particle(name, x1, x2, args.steps, rng)
            row["python_loop_s_extrapolated"] = (time.perf_counter() - began) * args.particles / len(subset)
        else:
            row["goal"] = f"package within {GOAL}x of NumPy: " + ("met" if row["package_over_numpy"]["median"] <= GOAL else "NOT met")
        rows.append(row)

    print(f"{args.particles:,} particles × {args.steps:,} steps in 2-D, float64, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; {args.repeats} interleaved runs after a warm-up; "
          f"Python loop: {args.baseline_particles} particles, extrapolated, one run")
    print("| integrator | package s (min / med / max) | NumPy s (min / med / max) | package / NumPy (range) | Python loop s | x₂ var (pkg, np) |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        p, n, r = row["package_s"], row["numpy_s"], row["package_over_numpy"]
        noise = " within noise" if r["within_noise"] else ""
        loop = f"{row['python_loop_s_extrapolated']:.0f}" if "python_loop_s_extrapolated" in row else row["goal"]
        print(f"| {row['integrator']} | {p['min']:.2f} / {p['median']:.2f} / {p['max']:.2f} | {n['min']:.2f} / {n['median']:.2f} / {n['max']:.2f} "
              f"| {r['median']:.2f}x ({r['low']:.2f}–{r['high']:.2f}){noise} | {loop} | "
              f"{row['x2_variance']['package']:.3f}, {row['x2_variance']['numpy']:.3f} |")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({
        "particles": args.particles, "steps": args.steps, "dimension": 2, "dtype": "float64", "step_size": STEP,
        "baseline_particles": args.baseline_particles, "repeats": args.repeats, "goal": GOAL, "torch": torch.__version__, "threads": torch.get_num_threads(),
        "python": platform.python_version(), "machine": platform.machine(), "results": rows,
    }, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
