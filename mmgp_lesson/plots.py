"""Small plotting helpers shared by the lessons (matplotlib only)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from mmgp_lesson.toys import DTYPE


def grid_points(extent: float, count: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A ``count × count`` grid on ``[-extent, extent]²``: the two coordinate arrays and the (count², 2) points."""
    axis = torch.linspace(-extent, extent, count, dtype=DTYPE)
    xs, ys = torch.meshgrid(axis, axis, indexing="xy")
    return xs, ys, torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1)


def plot_density_and_score(ax, log_prob, score, extent: float = 4.0, title: str = "") -> None:
    """Filled contours of the density ``exp(log_prob)`` with the score field as arrows on top."""
    xs, ys, points = grid_points(extent, 120)
    density = torch.exp(log_prob(points)).reshape(xs.shape)
    ax.contourf(xs, ys, density, levels=20, cmap="Blues")
    qx, qy, coarse = grid_points(extent, 17)
    field = score(coarse)
    norm = field.norm(dim=1, keepdim=True).clamp_min(1e-12)
    direction = field / norm  # unit arrows: the direction is the message, length is shown by colour
    ax.quiver(qx, qy, direction[:, 0].reshape(qx.shape), direction[:, 1].reshape(qx.shape),
              norm.squeeze(1).log().reshape(qx.shape), cmap="Oranges", scale=30, width=0.004)
    ax.set(xlabel="$x_1$", ylabel="$x_2$", aspect="equal", title=title)


def small_figure(columns: int = 1, rows: int = 1, size: float = 3.2):
    """A figure of ``rows × columns`` panels at a size that keeps the saved PNG small."""
    return plt.subplots(rows, columns, figsize=(size * columns, size * rows), dpi=80, squeeze=False)
