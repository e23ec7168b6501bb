"""The figure style and the kernel-free slider player."""

import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from mmgp_lesson.plots import DPI, FONT_SIZE, slider_player, small_figure  # noqa: E402


def draw_line(slope=1.0):
    """A stand-in for a lesson's ``show``: one figure per call, shown with ``plt.show()``."""
    fig, axes = small_figure(1, size=2.0)
    axes[0, 0].plot([0, 1], [0, slope], label="line")
    axes[0, 0].legend()
    plt.show()


def draw_nothing(slope=1.0):
    plt.figure()


def test_small_figure_is_high_density_with_legible_text():
    fig, axes = small_figure(2)
    axes[0, 0].plot([0, 1], [0, 1], label="a")
    legend = axes[0, 0].legend()
    title = axes[0, 1].set_title("t")
    assert fig.dpi == DPI >= 150
    sizes = [legend.get_texts()[0].get_fontsize(), title.get_fontsize(), axes[0, 0].xaxis.label.get_fontsize()]
    sizes += [tick.label1.get_fontsize() for tick in axes[0, 0].xaxis.get_major_ticks()]
    assert min(sizes) >= FONT_SIZE >= 9, sizes
    plt.close(fig)


def test_player_has_one_distinct_frame_per_value_and_stays_offline():
    html = slider_player(draw_line, "slope", [0.5, 1.0, 2.0]).data
    frames = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=\\\n]+)", html)
    assert len(frames) == 3 and len(set(frames)) == 3  # each value draws a different picture
    assert "https://" not in html  # nothing for the browser to fetch from another site
    assert re.search(r'<img alt="[^"]*slope = 0.5, 1, 2[^"]*"', html)
    assert plt.get_fignums() == []  # every figure it drew is closed


def test_player_refuses_a_function_that_never_shows_its_figure():
    with pytest.raises(ValueError, match="must call plt.show"):
        slider_player(draw_nothing, "slope", [1.0, 2.0])
    plt.close("all")
