"""A shared sandboxed worker, and hand-ins made by editing the course's own notebooks."""

import os
import shutil
from pathlib import Path

import nbformat
import pytest

from mmgp_lesson.grading.client import Worker
from tests.conftest import ROOT


def require_bubblewrap() -> None:
    """The sandbox tests need Debian's bubblewrap; under CI its absence is a failure, not a skip."""
    if shutil.which("bwrap") is None:
        message = "bubblewrap (bwrap) is not installed: `make test` installs it as root (apt-get install bubblewrap)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def worker():
    """One sandboxed worker for the whole session, as a batch run keeps one per job."""
    require_bubblewrap()
    with Worker() as shared:
        yield shared


def cell(notebook, tag: str):
    """The cell of ``notebook`` tagged ``tag``."""
    return next(c for c in notebook.cells if tag in c.metadata.get("tags", []))


def hand_in(folder: Path, edit=None, source: str = "solutions", lesson: str = "00_notation", name: str = "student") -> Path:
    """The course notebook ``source/lesson``, changed by ``edit(notebook)``, saved as ``folder/name.ipynb``."""
    notebook = nbformat.read(ROOT / source / f"{lesson}.ipynb", as_version=4)
    if edit is not None:
        edit(notebook)
    path = folder / f"{name}.ipynb"
    nbformat.write(notebook, path)
    return path


def replace_answer(tag: str, code: str):
    """An ``edit`` that puts ``code`` in the answer cell tagged ``tag``."""

    def edit(notebook):
        cell(notebook, tag).source = code

    return edit


def rows_of(hand_in_result) -> dict:
    return {row.exercise: row for row in hand_in_result.rows}
