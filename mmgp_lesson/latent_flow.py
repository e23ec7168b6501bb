r"""Rectified flow in a latent, and the shape arithmetic of LTX-Video's latent (lesson 06).

Flow-matching time as in lesson 02: :math:`t \in [0, 1]`, noise :math:`z_0 \sim \mathcal N(0, I)` at
:math:`t = 0`, data :math:`z_1` at :math:`t = 1`, linear path :math:`z_t = t z_1 + (1 - t) z_0`. A velocity
field is any callable ``velocity(z, t)`` with ``z`` (N, d) and ``t`` a float; the learned fields of
:func:`mmgp_lesson.nets.train_flow_matching` (with :class:`~mmgp_lesson.paths.LinearPath`) and the exact
field ``LinearPath().velocity_by_definition`` both fit after wrapping.

- :func:`euler_sample` integrates :math:`dz/dt = v(z, t)` from :math:`t = 0` to 1 with equal steps.
- :func:`straightness` measures :math:`S = \int_0^1 \mathbb E \lVert (Z_1 - Z_0) - v(Z_t, t)\rVert^2 dt`
  along the sampled paths (Liu et al., 2023): zero iff every path is a straight line at constant speed.
- :func:`train_reflow` fits a new field on the pairs :math:`(Z_0, Z_1)` that a flow produces: the
  *reflow* step, which straightens the paths.

LTX-Video's VAE (HaCohen et al., 2024) maps a clip of :math:`F` frames of :math:`H \times W` pixels to a
latent of :math:`1 + (F - 1)/8` frames of :math:`H/32 \times W/32` positions: the first frame is encoded on
its own (a causal encoder), every later group of 8 frames into one latent frame. Hence :math:`F = 8k + 1`
and :math:`H, W` multiples of 32; other sizes are silently cropped. :func:`latent_shape` and
:func:`decoded_shape` write that arithmetic for any compression ratios.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from mmgp_lesson.nets import TimeField, fit
from mmgp_lesson.reproducible import seeded

Velocity = Callable[[torch.Tensor, float], torch.Tensor]

LTX_SPATIAL_COMPRESSION = 32
"""Pixels per latent position along height and width in LTX-Video's VAE (its config: patch 4 x three 2x downsamplings)."""
LTX_TEMPORAL_COMPRESSION = 8
"""Frames per latent frame after the first in LTX-Video's VAE (three 2x temporal downsamplings)."""


def euler_sample(velocity: Velocity, z0: torch.Tensor, steps: int, path: bool = False):
    r"""Euler's method for :math:`dz/dt = v(z, t)` on :math:`[0, 1]`: :math:`z_{k+1} = z_k + h\, v(z_k, kh)`, :math:`h = 1/\text{steps}`.

    Returns :math:`z_1` (N, d), or with ``path=True`` the whole trajectory (steps + 1, N, d).
    """
    h = 1.0 / steps
    trajectory = [z0]
    with torch.no_grad():
        for k in range(steps):
            trajectory.append(trajectory[-1] + h * velocity(trajectory[-1], k * h))
    return torch.stack(trajectory) if path else trajectory[-1]


def straightness(velocity: Velocity, z0: torch.Tensor, steps: int = 50) -> float:
    r"""Straightness :math:`S = \int_0^1 \mathbb E\lVert (Z_1 - Z_0) - v(Z_t, t)\rVert^2 dt` along Euler paths from ``z0``.

    The integral is the average over the ``steps`` left end points; :math:`Z_1` is the Euler end point.
    """
    trajectory = euler_sample(velocity, z0, steps, path=True)
    chord = trajectory[-1] - trajectory[0]
    with torch.no_grad():
        deviations = [((chord - velocity(trajectory[k], k / steps)) ** 2).sum(1).mean() for k in range(steps)]
    return torch.stack(deviations).mean().item()


def train_reflow(z0: torch.Tensor, z1: torch.Tensor, steps: int = 1500, batch: int = 512, hidden: int = 64,
                 lr: float = 3e-3, seed: int = 0) -> tuple[TimeField, list[float]]:
    r"""Reflow: fit :math:`v_\theta` to the coupling :math:`(z_0, z_1)` by :math:`\mathbb E\lVert v_\theta(z_t, t) - (z_1 - z_0)\rVert^2`.

    :math:`z_t = t z_1 + (1 - t) z_0`, :math:`t \sim U(0, 1)`, pairs drawn from the given rows (``z1`` is the
    end point of a flow started at ``z0``). Returns the field and the loss at every step.
    """
    generator = torch.Generator().manual_seed(seed)
    model = seeded(lambda: TimeField(z0.shape[1], hidden), seed)
    z0, z1 = z0.float(), z1.float()

    def loss_fn():
        index = torch.randint(len(z0), (batch,), generator=generator)
        t = torch.rand(batch, 1, generator=generator)
        zt = t * z1[index] + (1 - t) * z0[index]
        return ((model(zt, t[:, 0]) - (z1[index] - z0[index])) ** 2).sum(1).mean()

    return model, fit(model, loss_fn, steps, lr)


def is_valid_frame_count(frames: int, temporal: int = LTX_TEMPORAL_COMPRESSION) -> bool:
    """True iff ``frames = temporal * k + 1`` for some k >= 0 (one frame, then whole groups)."""
    return frames >= 1 and (frames - 1) % temporal == 0


def frames_for_duration(seconds: float, fps: float, temporal: int = LTX_TEMPORAL_COMPRESSION) -> int:
    r"""The fewest valid frames spanning ``seconds`` at ``fps``: :math:`\lceil \text{seconds}\cdot\text{fps} / 8\rceil \cdot 8 + 1`.

    A clip of :math:`F` frames spans :math:`(F - 1)/\text{fps}` seconds (frame intervals, not frames).
    """
    return temporal * math.ceil(seconds * fps / temporal - 1e-9) + 1


def latent_shape(frames: int, height: int, width: int, channels: int, spatial: int = LTX_SPATIAL_COMPRESSION,
                 temporal: int = LTX_TEMPORAL_COMPRESSION) -> tuple[int, int, int, int]:
    r"""Shape (C, F', H', W') of the latent of a clip: :math:`F' = 1 + \lfloor (F - 1)/8 \rfloor`, :math:`H' = \lceil H/32 \rceil`, :math:`W' = \lceil W/32 \rceil`.

    The encoder pads height and width up to the next multiple (its convolutions keep partial patches) and
    drops frames beyond the last full group of ``temporal``.
    """
    return channels, 1 + (frames - 1) // temporal, math.ceil(height / spatial), math.ceil(width / spatial)


def decoded_shape(frames: int, height: int, width: int, spatial: int = LTX_SPATIAL_COMPRESSION,
                  temporal: int = LTX_TEMPORAL_COMPRESSION) -> tuple[int, int, int]:
    """(frames, height, width) after an encode-decode round trip: only 8k+1 frames and multiples of 32 survive unchanged."""
    _, latent_frames, latent_height, latent_width = latent_shape(frames, height, width, 1, spatial, temporal)
    return 1 + temporal * (latent_frames - 1), spatial * latent_height, spatial * latent_width


def ltx_video_on_meta() -> dict[str, torch.nn.Module]:
    """The three networks of ``Lightricks/LTX-Video`` at their published sizes, on the meta device (no memory).

    They are the capstone's full-size configurations (:func:`mmgp_lesson.capstone.realsize.real_size_ltx`,
    whose docstring gives the sources) built under ``torch.device("meta")``: only shapes, so counting is instant.
    """
    from mmgp_lesson.capstone.realsize import real_size_ltx

    with torch.device("meta"):
        pipe = real_size_ltx()
    return {"DiT (transformer)": pipe.transformer, "video VAE": pipe.vae, "T5-XXL text encoder": pipe.text_encoder}
