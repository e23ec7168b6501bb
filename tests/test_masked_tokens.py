"""Tests for mmgp_lesson.masked_tokens: VQ tokens, the masking schedule, the unmasking sampler."""

import math

import pytest
import torch
from torch.nn import functional as F

from mmgp_lesson.masked_tokens import (
    TOKENS,
    MaskedTokenModel,
    PatchVQAutoencoder,
    VectorQuantizer,
    cosine_schedule,
    from_patches,
    load_digit_images,
    mask_tokens,
    masked_counts,
    straight_through,
    to_patches,
    train_masked_model,
    train_vq,
    unmask_sample,
    untrained_model,
)
from mmgp_lesson.stats import energy_distance


@pytest.fixture(scope="module")
def digits():
    images, _ = load_digit_images()
    return images[:1400], images[1400:]


@pytest.fixture(scope="module")
def trained(digits):
    train, _ = digits
    vq = train_vq(train)
    tokens = vq.tokenize(train)
    model, losses = train_masked_model(tokens, vq.codes)
    return vq, tokens, model, losses


def test_patches_round_trip(digits):
    images = digits[0][:10]
    patches = to_patches(images)
    assert patches.shape == (10, TOKENS, 4)
    assert torch.equal(from_patches(patches), images)
    assert torch.equal(patches[:, 0], images[:, :2, :2].reshape(10, 4))  # token 0 is the top-left 2x2 patch


def test_quantiser_picks_the_nearest_code():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        quantiser = VectorQuantizer(codes=7, dim=3)
    z_e = torch.randn(50, 3, generator=torch.Generator().manual_seed(0))
    out = quantiser(z_e)
    brute = ((z_e[:, None] - quantiser.codebook[None]) ** 2).sum(-1).argmin(1)
    assert torch.equal(out.indices, brute)
    assert torch.allclose(out.z, quantiser.codebook[brute])  # forward value is z_q
    assert torch.isclose(out.codebook_loss, out.commitment_loss)  # same value, different gradients


def test_straight_through_gradients():
    z_e = torch.randn(5, 3, requires_grad=True)
    z_q = torch.randn(5, 3, requires_grad=True)
    weights = torch.randn(5, 3)
    (straight_through(z_e, z_q) * weights).sum().backward()
    assert torch.equal(z_e.grad, weights) and z_q.grad is None  # identity into z_e, nothing into z_q
    z_e.grad = None
    (straight_through(z_e, z_q, stop_gradient=False) * weights).sum().backward()
    assert z_e.grad.abs().max() == 0 and torch.equal(z_q.grad, weights)  # erratum 11: encoder gets nothing


def test_encoder_gradient_vanishes_without_stop_gradient(digits):
    model = PatchVQAutoencoder()
    images = digits[0][:64]
    for stop_gradient, expect_zero in ((True, False), (False, True)):
        model.zero_grad()
        reconstruction, _ = model(images, stop_gradient)
        F.mse_loss(reconstruction, images).backward()
        norm = sum(p.grad.norm() ** 2 for p in model.encoder.parameters()).sqrt().item()
        assert (norm == 0) == expect_zero


def test_vq_reconstructs_and_uses_its_codes(trained, digits):
    vq, _, _, _ = trained
    test = digits[1]
    reconstruction, quantised = vq(test)
    relative = F.mse_loss(reconstruction, test) / test.var()
    assert relative < 0.15  # 32 codes for 2x2 patches keep > 85 % of the pixel variance
    assert quantised.indices.unique().numel() > 16  # the codebook did not collapse


def test_cosine_schedule_and_counts():
    r = torch.linspace(0, 1, 11)
    assert cosine_schedule(0.0).item() == 1.0 and abs(cosine_schedule(1.0).item()) < 1e-7  # float32 round-off
    assert torch.all(cosine_schedule(r)[1:] < cosine_schedule(r)[:-1])
    counts = masked_counts(12)
    assert counts[-1] == 0 and all(a >= b for a, b in zip(counts, counts[1:]))
    assert counts[0] == math.floor(16 * math.cos(math.pi / 24))


def test_mask_tokens_fraction_follows_the_schedule():
    generator = torch.Generator().manual_seed(0)
    tokens = torch.zeros(20_000, TOKENS, dtype=torch.long)
    corrupted, mask = mask_tokens(tokens, 99, generator)
    assert torch.equal(corrupted == 99, mask) and mask.sum(1).min() >= 1
    # E[ceil(gamma(r) N)] / N with r ~ U(0, 1): E[cos(pi r / 2)] = 2 / pi, ceil adds about 1/(2N)
    fraction = mask.double().mean().item()
    standard_error = mask.double().mean(1).std().item() / math.sqrt(len(mask))
    assert abs(fraction - (2 / math.pi + 0.5 / TOKENS)) < 5 * standard_error + 0.01


def test_sampler_follows_the_schedule_and_keeps_tokens():
    model = untrained_model(codes=8)
    tokens, grids = unmask_sample(model, 5, 6, torch.Generator().manual_seed(0), history=True)
    assert (tokens != model.mask_id).all() and tokens.max() < 8
    masked = [int((grid == model.mask_id).sum(1)[0]) for grid in grids]
    assert masked == masked_counts(6)
    for before, after in zip(grids, grids[1:]):
        kept = before != model.mask_id
        assert torch.equal(after[kept], before[kept])  # a committed token is never changed


def test_sampler_commits_the_most_confident_token():
    class Fixed(torch.nn.Module):
        """Position j predicts code j with probability growing in j: the sampler must commit the last positions first."""
        mask_id = 4

        def forward(self, tokens):
            logits = torch.full((*tokens.shape, 4), -30.0)
            for j in range(tokens.shape[1]):
                logits[:, j, j % 4] = float(j)
            return logits

    _, grids = unmask_sample(Fixed(), 2, 4, torch.Generator().manual_seed(0), temperature=0.0, length=8, history=True)
    first = grids[0][0] != Fixed.mask_id
    assert first.nonzero().squeeze(1).tolist() == list(range(8 - first.sum().item(), 8))


def test_trained_model_beats_untrained(trained, digits):
    vq, _, model, losses = trained
    test = digits[1]
    assert sum(losses[-20:]) / 20 < losses[0] - 1.0  # cross-entropy drops from about log K
    generator = torch.Generator().manual_seed(1)
    good = energy_distance(vq.decode(unmask_sample(model, 300, 12, generator)), test)
    bad = energy_distance(vq.decode(unmask_sample(untrained_model(vq.codes), 300, 12, generator)), test)
    reference = energy_distance(digits[0][:300], test)  # real vs real: the sampling noise floor
    assert good < bad / 4 and bad - good > 20 * reference


def test_masked_model_shapes():
    model = MaskedTokenModel(codes=10)
    assert model(torch.full((3, TOKENS), model.mask_id)).shape == (3, TOKENS, 10)


def test_sampler_equals_amused_scheduler():
    from diffusers import AmusedScheduler

    model = untrained_model(codes=8)
    for steps, temperature in ((4, 2.0), (12, 5.0)):
        ours = unmask_sample(model, 40, steps, torch.Generator().manual_seed(3), temperature=temperature)
        scheduler = AmusedScheduler(mask_token_id=model.mask_id)
        scheduler.set_timesteps(steps, temperature=(temperature, 0))
        generator = torch.Generator().manual_seed(3)
        tokens = torch.full((40, TOKENS), model.mask_id)
        with torch.no_grad():
            for timestep in scheduler.timesteps:
                tokens = scheduler.step(model(tokens), timestep, tokens, generator=generator).prev_sample
        assert torch.equal(ours, tokens)  # same algorithm, same random draws: identical tokens
