"""Hand-ins written to fake a pass or to harm the grader's machine: each gets a failed row (or a
one-line error) that names what happened, the other exercises are still graded, and the solution
still passes. The attacks are run in the shared sandboxed worker, as a batch run would."""

import os
import random
import socket
import subprocess
import time

from pathlib import Path

import pytest

from mmgp_lesson.grading import Limits, grade
from mmgp_lesson.grading.sandbox import _python_roots
from tests.conftest import ROOT
from tests.grading.conftest import cell, hand_in, replace_answer, rows_of

WRONG = "def log_prob(mixture, x):\n    return x[:, 0]\n"  # a wrong answer the attacks try to pass off


def _wrong_with(attack: str):
    return replace_answer("exercise-00-1", WRONG + attack)


@pytest.mark.parametrize("attack", [
    # the check runs in the kernel today: silence its errors
    "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)",
    # keep the grader from re-importing a clean check module, then replace the check
    "import importlib, sys\nimportlib.reload = lambda module: module\n"
    "sys.modules['mmgp_lesson.checks.lesson00'].mixture_log_prob = lambda answer: print('passed: trust me')",
    # make the reference agree with the wrong answer
    "from mmgp_lesson.toys import GaussianMixture\nGaussianMixture.log_prob = lambda self, x: x[:, 0]",
    # make every comparison say "equal"
    "import torch\ntorch.Tensor.__sub__ = lambda a, b: torch.zeros(a.shape)",
    # print the grader's success line
    "print('passed: log_prob matches the exact mixture log-density')",
    # replace builtins the checks use
    "import builtins\nbuiltins.abs = lambda v: 0\nbuiltins.isinstance = lambda *a: True",
])
def test_patching_the_worker_cannot_fake_a_pass(worker, tmp_path, attack):
    rows = rows_of(grade(hand_in(tmp_path, _wrong_with(attack)), worker))
    assert not rows["00-1"].passed, rows["00-1"]
    assert set(rows) == {"00-1", "00-2"}  # the rest of the hand-in is still graded


def test_an_always_equal_return_value_fails_naming_its_type(worker, tmp_path):
    always = ("class AlwaysEqual(int):\n    def __eq__(self, other):\n        return True\n"
              "class Anything:\n    def __eq__(self, other):\n        return True\n")
    edit = replace_answer("exercise-07-2", always + "def count_tokens(size, patch, factor):\n    return Anything()")
    row = rows_of(grade(hand_in(tmp_path, edit, lesson="07_video_understanding"), worker))["07-2"]
    assert not row.passed and "returns an Anything object; it should return an int" in row.feedback, row

    subclass = replace_answer("exercise-07-2", always + "def count_tokens(size, patch, factor):\n    return AlwaysEqual(1)")
    row = rows_of(grade(hand_in(tmp_path, subclass, lesson="07_video_understanding"), worker))["07-2"]
    assert not row.passed and "returns an AlwaysEqual object; it should return an int" in row.feedback, row

    text = replace_answer("exercise-07-3", always + "def make_frame_text(seconds, length):\n    return Anything()")
    row = rows_of(grade(hand_in(tmp_path, text, lesson="07_video_understanding"), worker))["07-3"]
    assert not row.passed and "Anything object" in row.feedback


def test_the_check_module_on_disk_cannot_be_rewritten(worker, tmp_path):
    module = ROOT / "mmgp_lesson" / "checks" / "lesson00.py"
    before = module.read_bytes()
    attack = (f"import pathlib\npath = pathlib.Path({str(module)!r})\n"
              "try:\n    path.write_text('def mixture_log_prob(answer):\\n    print(\"passed: ok\")\\n')\n"
              "    result = 'written'\nexcept OSError as error:\n    result = type(error).__name__\n"
              "def finite_difference_score(log_prob, x):\n    raise RuntimeError(result)\n")
    rows = rows_of(grade(hand_in(tmp_path, replace_answer("exercise-00-2", attack)), worker))
    assert "raised RuntimeError: OSError" in rows["00-2"].feedback, rows["00-2"]  # a read-only file system
    assert module.read_bytes() == before
    stub = grade(ROOT / "exercises" / "00_notation.ipynb", worker)  # the next student's empty stubs
    assert not any(row.passed for row in stub.rows)


def _observe(worker, tmp_path, probe: str) -> str:
    """Run ``probe`` (code setting ``seen``) in the sandbox; what it saw, through the feedback line."""
    code = probe + "\ndef finite_difference_score(log_prob, x):\n    raise RuntimeError(repr(seen))\n"
    row = rows_of(grade(hand_in(tmp_path, replace_answer("exercise-00-2", code)), worker))["00-2"]
    return row.feedback.partition("raised RuntimeError: ")[2]


def test_nothing_private_is_readable(worker, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("the answers")
    home = Path.home()
    private = [secret, ROOT / "solutions", ROOT / "README.md", ROOT / ".git", Path("/etc/shadow"), home / ".bash_history"]
    probe = (f"import os\nseen = [any(os.path.exists(p) for p in {[str(p) for p in private]!r}),\n"
             f"        sorted(os.listdir({str(home)!r})) if os.path.isdir({str(home)!r}) else [],\n"
             "        os.getuid(), os.path.expanduser('~')]")
    # the home folder shows at most the folders the Python installation is bound from, read-only
    visible = sorted({root.relative_to(home).parts[0] for root in _python_roots() if root.is_relative_to(home)})
    assert _observe(worker, tmp_path, probe) == repr([False, visible, 65534, "/tmp/home"])


def test_files_outside_the_sandbox_are_neither_written_nor_deleted(worker, tmp_path):
    victim = ROOT / "README.md"
    before = victim.read_bytes()
    outside = tmp_path / "planted.txt"
    probe = ("import os\nseen = []\n"
             f"for action in (lambda: os.remove({str(victim)!r}), lambda: open({str(victim)!r}, 'a').write('x'),\n"
             f"               lambda: open({str(outside)!r}, 'w').write('x')):\n"
             "    try:\n        action()\n        seen.append('done')\n    except OSError as error:\n"
             "        seen.append(type(error).__name__)")
    seen = _observe(worker, tmp_path, probe)
    assert seen.startswith("['") and "'done', 'done', 'done'" not in seen
    assert victim.read_bytes() == before and not outside.exists()


def test_no_network(worker, tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    probe = ("import socket\ntry:\n"
             f"    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n    seen = 'connected'\n"
             "except OSError as error:\n    seen = type(error).__name__")
    try:
        assert _observe(worker, tmp_path, probe) in ("'ConnectionRefusedError'", "'OSError'")
    finally:
        server.close()


def test_a_process_started_by_a_hand_in_does_not_outlive_it(worker, tmp_path):
    marker = f"{9000 + random.random() * 999:.6f}"  # an argument to find this run's processes by
    attack = (f"import subprocess\nsubprocess.Popen(['sleep', '{marker}'], start_new_session=True)\n"
              f"subprocess.Popen(['sh', '-c', 'sleep {marker} &'], start_new_session=True)\n")
    rows = rows_of(grade(hand_in(tmp_path, replace_answer("exercise-00-2", attack)), worker))
    assert rows["00-1"].passed
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True, text=True).stdout.split()
    assert left == [], f"processes left behind: {left}"


LIMITS = Limits(call_seconds=3, total_seconds=60, memory_mb=512, output_mb=2)


@pytest.mark.parametrize("tag, code, limit", [
    ("exercise-00-2", "def finite_difference_score(log_prob, x):\n    while True:\n        pass", "longer than 3 s (the per-call limit"),
    ("exercise-00-2", "import time\ntime.sleep(100)", "longer than 3 s (the per-call limit"),
    ("exercise-00-2", "import os\nos._exit(3)", "exit status 3"),
    ("exercise-00-2", "def finite_difference_score(log_prob, x):\n    import os\n    os._exit(0)", "exit status 0"),
    ("exercise-00-2", "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)", "crashed the worker (SIGSEGV)"),
    ("exercise-00-2", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)", "stopped the grading worker"),
    ("exercise-00-2", "def finite_difference_score(log_prob, x):\n    return bytearray(3 * 2**30)", "ran out of memory (the limit is 512 MB"),
    ("exercise-00-2", "import torch\nbig = torch.ones(2**30)", "ran out of memory (the limit is 512 MB"),
    ("exercise-00-2", "def finite_difference_score(log_prob, x):\n    for _ in range(60):\n        print('x' * 2**20)", "printed more than 2 MB"),
])
def test_a_limit_fails_its_exercise_and_the_rest_is_graded(worker, tmp_path, tag, code, limit):
    result = grade(hand_in(tmp_path, replace_answer(tag, code)), worker, limits=LIMITS)
    rows = rows_of(result)
    assert rows["00-1"].passed, rows["00-1"]
    assert not rows["00-2"].passed and limit in rows["00-2"].feedback, rows["00-2"]
    again = grade(ROOT / "solutions" / "00_notation.ipynb", worker)  # the worker still grades the next one
    assert all(row.passed for row in again.rows)


def test_the_notebook_total_limit_fails_the_exercises_left(worker, tmp_path):
    slow = replace_answer("exercise-00-1", "import time\ntime.sleep(2.5)\n" + WRONG)
    limits = Limits(call_seconds=3, total_seconds=2, memory_mb=512, output_mb=2)
    rows = rows_of(grade(hand_in(tmp_path, slow), worker, limits=limits))
    assert all(not row.passed for row in rows.values())
    assert all("total of 2 s" in row.feedback for row in rows.values()), rows


def test_a_stub_that_only_prints_passed_is_not_a_pass(worker, tmp_path):
    def fake(notebook):
        for tag in ("exercise-00-1", "exercise-00-2"):
            cell(notebook, tag).source = "print('passed: everything')"

    result = grade(hand_in(tmp_path, fake), worker)
    assert [row.passed for row in result.rows] == [False, False]
    assert all("defines no function" in row.feedback for row in result.rows), result.rows
