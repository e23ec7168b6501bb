"""Atomic output files: a failed write never replaces a good file with a half-written one."""

import pytest

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
