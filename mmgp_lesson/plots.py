"""Small plotting helpers shared by the lessons (matplotlib only)."""

from __future__ import annotations

import functools
import io
import re

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


# The course's figure style: drawn at 150 dpi for high-density screens, every text at least 9 pt (at
# 150 dpi a 9-pt label is 19 pixels tall), so a figure stays legible when the page scales it down.
DPI = 150
FONT_SIZE = 9
STYLE = {
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "font.size": FONT_SIZE,
    **{key: FONT_SIZE for key in ("axes.titlesize", "axes.labelsize", "xtick.labelsize", "ytick.labelsize",
                                  "legend.fontsize", "legend.title_fontsize", "figure.titlesize")},
}


def small_figure(columns: int = 1, rows: int = 1, size: float = 3.2):
    """A figure of ``rows × columns`` panels in the course's style (:data:`STYLE`, set globally)."""
    plt.rcParams.update(STYLE)
    return plt.subplots(rows, columns, figsize=(size * columns, size * rows), squeeze=False)


def _shown(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def slider_player(show, parameter: str, values, **fixed):
    """A slider that works without a kernel: ``show`` drawn once per value, played as an animation.

    ``show(**{parameter: value}, **fixed)`` is the function a lesson hands to ``ipywidgets.interact``;
    it draws a figure and calls ``plt.show()``. Here each call's figure is kept (``plt.show`` is
    redirected for the duration), labelled with its value, and the frames become a matplotlib
    animation exported by ``FuncAnimation.to_jshtml``: an HTML player with its own slider and buttons
    that really changes the picture on a static page. Returns the player for display.
    """
    from unittest import mock

    from IPython.display import HTML
    from matplotlib.animation import FuncAnimation
    from matplotlib.image import imread

    frames = []

    def keep(*args, label: str, **kwargs):
        figure = plt.gcf()
        figure.text(0.01, 0.99, label, va="top", ha="left")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        plt.close(figure)
        buffer.seek(0)
        frames.append(imread(buffer))

    for value in values:
        with mock.patch.object(plt, "show", functools.partial(keep, label=f"{parameter} = {_shown(value)}")):
            show(**{parameter: value}, **fixed)
    if len(frames) != len(values):
        raise ValueError(f"{show.__name__} drew {len(frames)} figures for {len(values)} values: it must call plt.show() once")
    height, width = frames[0].shape[:2]
    player = plt.figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    axes = player.add_axes((0, 0, 1, 1))
    axes.set_axis_off()
    image = axes.imshow(frames[0])
    animation = FuncAnimation(player, lambda index: image.set_data(frames[index]), frames=len(frames))
    html = animation.to_jshtml(fps=2, default_mode="once")
    plt.close(player)
    alt = f"the figure above redrawn for {parameter} = {', '.join(map(_shown, values))}, one frame per value"
    html = html.replace("<img id=", f'<img alt="{alt}" id=', 1)
    # The player's buttons use Font Awesome icons, which the book's theme already serves; matplotlib's
    # link to a CDN copy would be the page's only request to another site.
    return HTML(re.sub(r'<link rel="stylesheet"\s+href="https://[^"]*font-awesome[^"]*">', "", html))
