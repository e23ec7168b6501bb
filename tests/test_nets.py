"""The training loops learn the exact fields of a small mixture (measured against paths.py)."""

import torch

from mmgp_lesson.nets import learned_score, train_denoising_score_matching, train_flow_matching, train_vae
from mmgp_lesson.paths import LinearPath
from mmgp_lesson.toys import GaussianMixture

MIXTURE = GaussianMixture.isotropic([[-2.0, 0.0], [2.0, 0.0]], std=0.5)


def _relative_error(field, exact_field, path) -> float:
    generator = torch.Generator().manual_seed(1)
    num = den = 0.0
    for t in (0.2, 0.5, 0.8):
        x = path.marginal(MIXTURE, t).sample(2000, generator)
        exact = exact_field(t, x)
        num += ((field(t, x) - exact) ** 2).sum().item()
        den += (exact**2).sum().item()
    return (num / den) ** 0.5


def test_flow_matching_learns_the_marginal_velocity():
    path = LinearPath()
    model, losses = train_flow_matching(path, MIXTURE, steps=800, seed=0)
    with torch.no_grad():
        error = _relative_error(lambda t, x: model(x, t), lambda t, x: path.velocity_by_definition(MIXTURE, t, x), path)
    untrained, _ = train_flow_matching(path, MIXTURE, steps=0, seed=0)
    with torch.no_grad():
        baseline = _relative_error(lambda t, x: untrained(x, t), lambda t, x: path.velocity_by_definition(MIXTURE, t, x), path)
    assert error < 0.2 and error < baseline / 4


def test_denoising_score_matching_learns_the_marginal_score():
    path = LinearPath()
    model, _ = train_denoising_score_matching(path, MIXTURE, steps=800, seed=0)
    error = _relative_error(lambda t, x: learned_score(model, path, t, x), lambda t, x: path.marginal(MIXTURE, t).score(x), path)
    assert error < 0.25


def test_training_is_reproducible():
    path = LinearPath()
    first, _ = train_flow_matching(path, MIXTURE, steps=5, seed=3)
    second, _ = train_flow_matching(path, MIXTURE, steps=5, seed=3)
    x = torch.zeros(4, 2)
    assert torch.equal(first(x, 0.5), second(x, 0.5))


def test_vae_elbo_rises_and_stays_below_the_data_log_likelihood():
    generator = torch.Generator().manual_seed(2)
    train, test = MIXTURE.sample(2000, generator), MIXTURE.sample(1000, generator)
    model, curve = train_vae(train, test, steps=600, seed=0)
    assert curve["test"][-1] > curve["test"][0] + 1.0
    # Gibbs: E_data log p_theta <= E_data log p_data, and ELBO <= log p_theta; margin 3 standard errors
    data_log_likelihood = MIXTURE.log_prob(test)
    assert curve["test"][-1] < data_log_likelihood.mean().item() + 3 * data_log_likelihood.std().item() / len(test) ** 0.5
