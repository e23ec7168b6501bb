"""Tests for mmgp_lesson.ltx_shape: LTX-Video's frame and size rule, checked against the real classes."""

import pytest
import torch

from mmgp_lesson.ltx_shape import (
    SPATIAL_COMPRESSION,
    TEMPORAL_COMPRESSION,
    decoded_shape,
    frames_for,
    is_valid_frame_count,
    is_valid_side,
    latent_shape,
)


def test_frame_and_side_predicates():
    assert [f for f in range(1, 60) if is_valid_frame_count(f)] == [1, 9, 17, 25, 33, 41, 49, 57]
    assert not is_valid_frame_count(48) and not is_valid_frame_count(0)
    assert [side for side in range(1, 130) if is_valid_side(side)] == [32, 64, 96, 128]


@pytest.mark.parametrize(
    "seconds, fps, frames",
    [
        (2, 24, 49),  # 48 frames needed; 49 = 8 * 6 + 1 (erratum 6)
        (1, 25, 25),  # exactly 8 * 3 + 1 frames: counting intervals instead would give 33
        (1, 17, 17),
        (5, 24, 121),
        (0.1, 30, 9),  # 0.1 * 30 = 3.0000000000000004 in floating point: still 3 frames needed
        (0, 24, 1),
    ],
)
def test_frames_for_is_the_smallest_valid_count_lasting_the_duration(seconds, fps, frames):
    assert frames_for(seconds, fps) == frames
    assert is_valid_frame_count(frames) and frames / fps >= seconds - 1e-9
    assert frames == 1 or (frames - TEMPORAL_COMPRESSION) / fps < seconds  # the next valid count down is too short


def test_latent_and_decoded_shapes():
    assert latent_shape(49, 512, 704, 128) == (128, 7, 16, 22)
    assert decoded_shape(49, 512, 704) == (49, 512, 704)  # valid sizes survive a round trip
    assert decoded_shape(48, 480, 720) == (41, 480, 736)  # 48 frames lose 7; 720 px pads to 736
    assert latent_shape(9, 64, 64, 8, spatial=16, temporal=4) == (8, 3, 4, 4)


def test_shape_rule_matches_the_tiny_ltx_vae():
    from mmgp_lesson.capstone.tiny import tiny_ltx

    vae = tiny_ltx(0).vae
    spatial, temporal = vae.spatial_compression_ratio, vae.temporal_compression_ratio
    for frames, side in ((9, 64), (10, 64), (17, 80)):
        video = torch.randn(1, 3, frames, side, side, generator=torch.Generator().manual_seed(frames))
        with torch.no_grad():
            latent = vae.encode(video).latent_dist.mode()
            decoded = vae.decode(latent).sample
        channels = latent.shape[1]
        assert tuple(latent.shape[1:]) == latent_shape(frames, side, side, channels, spatial, temporal)
        assert tuple(decoded.shape[2:]) == decoded_shape(frames, side, side, spatial, temporal)


def test_the_constants_are_the_published_vae_s_ratios():
    from mmgp_lesson.capstone.realsize import real_size_ltx

    with torch.device("meta"):  # the published configuration, shapes only
        vae = real_size_ltx().vae
    assert (vae.spatial_compression_ratio, vae.temporal_compression_ratio) == (SPATIAL_COMPRESSION, TEMPORAL_COMPRESSION)
