"""Benchmark the batched integrators of ``mmgp_lesson.sde`` against a plain Python loop over particles.

Each integrator moves ``--particles`` particles (default 100,000) for ``--steps`` steps (default 1,000) in
2-D on the double well E(x) = (x₁² - 1)² + x₂²/2: Euler and Heun on the gradient flow dx/dt = -∇E,
Euler–Maruyama on the Langevin SDE, ULA and MALA with step 0.01. The baseline runs the same updates one
particle at a time in pure Python (floats and ``random``) on ``--baseline-particles`` particles and is
extrapolated linearly to the full batch: its cost is exactly proportional to the number of particles.

Usage: python benchmarks/bench_integrators.py [--particles N] [--steps S] [--baseline-particles M] [--threads T]
Prints a table and writes JSON to benchmarks/results/integrators.json.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import time
from pathlib import Path

import torch

from mmgp_lesson.sde import euler, euler_maruyama, heun, mala, time_grid, ula
from mmgp_lesson.toys import DTYPE, DoubleWell

STEP = 0.01
WELL = DoubleWell(barrier=1.0, dim=2)
RESULTS = Path(__file__).resolve().parent / "results" / "integrators.json"


def _grad(x1: float, x2: float) -> tuple[float, float]:
    return 4 * x1 * (x1 * x1 - 1), x2


def _energy(x1: float, x2: float) -> float:
    return (x1 * x1 - 1) ** 2 + 0.5 * x2 * x2


def _loop_particle(name: str, x1: float, x2: float, steps: int, rng: random.Random) -> tuple[float, float]:
    """One particle, one step at a time, in plain Python: the baseline."""
    h, noise = STEP, math.sqrt(2 * STEP)
    for _ in range(steps):
        g1, g2 = _grad(x1, x2)
        if name == "euler":
            x1, x2 = x1 - h * g1, x2 - h * g2
        elif name == "heun":
            p1, p2 = x1 - h * g1, x2 - h * g2
            q1, q2 = _grad(p1, p2)
            x1, x2 = x1 - 0.5 * h * (g1 + q1), x2 - 0.5 * h * (g2 + q2)
        elif name in ("euler_maruyama", "ula"):
            x1, x2 = x1 - h * g1 + noise * rng.gauss(0, 1), x2 - h * g2 + noise * rng.gauss(0, 1)
        else:  # mala
            y1, y2 = x1 - h * g1 + noise * rng.gauss(0, 1), x2 - h * g2 + noise * rng.gauss(0, 1)
            r1, r2 = _grad(y1, y2)
            forward = (y1 - x1 + h * g1) ** 2 + (y2 - x2 + h * g2) ** 2
            backward = (x1 - y1 + h * r1) ** 2 + (x2 - y2 + h * r2) ** 2
            if math.log(rng.random()) < _energy(x1, x2) - _energy(y1, y2) + (forward - backward) / (4 * h):
                x1, x2 = y1, y2
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
    return mala(lambda y: -WELL.energy(y), score, x, STEP, steps, generator)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--particles", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=1_000)
    parser.add_argument("--baseline-particles", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads; 1 by default: on a busy 2-core machine two threads spin-wait on each other "
                             "and each elementwise op on 200,000 numbers gets tens of times slower")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    rows = []
    for name in ("euler", "heun", "euler_maruyama", "ula", "mala"):
        generator = torch.Generator().manual_seed(0)
        start = torch.randn(args.particles, 2, dtype=DTYPE, generator=generator)
        began = time.perf_counter()
        end, acceptance = _batched(name, start, args.steps, generator)
        batched_seconds = time.perf_counter() - began
        assert torch.isfinite(end).all(), f"{name} produced non-finite particles"

        rng = random.Random(0)
        subset = start[: args.baseline_particles].tolist()
        began = time.perf_counter()
        for x1, x2 in subset:
            _loop_particle(name, x1, x2, args.steps, rng)
        loop_seconds = (time.perf_counter() - began) * args.particles / len(subset)
        rows.append({
            "integrator": name,
            "batched_seconds": batched_seconds,
            "python_loop_seconds_extrapolated": loop_seconds,
            "speedup": loop_seconds / batched_seconds,
            "particle_steps_per_second": args.particles * args.steps / batched_seconds,
            "mala_acceptance": acceptance,
            "x2_variance": end[:, 1].var().item(),  # sanity: 1 for the Langevin samplers, → 0 for the gradient flow
        })

    header = f"{'integrator':<16}{'batched (s)':>12}{'Python loop (s, extrap.)':>26}{'speedup':>9}{'x₂ variance':>13}"
    print(f"{args.particles:,} particles × {args.steps:,} steps in 2-D, float64, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; baseline: {args.baseline_particles} particles in pure Python, extrapolated")
    print(header)
    for row in rows:
        print(f"{row['integrator']:<16}{row['batched_seconds']:>12.2f}{row['python_loop_seconds_extrapolated']:>26.0f}"
              f"{row['speedup']:>8.0f}×{row['x2_variance']:>13.3f}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({
        "particles": args.particles, "steps": args.steps, "dimension": 2, "dtype": "float64", "step_size": STEP,
        "baseline_particles": args.baseline_particles, "torch": torch.__version__, "threads": torch.get_num_threads(),
        "python": platform.python_version(), "machine": platform.machine(), "results": rows,
    }, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
