"""Writing a run's files safely: every file goes to a temporary name and is moved into place last.

A run that fails halfway (a full disk, an interrupted encoder, Ctrl-C) therefore never leaves a
half-written ``video.mp4`` over the good one of an earlier run: either all new files replace the
old ones, or none does; and a first run into a new folder that fails leaves no folder behind.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import threading
from pathlib import Path
from typing import Callable, Iterator

from mmgp_lesson.capstone.errors import CapstoneError


def check_output_folder(folder: str | Path) -> Path:
    """Raise a one-line error unless ``folder`` exists as a writable folder or could be created; create nothing.

    The nearest existing ancestor must be a folder we may write into (a file in the way, or a
    read-only folder, is refused).
    """
    folder = Path(folder)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise CapstoneError(f"cannot write to the output folder {folder} ({existing} is a file); pass --out a folder you can write to")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise CapstoneError(f"cannot write to the output folder {folder} (no write permission in {existing}); pass --out a folder you can write to")
    return folder


def prepare_output_folder(folder: str | Path) -> Path:
    """Create ``folder`` if needed and prove it is writable; raise a one-line error if it is not."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise CapstoneError(
            f"cannot write to the output folder {folder} ({error.strerror or error}); pass --out a folder you can write to"
        ) from None
    return folder


@contextlib.contextmanager
def interrupts_held_back() -> Iterator[None]:
    """Hold a Ctrl-C (SIGINT) that arrives inside the block until the block is done, then deliver it.

    Used around the moves that put a run's files into place, so an interrupt never falls between two of
    them. Python runs signal handlers in the main thread only: elsewhere (the service's worker threads,
    whose process handles its own signals) the block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda number, frame: received.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received and callable(previous):
        previous(signal.SIGINT, None)  # Python's default handler raises KeyboardInterrupt here
    elif received and previous == signal.SIG_DFL:
        os.kill(os.getpid(), signal.SIGINT)


def write_all(folder: str | Path, writers: dict[str, Callable[[Path], object]]) -> list[Path]:
    """Run ``writers[name](temporary_path)`` for every file in ``folder``, then move all of them into place.

    The folder (and any missing parent) is created first. The temporary files sit beside their targets
    (so each final ``os.replace`` is atomic) and are removed if any writer fails or is interrupted,
    together with the folders this call created; a Ctrl-C during the moves is held back until all files
    are in place. A failed write (a full disk, a vanished folder) is reported as a one-line
    :class:`CapstoneError`; any other error (KeyboardInterrupt included) is re-raised as it is, after the
    clean-up.
    """
    folder = Path(folder)
    created = list(itertools.takewhile(lambda path: not path.exists(), (folder, *folder.parents)))  # deepest first
    folder = prepare_output_folder(folder)
    temporaries = {name: folder / f".{name}.partial-{os.getpid()}{Path(name).suffix}" for name in writers}
    try:
        for name, write in writers.items():
            write(temporaries[name])
    except BaseException as error:
        for temporary in temporaries.values():
            temporary.unlink(missing_ok=True)
        for path in created:
            with contextlib.suppress(OSError):  # not empty: another process wrote there meanwhile
                path.rmdir()
        if isinstance(error, OSError):
            raise CapstoneError(
                f"could not write {name} in {folder} ({error}); free some space or pass --out another folder "
                "(the files of any earlier run are untouched)"
            ) from None
        raise
    with interrupts_held_back():
        for name, temporary in temporaries.items():
            os.replace(temporary, folder / name)
    return [folder / name for name in writers]


def json_writer(data: dict) -> Callable[[Path], object]:
    """A writer for :func:`write_all` that stores ``data`` as indented, key-sorted JSON."""
    return lambda path: path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
