"""Checks for lesson 07: video understanding (frame sampling, image tokens, the frame prompt)."""

from __future__ import annotations

import numpy as np

from mmgp_lesson.capstone.media import sample_indices
from mmgp_lesson.capstone.understand import frame_placeholder
from mmgp_lesson.checks import CheckFailed, call_answer, exercise, passed, require, rng

# (total frames, frames asked for, fps): no index of these lands on a rounding tie, and the last
# case asks for more frames than the clip has.
_SAMPLING_CASES = ((48, 8, 24.0), (121, 8, 24.0), (100, 16, 25.0), (300, 5, 30.0), (5, 8, 24.0))
# (image size S, patch size p, pixel-shuffle factor r): the tiny model, SmolVLM2's real sizes, others.
_TOKEN_CASES = ((32, 8, 2), (512, 16, 4), (384, 14, 3), (224, 16, 1), (448, 14, 4))


@exercise("07-1", answer="sample", references=("mmgp_lesson.capstone.media:sample_indices",))
def sample_times(sample) -> None:
    """Exercise 07.1: ``sample(total, count, fps)`` returns the uniform indices and their timestamps.

    Indices are integers, so they must match exactly; timestamps are one float64 division, so to 1e-12.
    """
    for total, count, fps in _SAMPLING_CASES:
        answer = call_answer(sample, total, count, fps, returns="a pair (indices, timestamps)")
        require(
            isinstance(answer, (tuple, list)) and len(answer) == 2,
            "return a pair (indices, timestamps), e.g. return indices, indices / fps",
        )
        indices, timestamps = (np.asarray(part) for part in answer)
        exact = sample_indices(total, count)
        case = f"for {total} frames, {count} asked, {fps:g} fps"
        if len(indices) != len(exact):
            if count > total and len(indices) == count:
                raise CheckFailed(f"{case} you return {count} indices with repeats: a clip of {total} frames gives at most {total} distinct frames")
            raise CheckFailed(f"{case} you return {len(indices)} indices; there should be {len(exact)}")
        if not np.array_equal(indices, exact):
            if indices.max() >= total:
                raise CheckFailed(f"{case} your last index is {indices.max()}, past the last frame {total - 1}: spread over 0 .. T-1, not 0 .. T")
            if np.array_equal(indices, np.floor(np.linspace(0, total - 1, len(exact))).astype(int)):
                raise CheckFailed(f"{case} your indices are truncated: round i·(T-1)/(n-1) to the nearest integer instead of flooring it")
            raise CheckFailed(f"{case} your indices are {indices.tolist()}; they should be {exact.tolist()} (round(i·(T-1)/(n-1)))")
        require(len(timestamps) == len(exact), f"{case} return one timestamp per index")
        if not np.allclose(timestamps, exact / fps, rtol=0, atol=1e-12):
            if np.allclose(timestamps, exact * fps):
                raise CheckFailed(f"{case} your timestamps are index × fps; a frame index j is shown at j / fps seconds")
            raise CheckFailed(f"{case} your timestamps differ from index / fps: frame j is shown at j / fps seconds")
    passed(f"indices and timestamps match the uniform sampler in all {len(_SAMPLING_CASES)} cases")


@exercise("07-2", answer="count_tokens")
def image_tokens(count_tokens) -> None:
    """Exercise 07.2: ``count_tokens(S, p, r)`` = (S/p)² / r², the image tokens of one frame (integers: exact).

    The fixed configs, and two drawn at grading time (S = p·r·k for a whole number of tokens).
    """
    drawn = rng(72)
    cases = list(_TOKEN_CASES)
    for _ in range(2):
        patch, factor, blocks = int(drawn.choice([8, 14, 16])), int(drawn.integers(2, 5)), int(drawn.integers(2, 9))
        cases.append((patch * factor * blocks, patch, factor))
    for size, patch, factor in cases:
        value = call_answer(count_tokens, size, patch, factor, returns="an int")
        exact = (size // patch) ** 2 // factor**2
        if value != exact:
            case = f"for S={size}, p={patch}, r={factor}"
            if value == (size // patch) ** 2:
                raise CheckFailed(f"{case} you return {value}, the patch count: the pixel shuffle merges each r×r block of patches into one token")
            if value == (size // patch) ** 2 // factor:
                raise CheckFailed(f"{case} you return {value}: the pixel shuffle divides by r² (an r×r block), not by r")
            if value == (size // patch) // factor:
                raise CheckFailed(f"{case} you return {value}, the tokens along one side: square it, (S/p)²/r²")
            raise CheckFailed(f"{case} you return {value}; the count is (S/p)²/r² = {exact}")
    passed(f"token counts right for all {len(cases)} configs, 64 per frame for the real SmolVLM2")


@exercise("07-3", answer="make_frame_text", references=("mmgp_lesson.capstone.understand:frame_placeholder",))
def frame_text(make_frame_text) -> None:
    """Exercise 07.3: ``make_frame_text(seconds, image_seq_len)`` is one frame's block of the video prompt."""
    drawn = rng(73)
    cases = [(0.0, 4), (1.958, 4), (75.5, 64), (9.99, 2), (round(float(drawn.uniform(0, 600)), 3), int(drawn.integers(1, 65)))]
    for seconds, length in cases:
        value = call_answer(make_frame_text, seconds, length, returns="a string")
        exact = f"\nFrame from {int(seconds // 60):02d}:{int(seconds % 60):02d}:" + frame_placeholder(length)
        if value == exact:
            continue
        require(isinstance(value, str), f"return a string, not {type(value).__name__}")
        case = f"for a frame at {seconds} s with {length} image tokens"
        if value.count("<image>") != length:
            raise CheckFailed(f"{case} your text holds {value.count('<image>')} <image> tokens; it needs exactly {length}, one per image token")
        if "<global-img>" not in value:
            raise CheckFailed(f"{case} the <global-img> marker is missing after the first <fake_token_around_image>")
        if value.count("<fake_token_around_image>") != 2:
            raise CheckFailed(f"{case} wrap the image tokens in one <fake_token_around_image> on each side")
        header = value.split("<fake_token_around_image>")[0]
        if header != exact.split("<fake_token_around_image>")[0]:
            raise CheckFailed(f"{case} your header is {header!r}; it should be {exact.split('<fake_token_around_image>')[0]!r} (newline, minutes and whole seconds, two digits each)")
        raise CheckFailed(f"{case} your text differs from {exact[:40]!r}…: compare the order of the markers")
    passed("frame blocks match the prompt SmolVLM2 was trained on")
