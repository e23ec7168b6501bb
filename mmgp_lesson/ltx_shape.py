r"""LTX-Video's shape rule, in one place: the VAE's compression, the valid clip shapes, frames for a duration.

LTX-Video's VAE (HaCohen et al., 2024) maps a clip of :math:`F` frames of :math:`H \times W` pixels to a
latent of :math:`1 + (F - 1)/8` frames of :math:`H/32 \times W/32` positions: the first frame is encoded on
its own (a causal encoder), every later group of 8 frames into one latent frame. Hence :math:`F = 8k + 1`
and :math:`H, W` multiples of 32; other sizes are silently cropped or padded (:func:`decoded_shape`).

**Duration.** A clip of :math:`F` frames at ``fps`` frames per second lasts :math:`F/\text{fps}` seconds:
each frame is shown for :math:`1/\text{fps}`, which is also what players and containers report (and what
:attr:`mmgp_lesson.capstone.media.Video.duration` is). So :func:`frames_for` gives the fewest valid frames
with :math:`F \ge \text{seconds}\cdot\text{fps}`: 49 for 2 s at 24 fps, 25 for 1 s at 25 fps.

Plain integer arithmetic, no imports: lesson 06's code, the capstone's settings checks (run before any
model is built) and the exercise checks of lessons 06 and 08 all use these functions.
"""

from __future__ import annotations

import math

SPATIAL_COMPRESSION = 32
"""Pixels per latent position along height and width (the VAE's patch 4 x three 2x downsamplings)."""
TEMPORAL_COMPRESSION = 8
"""Frames per latent frame after the first (three 2x temporal downsamplings)."""


def is_valid_frame_count(frames: int, temporal: int = TEMPORAL_COMPRESSION) -> bool:
    """True iff ``frames = temporal * k + 1`` for some k >= 0 (one frame, then whole groups)."""
    return frames >= 1 and (frames - 1) % temporal == 0


def is_valid_side(pixels: int, spatial: int = SPATIAL_COMPRESSION) -> bool:
    """True iff ``pixels`` is a positive multiple of ``spatial`` (32 for LTX-Video)."""
    return pixels >= spatial and pixels % spatial == 0


def nearest_frame_count(frames: int, temporal: int = TEMPORAL_COMPRESSION) -> int:
    """The valid frame count nearest to ``frames`` (at least 1), for an error message's suggestion."""
    return max(1, temporal * round((frames - 1) / temporal) + 1)


def nearest_side(pixels: int, spatial: int = SPATIAL_COMPRESSION) -> int:
    """The multiple of ``spatial`` nearest to ``pixels`` (at least ``spatial``)."""
    return max(spatial, spatial * round(pixels / spatial))


def frames_for(seconds: float, fps: float, temporal: int = TEMPORAL_COMPRESSION) -> int:
    r"""The fewest valid frames lasting at least ``seconds`` at ``fps``: the smallest :math:`8k + 1 \ge \text{seconds}\cdot\text{fps}`.

    :math:`F = 8 \lceil (\lceil \text{seconds}\cdot\text{fps} \rceil - 1) / 8 \rceil + 1`; a product within
    1e-9 of an integer counts as that integer (``0.1 * 30`` is 3.0000000000000004 in floating point).
    """
    needed = max(1, math.ceil(seconds * fps - 1e-9))
    return temporal * math.ceil((needed - 1) / temporal) + 1


def latent_shape(frames: int, height: int, width: int, channels: int, spatial: int = SPATIAL_COMPRESSION,
                 temporal: int = TEMPORAL_COMPRESSION) -> tuple[int, int, int, int]:
    r"""Shape (C, F', H', W') of the latent of a clip: :math:`F' = 1 + \lfloor (F - 1)/8 \rfloor`, :math:`H' = \lceil H/32 \rceil`, :math:`W' = \lceil W/32 \rceil`.

    The encoder pads height and width up to the next multiple (its convolutions keep partial patches) and
    drops frames beyond the last full group of ``temporal``.
    """
    return channels, 1 + (frames - 1) // temporal, math.ceil(height / spatial), math.ceil(width / spatial)


def decoded_shape(frames: int, height: int, width: int, spatial: int = SPATIAL_COMPRESSION,
                  temporal: int = TEMPORAL_COMPRESSION) -> tuple[int, int, int]:
    """(frames, height, width) after an encode-decode round trip: only 8k+1 frames and multiples of 32 survive unchanged."""
    _, latent_frames, latent_height, latent_width = latent_shape(frames, height, width, 1, spatial, temporal)
    return 1 + temporal * (latent_frames - 1), spatial * latent_height, spatial * latent_width
