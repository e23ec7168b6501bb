"""Atomic output files: a failed write never replaces a good file with a half-written one."""

import os
import signal

import pytest

from mmgp_lesson.capstone import outputs
from mmgp_lesson.capstone.errors import CapstoneError
from mmgp_lesson.capstone.outputs import prepare_output_folder, write_all


def test_all_files_appear_together(tmp_path):
    paths = write_all(tmp_path, {"a.txt": lambda p: p.write_text("A"), "b.txt": lambda p: p.write_text("B")})
    assert [p.read_text() for p in paths] == ["A", "B"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]


def test_a_failed_write_keeps_the_old_files_and_leaves_no_temporaries(tmp_path):
    write_all(tmp_path, {"a.txt": lambda p: p.write_text("old A"), "b.txt": lambda p: p.write_text("old B")})

    def half_then_disk_full(path):
        path.write_text("half of new B")
        raise OSError(28, "No space left on device")

    with pytest.raises(CapstoneError, match="could not write b.txt .*No space left.*untouched"):
        write_all(tmp_path, {"a.txt": lambda p: p.write_text("new A"), "b.txt": half_then_disk_full})
    assert (tmp_path / "a.txt").read_text() == "old A" and (tmp_path / "b.txt").read_text() == "old B"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]


def test_output_folder_under_a_file_is_refused(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(CapstoneError, match="cannot write to the output folder"):
        prepare_output_folder(blocker / "out")
    assert prepare_output_folder(tmp_path / "new" / "deep").is_dir()


def test_an_interrupted_first_run_leaves_no_folder_behind(tmp_path):
    def interrupted(path):
        path.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_all(tmp_path / "new" / "deep", {"a.txt": lambda p: p.write_text("A"), "b.txt": interrupted})
    assert list(tmp_path.iterdir()) == []  # both folders it created are gone again


def test_ctrl_c_during_the_moves_waits_until_every_file_is_in_place(tmp_path, monkeypatch):
    write_all(tmp_path, {"a.txt": lambda p: p.write_text("old A"), "b.txt": lambda p: p.write_text("old B")})
    replace = os.replace

    def replace_then_ctrl_c(source, target):
        replace(source, target)
        if target.name == "a.txt":
            os.kill(os.getpid(), signal.SIGINT)  # between the first move and the second

    monkeypatch.setattr(outputs.os, "replace", replace_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        write_all(tmp_path, {"a.txt": lambda p: p.write_text("new A"), "b.txt": lambda p: p.write_text("new B")})
    assert [(tmp_path / name).read_text() for name in ("a.txt", "b.txt")] == ["new A", "new B"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is back
