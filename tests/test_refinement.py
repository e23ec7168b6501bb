"""Best-of-N picking and least-confident refinement on a small masked-token model."""

import torch

from mmgp_lesson.masked_tokens import TOKENS, untrained_model
from mmgp_lesson.refinement import nearest_distance, pick_by_verifier, refine_least_confident


def test_pick_by_verifier_keeps_the_top_score_per_prompt():
    candidates = torch.arange(12).reshape(2, 3, 2)
    scores = torch.tensor([[0.1, 0.9, 0.2], [5.0, -1.0, 0.0]])
    assert pick_by_verifier(candidates, scores).tolist() == [[2, 3], [6, 7]]


def test_nearest_distance_is_zero_on_the_reference_itself():
    images = torch.rand(5, 8, 8, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(nearest_distance(images, images), torch.zeros(5))
    assert (nearest_distance(images + 1.0, images) > 0).all()


def test_refinement_changes_only_the_least_confident_tokens_and_is_seeded():
    model = untrained_model(codes=8).eval()
    tokens = torch.randint(8, (4, TOKENS), generator=torch.Generator().manual_seed(1))
    first = refine_least_confident(model, tokens, 1, 3, torch.Generator().manual_seed(2))
    again = refine_least_confident(model, tokens, 1, 3, torch.Generator().manual_seed(2))
    assert torch.equal(first, again) and first.max() < 8  # never leaves a [MASK] behind
    assert ((first != tokens).sum(1) <= 3).all()  # at most `count` tokens are redrawn per round
    assert torch.equal(refine_least_confident(model, tokens, 0, 3, torch.Generator()), tokens)
