"""The capstone benchmark: its structure on the quick tiny setting (no wall time asserted) and its measuring parts.

The quick run (``--quick --no-memory --repeats 5``: every case but the torch.compile variant, timings only) takes
seconds; the children that measure memory (each imports torch and the libraries, about 5 s, and builds its case)
run for one case only (``--case video``), which is enough to see one fresh process per variant.
"""

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest
import torch

from mmgp_lesson.capstone.image import ImageStage
from mmgp_lesson.capstone.models import build_ltx, build_smolvlm
from mmgp_lesson.capstone.pipeline import STAGE_DTYPES

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_capstone.py"
REPEATS = 5


def load_benchmark():
    spec = importlib.util.spec_from_file_location("bench_capstone", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    return load_benchmark()


def run_benchmark(bench, folder: Path, *options: str) -> tuple[Path, dict]:
    out = folder / "capstone.json"
    assert bench.main(["--quick", "--repeats", str(REPEATS), *options, "--out", str(out)]) == 0
    return out, json.loads(out.read_text())


@pytest.fixture(scope="module")
def quick_run(bench, tmp_path_factory):
    return run_benchmark(bench, tmp_path_factory.mktemp("results"), "--no-memory")


def test_the_quick_run_writes_only_its_json_with_every_case(quick_run, bench):
    out, results = quick_run
    assert os.listdir(out.parent) == [out.name]  # the sample clip and everything else went to a temporary folder
    assert {"machine", "versions", "repeats", "rows", "real_size_steps"} <= set(results) and results["real_size_steps"] == []
    rows = results["rows"]
    assert {entry["stage"] for entry in rows} == set(bench.CASES)
    assert not any("torch.compile" in entry["variant"] for entry in rows)  # --quick
    for entry in rows:
        seconds = entry["seconds"]
        assert entry["calls"] == REPEATS and 0 < seconds["min"] <= seconds["median"] <= seconds["max"], entry


def test_every_ratio_has_its_range_and_within_noise_says_whether_the_ranges_overlap(quick_run):
    rows = quick_run[1]["rows"]
    direct = {}
    for entry in rows:
        if entry["ratio"] is None:
            direct[entry["stage"]] = entry["seconds"]
            continue
        r, mine, theirs = entry["ratio"], entry["seconds"], direct[entry["stage"]]
        assert r["low"] <= r["median"] <= r["high"], entry
        assert r["low"] == pytest.approx(mine["min"] / theirs["max"]) and r["high"] == pytest.approx(mine["max"] / theirs["min"])
        assert r["within_noise"] == (mine["min"] <= theirs["max"] and theirs["min"] <= mine["max"]), entry
    assert set(direct) == {"understand", "image", "video", "pipeline"}  # each case's first row is its direct call


def test_no_memory_leaves_the_memory_column_empty(quick_run, bench):
    rows = quick_run[1]["rows"]
    assert all(entry["memory"] is None for entry in rows)
    assert all(line.endswith("| - |") for line in bench.case_table(rows)[2:])


def test_memory_is_measured_in_a_fresh_child_per_variant_of_the_chosen_case(bench, tmp_path):
    rows = run_benchmark(bench, tmp_path, "--case", "video")[1]["rows"]
    assert {entry["stage"] for entry in rows} == {"video"} and len(rows) >= 2
    pids = [entry["memory"]["pid"] for entry in rows]
    assert os.getpid() not in pids and len(set(pids)) == len(rows)
    assert all(entry["memory"]["peak_mb"] > 0 for entry in rows)


def test_the_peak_probe_sees_exactly_an_allocation_and_resets_between_measurements(bench):
    probe = bench.Peak("cpu")
    probe.start()
    block = torch.ones(16 * 2**20)  # 64 MiB of float32, touched, so resident; above glibc's largest mmap threshold
    allocated = probe.stop()
    del block
    probe.start()
    nothing = probe.stop()
    # The kernel's high-water mark counts pages: the block is 64 MiB; torch's header and a few page-table
    # pages add well under one MiB.
    assert 64 <= allocated < 65
    assert nothing < 1  # the mark was reset at start(): the freed block is not counted again


def test_the_stopwatch_times_and_measures_each_call_of_a_watched_module(bench):
    clock = bench.Stopwatch("cpu")
    layer = torch.nn.Linear(4, 4)
    model = torch.nn.Sequential(layer, torch.nn.ReLU())
    clock.watch("model", model)
    clock.watch("layer", layer, nested=True)
    clock.memory = True
    model(torch.ones(1, 4))
    clock.memory = False
    model(torch.ones(1, 4))
    assert len(clock.seconds["model"]) == len(clock.seconds["layer"]) == 2
    assert all(seconds > 0 for values in clock.seconds.values() for seconds in values)
    assert len(clock.peaks["model"]) == 1  # memory only while asked for, and never in a nested module
    assert "layer" not in clock.peaks
    assert clock.outer_seconds() == pytest.approx(sum(clock.seconds["model"]))  # the nested layer is not counted twice
    clock.clear()
    assert not clock.seconds


def test_cuda_settings_map_to_real_modes_dtypes_without_a_gpu(bench):
    """The --device cuda path's casting, run on CPU tensors: the dtypes are the real mode's, the VQ-GAN stays float32."""
    cuda = bench.Setting("published", "cuda")
    assert {stage: cuda.dtype(stage) for stage in ("understand", "image", "video")} == STAGE_DTYPES["cuda"]
    assert STAGE_DTYPES["cuda"] == {"understand": torch.bfloat16, "image": torch.float16, "video": torch.bfloat16}
    assert bench.Setting("tiny", "cpu").dtype("image") == torch.float32
    pipe = bench.place_amused(ImageStage.tiny().pipe, cuda)
    assert {name: next(getattr(pipe, name).parameters()).dtype for name in ("transformer", "text_encoder", "vqvae")} == {
        "transformer": torch.float16, "text_encoder": torch.float16, "vqvae": torch.float32}
    model = bench.place_smolvlm(build_smolvlm("tiny"), cuda)[0]
    assert {parameter.dtype for parameter in model.parameters()} == {torch.bfloat16}
    ltx = bench.place_ltx(build_ltx("tiny"), cuda)
    assert {parameter.dtype for part in (ltx.transformer, ltx.vae, ltx.text_encoder) for parameter in part.parameters()} == {torch.bfloat16}
    def run():
        return 1

    assert bench.synced(run, "cpu") is run and bench.synced(run, "cuda") is not run


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is visible: --device cuda would run")
def test_device_cuda_is_refused_in_one_line_where_no_gpu_is_visible(bench, tmp_path, capsys):
    out = tmp_path / "capstone.json"
    assert bench.main(["--device", "cuda", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no CUDA GPU is visible" in err[0] and not out.exists()


def test_fewer_than_five_repeats_are_refused(bench):
    with pytest.raises(SystemExit):
        bench.main(["--repeats", "4"])
