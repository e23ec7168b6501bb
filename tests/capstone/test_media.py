"""Reading, sampling and writing video files with PyAV."""

import hashlib

import av
import numpy as np
import pytest

from mmgp_lesson.capstone.errors import CapstoneError
from mmgp_lesson.capstone.media import FrameSampling, make_sample_video, read_video, sample_indices, write_gif, write_mp4


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("total, count", [(48, 8), (100, 7), (5, 8), (1, 3), (9, 9)])
def test_sample_indices_are_uniform_and_cover_the_clip(total, count):
    indices = sample_indices(total, count)
    assert len(indices) == min(total, count)
    assert indices[0] == 0 and indices[-1] == total - 1
    gaps = np.diff(indices)
    # Rounding evenly spaced reals to integers moves each by at most 1/2, so gaps differ by at most 1.
    assert np.all(gaps >= 1) and (len(gaps) == 0 or gaps.max() - gaps.min() <= 1)


def test_sample_indices_are_the_nearest_frames_to_even_spacing():
    # 4 of 11 frames: the evenly spaced positions are 0, 10/3, 20/3, 10; each index is the nearest frame
    # (|index - position| <= 1/2), which rounding gives and truncation does not (6 is 2/3 from 20/3).
    positions = np.linspace(0, 10, 4)
    indices = sample_indices(11, 4)
    assert indices.tolist() == [0, 3, 7, 10] and np.all(np.abs(indices - positions) <= 0.5)


def test_read_video_samples_the_same_frames_a_full_decode_holds(sample_video):
    full = read_video(sample_video)
    sampled = read_video(sample_video, count=8)
    assert full.frames.shape == (48, 96, 128, 3) and full.frames.dtype == np.uint8
    assert full.fps == 24.0 and full.duration == pytest.approx(2.0)
    indices = sample_indices(48, 8)
    np.testing.assert_array_equal(sampled.frames, full.frames[indices])
    np.testing.assert_allclose(sampled.timestamps, indices / 24.0)


def test_mp4_is_byte_identical_for_the_same_frames_and_keeps_the_picture(tmp_path, sample_video):
    frames = read_video(sample_video).frames
    first, second = write_mp4(frames, tmp_path / "a.mp4"), write_mp4(frames, tmp_path / "b.mp4")
    assert digest(first) == digest(second)
    with av.open(str(first)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.average_rate == 24
    again = read_video(first).frames
    # A second lossy H.264 pass at crf 18 moves pixels by a few levels of 255, not more.
    assert np.abs(again.astype(int) - frames.astype(int)).mean() < 4


def test_sample_video_is_deterministic(tmp_path):
    assert digest(make_sample_video(tmp_path / "a.mp4")) == digest(make_sample_video(tmp_path / "b.mp4"))


def test_gif_preview_is_small_and_readable(tmp_path, sample_video):
    frames = read_video(sample_video).frames
    gif = read_video(write_gif(frames, tmp_path / "p.gif"))
    assert gif.source_frames == 24  # every other frame of 48
    assert max(gif.frames.shape[1:3]) <= 160


def test_webm_is_read(tmp_path):
    path = tmp_path / "clip.webm"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libvpx-vp9", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for level in range(10):
            frame = np.full((48, 64, 3), level * 20, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    clip = read_video(path, count=3)
    assert clip.frames.shape == (3, 48, 64, 3) and clip.source_frames == 10
    # Frame i is a flat grey of level 20 i; VP9 keeps flat fields within a few levels.
    np.testing.assert_allclose(clip.frames.mean(axis=(1, 2, 3)), sample_indices(10, 3) * 20, atol=6)


def zero_frame_avi(path):
    """An AVI whose video stream holds no frames at all."""
    container = av.open(str(path), "w")
    stream = container.add_stream("mjpeg", rate=24)
    stream.width, stream.height, stream.pix_fmt = 64, 48, "yuvj420p"
    container.start_encoding()
    container.close()
    return path


def test_each_bad_file_gets_its_own_message(tmp_path, sample_video):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    truncated = tmp_path / "cut.mp4"
    truncated.write_bytes(sample_video.read_bytes()[: sample_video.stat().st_size // 2])
    cases = {
        tmp_path / "missing.mp4": "no such file",
        text: "is not a video file",
        truncated: "truncated or corrupt",
        zero_frame_avi(tmp_path / "empty.avi"): "zero video frames",
    }
    for path, words in cases.items():
        with pytest.raises(CapstoneError, match=words):
            read_video(path)


def test_resolution_over_the_limit_is_refused(sample_video):
    with pytest.raises(CapstoneError, match="128x96 pixels, outside 1..100"):
        read_video(sample_video, max_side=100)


@pytest.mark.parametrize(
    "total, video_fps, rule, expected",
    [
        # 2 s, 4 per second, at most 8: linspace(0, 47, 8) = 0, 6.71, 13.4, 20.1, 26.9, 33.6, 40.3, 47, rounded down
        (48, 24.0, FrameSampling(fps=4, max_frames=8), [0, 6, 13, 20, 26, 33, 40, 47]),
        # 10 s at 1 per second: 10 frames over 0 .. 239 (step 26.56); 10 - 2 > 64 is false, so no edge is skipped
        (240, 24.0, FrameSampling(fps=1, max_frames=64), [0, 26, 53, 79, 106, 132, 159, 185, 212, 239]),
        # 0.5 s: round(0.5) = 0 (half to even), raised to the minimum of one frame
        (12, 24.0, FrameSampling(fps=1, max_frames=64), [0]),
        # 2.5 s: round(2.5) = 2 (half to even), the two ends
        (60, 24.0, FrameSampling(fps=1, max_frames=64), [0, 59]),
        # 12 s at 25 fps with a cap of 4 frames: 12 - 2 > 4 * 1, so frames 25 .. 275 only (step 83.33)
        (300, 25.0, FrameSampling(fps=1, max_frames=4), [25, 108, 191, 275]),
    ],
)
def test_frame_sampling_follows_the_smolvlm2_processor(total, video_fps, rule, expected):
    assert rule.indices(total, video_fps).tolist() == expected


def test_read_video_decodes_the_frames_the_rule_picks(sample_video):
    full = read_video(sample_video)
    rule = FrameSampling(fps=4, max_frames=8)
    picked = read_video(sample_video, sampling=rule)
    indices = rule.indices(full.source_frames, full.fps)
    np.testing.assert_array_equal(picked.frames, full.frames[indices])
    np.testing.assert_array_equal(picked.timestamps, indices / full.fps)
