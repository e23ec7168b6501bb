r"""Spending sampling compute on lesson 05's masked-token model: parallel best-of-N against sequential
refinement (lesson 10).

*Compute* is counted in network evaluations of one token grid. Sampling with :math:`T` unmasking steps
costs :math:`T`; best-of-N costs :math:`N T` and needs a verifier to pick one candidate; one round of
refinement costs 2: a pass that scores every token of the current grid by the model's own
:math:`\log p_\theta(x_j \mid x_{\setminus j})` (read off with nothing masked), then re-masking the ``count``
least confident tokens and drawing new ones from the model, as in one unmasking step.
"""

from __future__ import annotations

import torch

from mmgp_lesson.masked_tokens import single_thread


def nearest_distance(images: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Euclidean distance from each image (N, 8, 8) to its nearest image in ``reference`` (M, 8, 8), shape (N,)."""
    return torch.cdist(images.reshape(len(images), -1), reference.reshape(len(reference), -1)).min(1).values


def pick_by_verifier(candidates: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """From (P, N, L) candidate token grids keep, for each of P prompts, the one with the highest score (P, N)."""
    return candidates[torch.arange(len(candidates)), scores.argmax(1)]


@torch.no_grad()
def refine_least_confident(model, tokens: torch.Tensor, rounds: int, count: int, generator: torch.Generator) -> torch.Tensor:
    r"""``rounds`` rounds of: score each token by :math:`\log p_\theta(x_j)` under ``model(tokens)``, re-mask the
    ``count`` lowest, and redraw them from ``model`` given the rest. Costs ``2 · rounds`` evaluations per grid."""
    tokens = tokens.clone()
    with single_thread():
        for _ in range(rounds):
            confidence = torch.log_softmax(model(tokens), -1).gather(-1, tokens[..., None]).squeeze(-1)
            masked = tokens.scatter(1, confidence.argsort(1)[:, :count], model.mask_id)
            probabilities = torch.softmax(model(masked), -1)
            draws = torch.multinomial(probabilities.reshape(-1, probabilities.shape[-1]), 1, generator=generator)
            tokens = torch.where(masked == model.mask_id, draws.reshape(tokens.shape), tokens)
    return tokens
