"""Frames on a pipe: a 4-byte big-endian length, then that many bytes (the grader ⇄ worker protocol)."""

from __future__ import annotations

import os
import struct

MAX_FRAME = 64 * 2**20
HEADER = struct.Struct(">I")


class FrameError(EOFError):
    """The other side closed the pipe or sent a frame that is not one."""


def _read_exactly(fd: int, size: int) -> bytes:
    chunks, remaining = [], size
    while remaining:
        chunk = os.read(fd, min(remaining, 2**20))
        if not chunk:
            raise FrameError("closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> bytes:
    """One frame from file descriptor ``fd``; :class:`FrameError` when closed or oversized."""
    (size,) = HEADER.unpack(_read_exactly(fd, HEADER.size))
    if size > MAX_FRAME:
        raise FrameError(f"a reply of {size} bytes, over the {MAX_FRAME // 2**20} MB limit")
    return _read_exactly(fd, size)


def write_frame(fd: int, payload: bytes) -> None:
    """Write ``payload`` to ``fd`` as one frame."""
    data = HEADER.pack(len(payload)) + payload
    while data:
        data = data[os.write(fd, data):]
