"""The six families keep the GenerativeModel protocol; their likelihoods are what they claim to be."""

import math

import pytest
import torch

from mmgp_lesson.families import FAMILIES, GAN, VAE, AffineCoupling, Autoregressive, CouplingFlow, NoLikelihood, mixture_1d_log_prob
from mmgp_lesson.plots import grid_points
from mmgp_lesson.toys import DTYPE, GaussianMixture

DATA = GaussianMixture.isotropic([[-2.0, 0.0], [2.0, 0.0]], std=0.5)


def _train(count=500, seed=0):
    return DATA.sample(count, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.__name__)
def test_every_family_keeps_the_protocol_and_is_seeded(family):
    model = family()
    assert model.likelihood in ("exact", "lower bound", "ODE estimate", "none") and model.evaluations >= 1
    losses = model.fit(_train(), steps=5, seed=0)
    assert len(losses) == 5 and all(math.isfinite(v) for v in losses)
    first, second = (model.sample(16, torch.Generator().manual_seed(3)) for _ in range(2))
    assert first.shape == (16, 2) and first.dtype == DTYPE and torch.equal(first, second)
    if model.likelihood == "none":
        with pytest.raises(NoLikelihood):
            model.log_prob(first, torch.Generator())
    else:
        assert model.log_prob(first, torch.Generator().manual_seed(0)).shape == (16,)


def test_coupling_inverts_and_its_log_det_is_the_log_scale():
    coupling = AffineCoupling(keep=1)
    x = torch.randn(50, 2)
    z, log_det = coupling(x)
    assert torch.allclose(coupling.inverse(z), x, atol=1e-5)  # float32 round-off
    assert torch.equal(z[:, 1], x[:, 1])  # the kept coordinate passes through
    jacobian = torch.autograd.functional.jacobian(lambda y: coupling(y[None])[0][0], x[0])
    assert abs(torch.linalg.slogdet(jacobian).logabsdet - log_det[0]) < 1e-5


def test_flow_samples_invert_to_the_noise_and_density_integrates_to_one():
    flow = CouplingFlow(layers=4)
    flow.fit(_train(), steps=50)
    x = flow.sample(100, torch.Generator().manual_seed(1))
    z, _ = flow.to_noise(x)
    assert torch.allclose(z.double(), torch.randn(100, 2, generator=torch.Generator().manual_seed(1)).double(), atol=1e-4)
    xs, _, grid = grid_points(8.0, 121)
    mass = flow.log_prob(grid).exp().sum().item() * (16 / 120) ** 2
    assert abs(mass - 1) < 5e-3  # Riemann sum on a smooth density: grid error well below this


def test_autoregressive_density_integrates_to_one_and_one_d_mixture_is_exact():
    model = Autoregressive()
    _, _, grid = grid_points(10.0, 161)
    assert abs(model.log_prob(grid).exp().sum().item() * (20 / 160) ** 2 - 1) < 5e-3
    x = torch.tensor([0.3])
    value = mixture_1d_log_prob(x, torch.zeros(1, 2), torch.tensor([[0.0, 1.0]]), torch.zeros(1, 2))
    exact = math.log(0.5 * math.exp(-0.045) / math.sqrt(2 * math.pi) + 0.5 * math.exp(-0.245) / math.sqrt(2 * math.pi))
    assert abs(value.item() - exact) < 1e-6


def test_vae_bounds_sit_below_its_quadrature_likelihood():
    vae = VAE(importance=256)
    vae.fit(_train(), steps=100)
    x = _train(100, seed=5)
    generator = torch.Generator().manual_seed(0)
    exact = vae.exact_log_prob(x)
    assert vae.elbo(x, generator).mean() < exact.mean()
    assert abs(vae.log_prob(x, generator).mean() - exact.mean()) < 0.05  # IWAE with K = 256 approaches log q


def test_gan_training_moves_the_generator_and_not_the_seed_stream():
    gan = GAN()
    before = gan.sample(64, torch.Generator().manual_seed(0))
    gan.fit(_train(), steps=20)
    assert not torch.allclose(before, gan.sample(64, torch.Generator().manual_seed(0)))
