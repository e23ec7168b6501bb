"""Every output file of ``mmgp-lesson demo`` is a function of the input and the seed alone, across processes.

Byte identity inside one process proves little: the MP4 encoder's output once depended on heap memory
left by the models that ran before it (see ``media._x264_instruction_sets``), which differs from
one process to the next but not between two writes in one process. So the same command runs in
ten separate processes and every file must have one hash; only ``timings.json`` (a measurement)
may differ. The processes run side by side, one per core, each in a folder of its own under the same
relative ``--out`` (so the recorded paths and command line are the same words).
"""

import hashlib
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

PROCESSES = 10


def test_the_same_command_writes_the_same_bytes_in_every_process(tmp_path):
    command = [sys.executable, "-m", "mmgp_lesson.cli", "demo", "--mode", "tiny", "--out", "demo", "--quiet"]
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}

    def run_once(index: int) -> dict[str, str]:
        folder = tmp_path / f"process-{index}"
        folder.mkdir()
        completed = subprocess.run(command, cwd=folder, env=environment, capture_output=True, text=True, timeout=600)
        assert completed.returncode == 0, completed.stderr
        return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in (folder / "demo").iterdir()}

    hashes: dict[str, set[str]] = {}
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        for digests in pool.map(run_once, range(PROCESSES)):
            for name, digest in digests.items():
                hashes.setdefault(name, set()).add(digest)
    measured = {"timings.json"}
    assert {"caption.txt", "image.png", "video.mp4", "preview.gif", "manifest.json", "sample.mp4"} <= set(hashes)
    varying = {name: len(digests) for name, digests in hashes.items() if len(digests) > 1 and name not in measured}
    assert not varying, f"files with more than one hash over {PROCESSES} processes: {varying}"
