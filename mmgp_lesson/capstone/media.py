"""Video files in and out, with PyAV (FFmpeg): read and sample frames, write MP4 and GIF.

- :func:`read_video` opens an mp4/webm/gif (anything FFmpeg reads), checks it, and returns a
  :class:`Video`: every frame, or ``count`` frames sampled uniformly, each with its timestamp.
- :class:`FrameSampling` is SmolVLM2's video sampling rule (frames per second, a frame cap, skipped
  edges), the one the understand stage uses; :func:`sample_indices` is the plain uniform sampler.
- :func:`write_mp4` writes H.264 at 24 fps; the same frames give the same bytes in every process.
- :func:`write_gif` writes a small looping GIF preview for the book.
- :func:`make_sample_video` draws the deterministic clip ``mmgp-lesson demo`` runs on.

Every problem with an input file is raised as a :class:`CapstoneError` naming the problem and the fix.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from mmgp_lesson.capstone.errors import CapstoneError


@dataclass(frozen=True)
class FrameSampling:
    """Which frames of a clip SmolVLM2 sees, following ``SmolVLMVideoProcessor.sample_frames`` (transformers).

    For a clip of :math:`T` frames at ``video_fps`` (duration :math:`D = T/\text{video\_fps}`):

    1. :math:`n = \min(\operatorname{round}(\text{fps} \cdot D), \text{max\_frames})`, at least 1
       (Python's ``round``: halves go to the even neighbour, 2.5 -> 2);
    2. the first and last ``skip_secs`` seconds are left out when
       :math:`D - 2\,\text{skip\_secs} > \text{max\_frames} \cdot \text{fps}` (the processor's own test, as written
       there): from frame :math:`\lfloor \text{skip\_secs} \cdot \text{video\_fps} \rfloor` to
       :math:`\lfloor T - \text{skip\_secs} \cdot \text{video\_fps} \rfloor` (at most :math:`T - 1`),
       or the whole clip if that range is empty;
    3. :math:`n` indices evenly spaced over that range, rounded *down* (numpy ``linspace`` with an
       integer dtype), repeats dropped.

    Written from the processor's documented steps; ``tests/capstone/test_media.py`` checks
    hand-computed cases.
    """

    fps: float
    max_frames: int
    skip_secs: float = 1.0

    def indices(self, total: int, video_fps: float) -> np.ndarray:
        """The sampled frame indices of a clip of ``total`` frames shown at ``video_fps``."""
        if total < 1:
            raise CapstoneError("cannot sample frames of an empty video; pass a clip with at least one frame")
        duration = total / video_fps
        count = max(1, min(round(self.fps * duration), self.max_frames))
        start, end = 0, total - 1
        if self.skip_secs > 0 and duration - 2 * self.skip_secs > self.max_frames * self.fps:
            start, end = int(self.skip_secs * video_fps), min(total - 1, int(total - self.skip_secs * video_fps))
        if start >= end:
            start, end = 0, total - 1
        return np.unique(np.floor(np.linspace(start, end, count)).astype(int))


SMOLVLM2_SAMPLING = FrameSampling(fps=1.0, max_frames=64, skip_secs=1.0)
"""The sampling SmolVLM2's processor applies when its checkpoint states none: 1 frame per second, at most 64."""
TINY_SAMPLING = FrameSampling(fps=4.0, max_frames=8, skip_secs=1.0)
"""The tiny understand stage's: 4 frames per second, at most 8 (the 2-second demo clip gives 8 frames)."""
MAX_SIDE = 4096
"""The largest frame side accepted (SmolVLM's own image processors cap images at 4096 pixels too)."""

# The first bytes of the containers a user is likely to hand in: a file that starts like a video
# but cannot be opened or decoded is reported as truncated or corrupt, anything else as "not a video".
_SIGNATURES = {b"\x1a\x45\xdf\xa3": "webm/mkv", b"GIF87a": "gif", b"GIF89a": "gif", b"RIFF": "avi"}


@dataclass(frozen=True)
class Video:
    """Frames of a video clip with the time at which each was shown.

    ``frames`` is uint8 of shape (frames, height, width, 3), RGB; ``timestamps`` are seconds from
    the start; ``duration`` is the whole source clip's length in seconds (``source_frames / fps``);
    ``sha256`` and ``source`` are the hex SHA-256 and the path of the file the frames were read
    from (``None`` for frames made in memory).
    """

    frames: np.ndarray
    timestamps: np.ndarray
    fps: float
    duration: float
    source_frames: int
    sha256: str | None = None
    source: str | None = None


class NotAVideoError(CapstoneError):
    """The file is no video container FFmpeg knows, or holds no video stream (the HTTP service's 415);
    a video that cannot be decoded or is out of bounds stays a plain :class:`CapstoneError` (422)."""


def _looks_like_video(path: Path) -> str | None:
    """The container a file's first bytes announce, or ``None`` when they announce none we know."""
    with path.open("rb") as handle:
        head = handle.read(12)
    if head[4:8] == b"ftyp":
        return "mp4/mov"
    return next((kind for magic, kind in _SIGNATURES.items() if head.startswith(magic)), None)


_READ_ERRORS = (av.FFmpegError, UnicodeDecodeError)
"""What PyAV raises on a damaged file: FFmpeg's errors, and UnicodeDecodeError for metadata that is not UTF-8."""


def _reason(error: Exception) -> str:
    """The words of a read error, without FFmpeg's errno number or the repeated file name."""
    if isinstance(error, UnicodeDecodeError):
        return "its metadata is not valid UTF-8"
    return getattr(error, "strerror", None) or str(error)


def _unreadable(path: Path, error: Exception) -> CapstoneError:
    """The error for a file FFmpeg cannot read: corrupt if it starts like a video, else not a video."""
    kind = _looks_like_video(path)
    if kind is not None:
        return CapstoneError(
            f"{path} starts like a {kind} video but is truncated or corrupt ({_reason(error)}); "
            "re-export or re-download it"
        )
    return NotAVideoError(f"{path} is not a video file ({_reason(error)}); pass an .mp4, .webm or .gif")


def sample_indices(total: int, count: int) -> np.ndarray:
    """``count`` frame indices spread evenly over ``0 .. total-1``, first and last included.

    Fewer come back when the clip has fewer frames than asked for (indices are never repeated).
    """
    if total < 1 or count < 1:
        raise CapstoneError(f"cannot sample {count} of {total} frames; ask for at least one frame of a non-empty video")
    return np.unique(np.linspace(0, total - 1, min(count, total)).round().astype(int))


def read_video(path: str | Path, count: int | None = None, max_side: int = MAX_SIDE,
               sampling: FrameSampling | None = None) -> Video:
    """Read a video file into RGB frames; keep only the frames ``sampling`` picks, or with ``count``
    only ``count`` uniformly sampled ones (:func:`sample_indices`).

    The file is demuxed once to count its frames (no decoding), then decoded keeping only the
    sampled ones, so a long clip never sits in memory whole. A frame's timestamp is its index
    divided by the stream's frame rate (24 fps is assumed when the file states none).
    """
    path = Path(path)
    if path.is_dir():
        raise CapstoneError(f"{path} is a folder, not a video file; pass the path of one .mp4, .webm or .gif")
    if not path.is_file():
        raise CapstoneError(f"{path}: no such file; check the path to the input video")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise NotAVideoError(f"{path} has no video stream; pass a file with moving pictures (.mp4, .webm, .gif)")
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            rate = stream.average_rate or stream.guessed_rate
            total = sum(1 for packet in container.demux(stream) if packet.size > 0)
    except _READ_ERRORS as error:
        raise _unreadable(path, error) from None
    if total == 0:
        raise CapstoneError(f"{path} contains zero video frames; pass a clip with at least one frame")
    if max(width, height) > max_side or min(width, height) < 1:
        raise CapstoneError(
            f"{path} is {width}x{height} pixels, outside 1..{max_side} per side; "
            f"scale it down first, e.g. ffmpeg -i {path.name} -vf scale=640:-2 small.mp4"
        )
    fps = float(rate) if rate else 24.0
    if sampling is not None:
        wanted = sampling.indices(total, fps)
    else:
        wanted = sample_indices(total, count) if count is not None else np.arange(total)
    frames = _decode(path, set(wanted.tolist()))
    if len(frames) < len(wanted):
        missing = sorted(set(wanted.tolist()) - set(frames))
        raise CapstoneError(
            f"{path} is truncated or corrupt: frame {missing[0]} of {total} could not be decoded; "
            "re-export or re-download it"
        )
    return Video(
        frames=np.stack([frames[index] for index in wanted.tolist()]),
        timestamps=wanted / fps,
        fps=fps,
        duration=total / fps,
        source_frames=total,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        source=str(path),
    )


def _decode(path: Path, wanted: set[int]) -> dict[int, np.ndarray]:
    """Decode the first video stream, keeping the frames whose running index is in ``wanted``."""
    frames, last = {}, max(wanted)
    try:
        with av.open(str(path)) as container:
            for index, frame in enumerate(container.decode(video=0)):
                if index in wanted:
                    frames[index] = frame.to_ndarray(format="rgb24")
                if index >= last:
                    break
    except _READ_ERRORS as error:
        if not frames:
            raise _unreadable(path, error) from None
    return frames


def as_uint8(frames: np.ndarray) -> np.ndarray:
    """Frames as uint8 RGB: floats in [0, 1] (what diffusers returns) are scaled and rounded."""
    frames = np.asarray(frames)
    if frames.dtype == np.uint8:
        return frames
    return (np.clip(frames, 0.0, 1.0) * 255.0).round().astype(np.uint8)


def _x264_instruction_sets() -> str:
    """x264's ``asm`` option: "auto", except on CPUs with AVX-512, where x264 is held to AVX2.

    x264's AVX-512 kernels make its output depend on memory it never wrote: with the same
    yuv420p planes (hashed identical), 5 processes that had run the LTX stage first wrote 5
    different MP4s, while with the AVX-512 kernels off (``asm=AVX2``, or ``asm=0``) every process
    wrote one file, the same one a fresh process writes. Valgrind (which runs x264's AVX2 kernels)
    finds no read of uninitialised memory in x264. The AVX2 kernels are as fast here; plain C
    (``asm=0``) is about 3x slower. Every AVX-512 CPU has AVX2, so the cap is always safe.
    """
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:  # not Linux: no AVX-512 check possible, keep x264's own choice
        return "auto"
    return "AVX2" if " avx512f" in flags else "auto"


def write_mp4(frames: np.ndarray, path: str | Path, fps: int = 24) -> Path:
    """Write frames (frames, height, width, 3) as an H.264 MP4 at ``fps``; return the path.

    H.264 in yuv420p needs even sides, so an odd last row/column is dropped. The encoder runs
    single-threaded with fixed settings and without x264's AVX-512 kernels
    (:func:`_x264_instruction_sets`), so the same frames give a byte-identical file in every process.
    """
    frames = as_uint8(frames)
    height, width = frames.shape[1] - frames.shape[1] % 2, frames.shape[2] - frames.shape[2] % 2
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.thread_count = 1
        stream.options = {"crf": "18", "preset": "medium", "x264-params": f"asm={_x264_instruction_sets()}"}
        for array in frames[:, :height, :width]:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")))
        container.mux(stream.encode())
    return Path(path)


def write_gif(frames: np.ndarray, path: str | Path, fps: int = 12, max_side: int = 160) -> Path:
    """Write a looping GIF preview: every other frame of a 24 fps clip, longest side ``max_side``."""
    frames = as_uint8(frames)
    step = max(1, round(24 / fps))
    scale = min(1.0, max_side / max(frames.shape[1:3]))
    size = (max(1, round(frames.shape[2] * scale)), max(1, round(frames.shape[1] * scale)))
    images = [Image.fromarray(array).resize(size, Image.Resampling.LANCZOS) for array in frames[::step]]
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
    return Path(path)


def make_sample_video(path: str | Path, frames: int = 48, height: int = 96, width: int = 128) -> Path:
    """Write the demo clip: a red disc crossing a blue-to-green sky over two seconds at 24 fps.

    Pure numpy drawing, so the same arguments always give the same file.
    """
    rows, cols = np.mgrid[0:height, 0:width]
    sky = np.stack([np.zeros_like(rows), 255 * rows / height, 255 * (1 - rows / height)], axis=-1)
    clip = np.empty((frames, height, width, 3), dtype=np.uint8)
    for index in range(frames):
        centre_x = width * (0.15 + 0.7 * index / max(1, frames - 1))
        disc = (cols - centre_x) ** 2 + (rows - height / 2) ** 2 < (height / 5) ** 2
        clip[index] = np.where(disc[..., None], np.array([230, 30, 30]), sky).astype(np.uint8)
    return write_mp4(clip, path)
