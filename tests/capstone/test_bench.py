"""The benchmark's measuring helpers: the memory probe sees an allocation, ratios divide by the direct call."""

import importlib.util
from pathlib import Path

import torch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_capstone.py"


def load_benchmark():
    spec = importlib.util.spec_from_file_location("bench_capstone", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_measure_sees_a_200_mb_allocation_and_rows_give_ratios():
    bench = load_benchmark()

    def allocate():
        block = torch.ones(50 * 2**20)  # 200 MiB of float32, touched so it is resident
        return float(block[-1])

    result = bench.measure(allocate, repeats=2, device="cpu")
    assert result["calls"] == 2 and result["seconds"] > 0
    # The sampler runs every millisecond; filling 200 MiB takes longer than that, so it must see most of it.
    assert result["peak_mb"] > 150
    direct = {"seconds": 2.0, "peak_mb": 0.0, "calls": 1}
    entry = bench.row("tiny", "cpu", "image", "stage", {"seconds": 3.0, "peak_mb": 1.0, "calls": 1}, direct)
    assert entry["ratio"] == 1.5 and "1.50x" in bench.format_row(entry)
