r"""Small MLPs and their training loops: flow matching, denoising score matching, a tiny VAE.

Everything here is sized to train in seconds on a CPU: 2-D data, a few thousand steps of Adam on
batches of a few hundred points. Training runs in float32; the lessons cast the learned fields to
float64 to compare them with the exact ones. Every function takes a ``seed``: the initial weights and
every batch come from generators seeded by it, so the same call gives the same network.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from mmgp_lesson.paths import GaussianPath
from mmgp_lesson.reproducible import seeded, single_thread
from mmgp_lesson.toys import DTYPE, GaussianMixture


class MLP(nn.Module):
    """A fully connected network ``in_dim → hidden → … → out_dim`` with SiLU activations."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 64, depth: int = 3):
        super().__init__()
        layers: list[nn.Module] = []
        width = in_dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.SiLU()]
            width = hidden
        layers.append(nn.Linear(width, out_dim))
        self.layers = nn.Sequential(*layers)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.layers(inputs)


class TimeField(nn.Module):
    r"""A time-dependent vector field :math:`f_\theta(x, t)`: an :class:`MLP` on the concatenation :math:`[x, t]`."""

    def __init__(self, dim: int, hidden: int = 64, depth: int = 3):
        super().__init__()
        self.net = MLP(dim + 1, dim, hidden, depth)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``x`` (N, d) and ``t`` (N,) or a float; evaluated in float32, returned in the dtype of ``x``."""
        t = torch.as_tensor(t, dtype=torch.float32).expand(x.shape[0])
        return self.net(torch.cat([x.float(), t[:, None]], dim=1)).to(x.dtype)


def fit(model: nn.Module, loss_fn: Callable[[], torch.Tensor], steps: int, lr: float,
        optimizer: type[torch.optim.Optimizer] = torch.optim.Adam, cosine: bool = True) -> list[float]:
    r"""Minimise ``loss_fn()`` over the parameters of ``model``; returns the loss at every step.

    Each step draws a fresh loss (its batch comes from the caller's seeded generator), then takes one
    ``optimizer`` step with learning rate ``lr``, decayed as :math:`\eta_k = \tfrac{\eta}{2}(1 + \cos(\pi k / K))`
    over the ``steps`` :math:`= K` steps when ``cosine`` is true. Runs inside :func:`single_thread`.
    """
    optimiser = optimizer(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, max(steps, 1)) if cosine else None
    losses = []
    with single_thread():
        for _ in range(steps):
            loss = loss_fn()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            if schedule is not None:
                schedule.step()
            losses.append(loss.item())
    return losses


def _fit_on_path(path: GaussianPath, data: GaussianMixture, target, steps: int, batch: int, hidden: int, lr: float,
                 seed: int) -> tuple[TimeField, list[float]]:
    r"""Least squares on the path: minimise :math:`\mathbb E\,\lVert f_\theta(x_t, t) - \text{target}(x_1, t, \varepsilon)\rVert^2`.

    Each step draws ``batch`` fresh :math:`x_1 \sim` ``data``, :math:`t \sim U(0, 1)` and
    :math:`x_t = \alpha_t x_1 + \sigma_t \varepsilon`; the minimiser over all functions is
    :math:`\mathbb E[\text{target} \mid x_t, t]`.
    """
    generator = torch.Generator().manual_seed(seed)
    model = seeded(lambda: TimeField(data.dim, hidden), seed)

    def loss_fn():
        x1 = data.sample(batch, generator)
        t = torch.rand(batch, dtype=DTYPE, generator=generator)
        xt, eps = path.sample(x1, t, generator)
        return ((model(xt.float(), t.float()) - target(x1, t, eps).float()) ** 2).sum(1).mean()

    return model, fit(model, loss_fn, steps, lr)


def train_flow_matching(path: GaussianPath, data: GaussianMixture, steps: int = 2000, batch: int = 512,
                        hidden: int = 64, lr: float = 3e-3, seed: int = 0) -> tuple[TimeField, list[float]]:
    r"""Fit :math:`v_\theta` by conditional flow matching: minimise :math:`\mathbb E\,\lVert v_\theta(x_t, t) - (\alpha_t' x_1 + \sigma_t' \varepsilon)\rVert^2`.

    :math:`t \sim U(0, 1)`, :math:`x_1 \sim` ``data``, :math:`x_t = \alpha_t x_1 + \sigma_t \varepsilon`. The minimiser is the marginal velocity :math:`v_t`.
    """

    def conditional_velocity(x1, t, eps):
        _, _, d_alpha, d_sigma = path.coefficients(t[:, None])
        return d_alpha * x1 + d_sigma * eps

    return _fit_on_path(path, data, conditional_velocity, steps, batch, hidden, lr, seed)


def train_denoising_score_matching(path: GaussianPath, data: GaussianMixture, steps: int = 2000, batch: int = 512,
                                   hidden: int = 64, lr: float = 3e-3, seed: int = 0) -> tuple[TimeField, list[float]]:
    r"""Fit a noise predictor :math:`\hat\varepsilon_\theta` by denoising score matching with weight :math:`\sigma_t^2`.

    The loss :math:`\mathbb E\,\lVert \hat\varepsilon_\theta(x_t, t) - \varepsilon\rVert^2` equals
    :math:`\mathbb E\, \sigma_t^2 \lVert s_\theta - \nabla \log p_t(x_t \mid x_1)\rVert^2` for :math:`s_\theta = -\hat\varepsilon_\theta / \sigma_t`;
    its minimiser gives the marginal score (read it with :func:`learned_score`).
    """
    return _fit_on_path(path, data, _noise, steps, batch, hidden, lr, seed)


def _noise(x1: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """The denoising target: the noise :math:`\varepsilon` itself."""
    return eps


def learned_score(model: TimeField, path: GaussianPath, t: float, x: torch.Tensor) -> torch.Tensor:
    r"""The score a denoising-score-matching noise predictor implies: :math:`s_\theta(x, t) = -\hat\varepsilon_\theta(x, t) / \sigma_t`."""
    _, sigma, _, _ = path.coefficients(torch.as_tensor(t, dtype=DTYPE))
    with torch.no_grad():
        return -model(x, t) / sigma


class TinyVAE(nn.Module):
    r"""A VAE with encoder :math:`q_\phi(z \mid x) = \mathcal N(\mu_\phi(x), \operatorname{diag}\sigma_\phi^2(x))`,
    prior :math:`\mathcal N(0, I)` and decoder :math:`p_\theta(x \mid z) = \mathcal N(m_\theta(z), \operatorname{diag}\rho_\theta^2(z))`.
    """

    def __init__(self, data_dim: int = 2, latent_dim: int = 2, hidden: int = 64):
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = MLP(data_dim, 2 * latent_dim, hidden, depth=2)
        self.decoder = MLP(latent_dim, 2 * data_dim, hidden, depth=2)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder mean and log standard deviation, each (N, k)."""
        mean, log_std = self.encoder(x).chunk(2, dim=-1)
        return mean, log_std.clamp(-6, 3)

    def decoder_log_prob(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        r""":math:`\log p_\theta(x \mid z)`; ``z`` may carry a leading sample dimension."""
        mean, log_std = self.decoder(z).chunk(2, dim=-1)
        log_std = log_std.clamp(-4, 3)
        return (-0.5 * ((x - mean) / log_std.exp()) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)

    def elbo(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        r"""One-sample reparameterised :math:`\mathbb E_q \log p_\theta(x \mid z) - \mathrm{KL}(q_\phi(z \mid x) \,\|\, \mathcal N(0, I))`, shape (N,).

        The KL between diagonal Gaussians is in closed form: :math:`\tfrac12 \sum_i (\mu_i^2 + \sigma_i^2 - 1 - 2\log\sigma_i)`.
        """
        mean, log_std = self.encode(x)
        z = mean + log_std.exp() * torch.randn(mean.shape, generator=generator)
        kl = 0.5 * (mean**2 + (2 * log_std).exp() - 1 - 2 * log_std).sum(-1)
        return self.decoder_log_prob(x, z) - kl

    def log_weights(self, x: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
        r"""Importance log-weights :math:`\log p_\theta(x, z_j) - \log q_\phi(z_j \mid x)`, :math:`z_j \sim q_\phi`, shape (count, N)."""
        mean, log_std = self.encode(x)
        eps = torch.randn(count, *mean.shape, generator=generator)
        z = mean + log_std.exp() * eps
        log_prior = (-0.5 * z**2 - 0.5 * math.log(2 * math.pi)).sum(-1)
        log_q = (-0.5 * eps**2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        return self.decoder_log_prob(x, z) + log_prior - log_q


def train_vae(train: torch.Tensor, test: torch.Tensor, steps: int = 1500, batch: int = 256, lr: float = 3e-3,
              evaluate_every: int = 100, seed: int = 0) -> tuple[TinyVAE, dict[str, list[float]]]:
    r"""Maximise the ELBO of a :class:`TinyVAE` on ``train`` (N, d); returns the model and its curve.

    The curve holds the training ELBO at every step (``"train"``) and, every ``evaluate_every`` steps,
    the mean ELBO of ``test`` with 16 encoder draws per point (``"test_steps"``, ``"test"``), in nats per point.
    """
    generator = torch.Generator().manual_seed(seed)
    train, test = train.float(), test.float()
    model = seeded(lambda: TinyVAE(train.shape[1]), seed)
    curve: dict[str, list[float]] = {"test_steps": [], "test": []}
    step = [0]

    def evaluate() -> None:
        with torch.no_grad():
            value = torch.stack([model.elbo(test, generator) for _ in range(16)]).mean().item()
        curve["test_steps"].append(step[0])
        curve["test"].append(value)

    def loss_fn():
        if step[0] % evaluate_every == 0:
            evaluate()
        step[0] += 1
        index = torch.randint(len(train), (batch,), generator=generator)
        return -model.elbo(train[index], generator).mean()

    curve["train"] = [-loss for loss in fit(model, loss_fn, steps, lr)]
    evaluate()
    return model, curve
