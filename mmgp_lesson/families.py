r"""Six families of generative models behind one interface, on 2-D data (lesson 09).

Every family implements :class:`GenerativeModel`: ``fit`` on a training set, ``sample`` with an explicit
generator, and ``log_prob`` where the family has a likelihood, with ``likelihood`` saying what kind:

=================  ===========================================================  ===================
family             what ``log_prob`` returns                                    paper
=================  ===========================================================  ===================
VAE                the IWAE lower bound (``exact_log_prob``: 2-D quadrature)    Kingma & Welling 2014
coupling flow      exact: change of variables through affine couplings         Dinh et al. 2017
autoregressive     exact: :math:`\log p(x_1) + \log p(x_2 \mid x_1)`           van den Oord et al. 2016
GAN                none (raises :class:`NoLikelihood`): samples only            Goodfellow et al. 2014
score / DDPM       ODE estimate: lesson 03's PF-ODE and divergence integral     Ho et al. 2020, Song et al. 2021
flow matching      ODE estimate: its own ODE and divergence integral            Lipman et al. 2023
=================  ===========================================================  ===================

Networks train in float32 on one CPU thread (:func:`mmgp_lesson.nets.fit`); the data and every
returned tensor are float64. ``evaluations`` is the number of network evaluations one sample costs.
"""

from __future__ import annotations

import math
from typing import Protocol

import torch
from torch import nn

from mmgp_lesson.nets import MLP, TimeField, TinyVAE, fit, train_denoising_score_matching, train_flow_matching
from mmgp_lesson.reproducible import seeded
from mmgp_lesson.paths import LinearPath, VariancePreservingPath
from mmgp_lesson.sde import VPSDE, heun, log_density_by_divergence, time_grid
from mmgp_lesson.toys import DTYPE

LOG_2PI = math.log(2 * math.pi)


class NoLikelihood(NotImplementedError):
    """Raised by ``log_prob`` of a family that defines no density (the GAN)."""


class GenerativeModel(Protocol):
    """What every family offers: a name, the kind of likelihood it has, fitting and sampling."""

    name: str
    likelihood: str  # "exact", "lower bound", "ODE estimate" or "none"
    evaluations: int  # network evaluations per sample

    def fit(self, train: torch.Tensor, steps: int, seed: int) -> list[float]:
        """Train on the (N, 2) points ``train``; returns the loss at every step."""

    def sample(self, count: int, generator: torch.Generator) -> torch.Tensor:
        """``count`` draws, shape (count, 2), float64."""

    def log_prob(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The family's log-likelihood (exact, bound or estimate, see ``likelihood``), shape (N,)."""


class Dataset:
    """A fixed training set that answers ``sample(count, generator)`` by drawing rows with replacement,
    so that the trainers of :mod:`mmgp_lesson.nets` (written for a data law) train on it."""

    def __init__(self, points: torch.Tensor):
        self.points, self.dim = points, points.shape[1]

    def sample(self, count: int, generator: torch.Generator) -> torch.Tensor:
        return self.points[torch.randint(len(self.points), (count,), generator=generator)]


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    r""":math:`\log \mathcal N(z; 0, I)`, shape (N,)."""
    return -0.5 * (z**2).sum(-1) - 0.5 * z.shape[-1] * LOG_2PI


def _batches(train: torch.Tensor, batch: int, generator: torch.Generator) -> torch.Tensor:
    return train[torch.randint(len(train), (batch,), generator=generator)].float()


# ---------------------------------------------------------------- VAE


class VAE:
    r"""Lesson 01's :class:`~mmgp_lesson.nets.TinyVAE` trained by the ELBO; ``log_prob`` is the IWAE bound
    :math:`\log \frac1K \sum_k p(x, z_k) / q(z_k \mid x)` with ``importance`` = K draws (Burda et al., 2016)."""

    name, likelihood, evaluations = "VAE", "lower bound", 1

    def __init__(self, importance: int = 64, seed: int = 0):
        self.importance = importance
        self.model = seeded(lambda: TinyVAE(2), seed)

    def fit(self, train, steps=1500, seed=0):
        generator = torch.Generator().manual_seed(seed)
        return fit(self.model, lambda: -self.model.elbo(_batches(train, 256, generator), generator).mean(), steps, 3e-3)

    @torch.no_grad()
    def sample(self, count, generator):
        z = torch.randn(count, self.model.latent_dim, generator=generator)
        mean, log_std = self.model.decoder(z).chunk(2, dim=-1)
        return (mean + log_std.clamp(-4, 3).exp() * torch.randn(mean.shape, generator=generator)).double()

    @torch.no_grad()
    def elbo(self, x, generator):
        """The one-draw ELBO, averaged over ``importance`` encoder draws (its expectation, not a bound on it)."""
        return torch.stack([self.model.elbo(x.float(), generator) for _ in range(self.importance)]).mean(0).double()

    @torch.no_grad()
    def log_prob(self, x, generator):
        weights = self.model.log_weights(x.float(), self.importance, generator)
        return (torch.logsumexp(weights, 0) - math.log(self.importance)).double()

    @torch.no_grad()
    def exact_log_prob(self, x, extent: float = 6.0, count: int = 161):
        r""":math:`\log \int p_\theta(x \mid z)\, \mathcal N(z; 0, I)\, dz` by the trapezoid rule on a ``count``² grid over
        :math:`[-e, e]^2`; the prior mass outside is below :math:`4 e^{-e^2/2}`."""
        axis = torch.linspace(-extent, extent, count)
        z = torch.cartesian_prod(axis, axis)
        weight = torch.full((count,), (axis[1] - axis[0]).item())
        weight[[0, -1]] /= 2
        log_cell = torch.log(torch.outer(weight, weight).reshape(-1))
        joint = self.model.decoder_log_prob(x.float()[:, None, :], z[None]) + standard_normal_log_prob(z)[None]
        return torch.logsumexp(joint.double() + log_cell.double()[None], 1)


# ---------------------------------------------------------------- coupling flow


class AffineCoupling(nn.Module):
    r"""One RealNVP coupling, data side to noise side: coordinate ``keep`` passes through,
    :math:`z_b = x_b\, e^{\sigma(x_a)} + \mu(x_a)`, so :math:`\log|\det \partial z/\partial x| = \sigma(x_a)`."""

    def __init__(self, keep: int, hidden: int = 64):
        super().__init__()
        self.keep, self.net = keep, MLP(1, 2, hidden, depth=2)

    def shift_and_log_scale(self, x_a):
        shift, raw = self.net(x_a).chunk(2, dim=-1)
        return shift, 2.0 * torch.tanh(raw / 2.0)  # a bounded log-scale keeps early training stable

    def forward(self, x):
        x_a, x_b = x[:, self.keep : self.keep + 1], x[:, 1 - self.keep : 2 - self.keep]
        shift, log_scale = self.shift_and_log_scale(x_a)
        z_b = x_b * log_scale.exp() + shift
        z = torch.cat([x_a, z_b], 1) if self.keep == 0 else torch.cat([z_b, x_a], 1)
        return z, log_scale.squeeze(1)

    def inverse(self, z):
        z_a, z_b = z[:, self.keep : self.keep + 1], z[:, 1 - self.keep : 2 - self.keep]
        shift, log_scale = self.shift_and_log_scale(z_a)
        x_b = (z_b - shift) * (-log_scale).exp()
        return torch.cat([z_a, x_b], 1) if self.keep == 0 else torch.cat([x_b, z_a], 1)


class CouplingFlow(nn.Module):
    r"""A RealNVP-style flow (Dinh et al., 2017): a fixed standardisation, then ``layers`` affine couplings
    alternating the kept coordinate; :math:`\log p(x) = \log \mathcal N(f(x); 0, I) + \log|\det f'(x)|`."""

    name, likelihood = "coupling flow", "exact"

    def __init__(self, layers: int = 6, seed: int = 0):
        super().__init__()
        self.couplings = seeded(lambda: nn.ModuleList(AffineCoupling(k % 2) for k in range(layers)), seed)
        self.evaluations = layers
        self.register_buffer("center", torch.zeros(2))
        self.register_buffer("scale", torch.ones(2))

    def to_noise(self, x):
        """:math:`z = f(x)` and :math:`\\log|\\det f'(x)|`, float32."""
        z = (x.float() - self.center) / self.scale
        log_det = -self.scale.log().sum().expand(len(z))
        for coupling in self.couplings:
            z, step = coupling(z)
            log_det = log_det + step
        return z, log_det

    def fit(self, train, steps=1500, seed=0):
        self.center, self.scale = train.float().mean(0), train.float().std(0)
        generator = torch.Generator().manual_seed(seed)
        return fit(self, lambda: -self.log_prob(_batches(train, 256, generator)).mean(), steps, 3e-3)

    def log_prob(self, x, generator=None):
        z, log_det = self.to_noise(x)
        return (standard_normal_log_prob(z) + log_det).double()

    @torch.no_grad()
    def sample(self, count, generator):
        z = torch.randn(count, 2, generator=generator)
        for coupling in reversed(self.couplings):
            z = coupling.inverse(z)
        return (z * self.scale + self.center).double()


# ---------------------------------------------------------------- autoregressive


def mixture_1d_log_prob(x, logits, means, log_stds):
    r""":math:`\log \sum_k \pi_k \mathcal N(x; m_k, \sigma_k^2)` with :math:`\pi = \operatorname{softmax}(\text{logits})`; ``x`` (N,), the rest (N, K)."""
    z = (x[:, None] - means) / log_stds.exp()
    return torch.logsumexp(torch.log_softmax(logits, -1) - 0.5 * z**2 - log_stds - 0.5 * LOG_2PI, -1)


class Autoregressive(nn.Module):
    r"""The chain rule :math:`p(x) = p(x_1)\, p(x_2 \mid x_1)` with each factor a mixture of ``components``
    1-D Gaussians: free parameters for :math:`p(x_1)`, an MLP of :math:`x_1` for :math:`p(x_2 \mid x_1)` (the
    autoregressive factorisation of van den Oord et al., 2016, on two coordinates)."""

    name, likelihood, evaluations = "autoregressive", "exact", 2

    def __init__(self, components: int = 8, seed: int = 0):
        super().__init__()
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.first = nn.Parameter(torch.cat([torch.zeros(components), torch.linspace(-3, 3, components),
                                                 torch.zeros(components)]))
            self.conditional = MLP(1, 3 * components, 64, depth=2)
        self.components = components

    def _first(self, count):
        logits, means, log_stds = self.first.expand(count, -1).chunk(3, -1)
        return logits, means, log_stds.clamp(-5, 3)

    def _second(self, x1):
        logits, means, log_stds = self.conditional(x1[:, None]).chunk(3, -1)
        return logits, means, log_stds.clamp(-5, 3)

    def log_prob(self, x, generator=None):
        x = x.float()
        return (mixture_1d_log_prob(x[:, 0], *self._first(len(x))) + mixture_1d_log_prob(x[:, 1], *self._second(x[:, 0]))).double()

    def fit(self, train, steps=1500, seed=0):
        generator = torch.Generator().manual_seed(seed)
        return fit(self, lambda: -self.log_prob(_batches(train, 256, generator)).mean(), steps, 3e-3)

    @staticmethod
    def _draw(logits, means, log_stds, generator):
        k = torch.multinomial(torch.softmax(logits, -1), 1, generator=generator)
        return (means.gather(1, k) + log_stds.gather(1, k).exp() * torch.randn(k.shape, generator=generator)).squeeze(1)

    @torch.no_grad()
    def sample(self, count, generator):
        x1 = self._draw(*self._first(count), generator)
        return torch.stack([x1, self._draw(*self._second(x1), generator)], 1).double()


# ---------------------------------------------------------------- GAN


class GAN:
    r"""A generator :math:`G(z)`, :math:`z \sim \mathcal N(0, I)`, against a discriminator :math:`D(x)`, trained with the
    non-saturating losses :math:`-\log \sigma(D(x)) - \log(1 - \sigma(D(G(z))))` and :math:`-\log \sigma(D(G(z)))`
    (Goodfellow et al., 2014). There is no density: ``log_prob`` raises :class:`NoLikelihood`."""

    name, likelihood, evaluations = "GAN", "none", 1

    def __init__(self, seed: int = 0):
        self.generator = seeded(lambda: MLP(2, 2, 64, depth=3), seed)
        self.discriminator = seeded(lambda: MLP(2, 1, 64, depth=3), seed + 1)

    def fit(self, train, steps=1500, seed=0):
        generator = torch.Generator().manual_seed(seed)
        softplus = nn.functional.softplus
        optimiser = torch.optim.Adam(self.discriminator.parameters(), lr=1e-3, betas=(0.5, 0.999))
        # the generator's step is taken by fit; the discriminator's inside its loss function
        def generator_loss():
            fake = self.generator(torch.randn(256, 2, generator=generator))
            real = _batches(train, 256, generator)
            d_loss = softplus(-self.discriminator(real)).mean() + softplus(self.discriminator(fake.detach())).mean()
            optimiser.zero_grad()
            d_loss.backward()
            optimiser.step()
            return softplus(-self.discriminator(fake)).mean()

        return fit(self.generator, generator_loss, steps, 1e-3)

    @torch.no_grad()
    def sample(self, count, generator):
        return self.generator(torch.randn(count, 2, generator=generator)).double()

    def log_prob(self, x, generator=None):
        raise NoLikelihood("a GAN defines a sampler, not a density: compare its samples instead")


# ---------------------------------------------------------------- ODE families


class _ODEFamily:
    """Shared by the two ODE families: sampling by Heun along ``times`` and the likelihood by the
    divergence integral back to the Gaussian end (:func:`mmgp_lesson.sde.log_density_by_divergence`)."""

    likelihood = "ODE estimate"

    def __init__(self, steps: int):
        self.steps, self.evaluations = steps, 2 * steps  # Heun: two field evaluations per step

    def sample(self, count, generator):
        with torch.no_grad():
            noise = torch.randn(count, 2, dtype=DTYPE, generator=generator)
            return heun(self.velocity, noise, self.times_to_data())

    def log_prob(self, x, generator=None):
        return log_density_by_divergence(self.velocity, standard_normal_log_prob, x.to(DTYPE), self.times_to_data().flip(0)).detach()


class ScoreDDPM(_ODEFamily):
    r"""A DDPM-style noise predictor (Ho et al., 2020) trained by denoising score matching on the VP path,
    read as a score :math:`s_\theta(x, \tau) = -\hat\varepsilon_\theta / \sqrt{1 - \alpha_\tau^2}` and sampled and
    scored through lesson 03's probability-flow ODE of the VP SDE (diffusion time :math:`\tau`, data at 0;
    Song et al., 2021), from :math:`\tau = 1` to :math:`\tau = 10^{-3}`, where the noise level is 0.01."""

    name = "score / DDPM"

    def __init__(self, steps: int = 40, seed: int = 0):
        super().__init__(steps)
        self.path, self.sde, self.seed = VariancePreservingPath(), VPSDE(0.1, 20.0, 1.0), seed
        self.model = seeded(lambda: TimeField(2), seed)

    def fit(self, train, steps=1500, seed=0):
        self.model, losses = train_denoising_score_matching(self.path, Dataset(train), steps=steps, batch=256, seed=seed)
        return losses

    def score(self, x, tau):
        noise_level = self.path.coefficients(1.0 - tau)[1].item()  # s_t = √(1 − α_τ²) at t = 1 − τ
        return -self.model(x, 1.0 - tau) / noise_level

    def velocity(self, x, tau):
        return self.sde.probability_flow(self.score)(x, tau)

    def times_to_data(self):
        return time_grid(1.0, 1e-3, self.steps)


class FlowMatching(_ODEFamily):
    r"""A velocity :math:`v_\theta(x, t)` fitted by conditional flow matching on the linear path (Lipman et al., 2023;
    flow-matching time: noise at 0, data at 1), sampled by its ODE from 0 to 1."""

    name = "flow matching"

    def __init__(self, steps: int = 40, seed: int = 0):
        super().__init__(steps)
        self.model = seeded(lambda: TimeField(2), seed)

    def fit(self, train, steps=1500, seed=0):
        self.model, losses = train_flow_matching(LinearPath(), Dataset(train), steps=steps, batch=256, seed=seed)
        return losses

    def velocity(self, x, t):
        return self.model(x, t)

    def times_to_data(self):
        return time_grid(0.0, 1.0, self.steps)


FAMILIES = (VAE, CouplingFlow, Autoregressive, GAN, ScoreDDPM, FlowMatching)
"""The six families, in the order of the lesson's table."""
