"""Every output file of ``mmgp-lesson demo`` is a function of the input and the seed alone, across processes.

Byte identity inside one process proves little: the MP4 encoder's output once depended on heap memory
left by the models that ran before it (see ``media._x264_instruction_sets``), which differs from
one process to the next but not between two writes in one process. So the same command runs in
separate processes and every file must have one hash; only ``timings.json`` (a measurement) may
differ. Three processes are enough: with x264's AVX-512 kernels back on (the bug this guards),
every process writes its own ``video.mp4`` (3 hashes from 3 processes, 5 from 5), so two already
disagree. Each process runs the whole tiny demo, imports included, so more would only slow the
suite.
"""

import hashlib
import subprocess
import sys

PROCESSES = 3


def test_the_same_command_writes_the_same_bytes_in_every_process(tmp_path):
    out = tmp_path / "demo"
    command = [sys.executable, "-m", "mmgp_lesson.cli", "demo", "--mode", "tiny", "--out", str(out)]
    hashes: dict[str, set[str]] = {}
    for _ in range(PROCESSES):
        completed = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert completed.returncode == 0, completed.stderr
        for path in out.iterdir():
            hashes.setdefault(path.name, set()).add(hashlib.sha256(path.read_bytes()).hexdigest())
    measured = {"timings.json"}
    assert {"caption.txt", "image.png", "video.mp4", "preview.gif", "manifest.json", "sample.mp4"} <= set(hashes)
    varying = {name: len(digests) for name, digests in hashes.items() if len(digests) > 1 and name not in measured}
    assert not varying, f"files with more than one hash over {PROCESSES} processes: {varying}"
