r"""Masked-token image generation, written out once in plain torch (lesson 05, the idea behind aMUSEd).

Three pieces, each small enough to read in one sitting:

1. **VQ tokens.** An encoder maps each 2x2 patch of an 8x8 digit to a vector :math:`z_e \in \mathbb R^D`;
   the quantiser replaces it by its nearest codebook vector :math:`z_q = e_k`,
   :math:`k = \arg\min_j \lVert z_e - e_j \rVert`. The digit becomes a 4x4 grid of token ids. The
   arg-min has no gradient, so training uses the straight-through estimator
   :math:`\hat z = z_e + \operatorname{sg}(z_q - z_e)` (forward value :math:`z_q`, gradient of :math:`z_e`)
   and two extra losses: the codebook loss :math:`\lVert \operatorname{sg}(z_e) - z_q \rVert^2` moves the
   codes, the commitment loss :math:`\beta \lVert z_e - \operatorname{sg}(z_q) \rVert^2` keeps the encoder
   near them (van den Oord et al., 2017).
2. **The cosine masking schedule** :math:`\gamma(r) = \cos(\pi r / 2)`: the fraction of tokens still
   masked after a fraction :math:`r` of the sampling steps; training masks a fraction :math:`\gamma(r)`,
   :math:`r \sim U(0, 1)` (MaskGIT, Chang et al., 2022).
3. **Confidence-ordered unmasking.** Start from all-masked tokens; at step :math:`i` of :math:`T`,
   predict every masked token, sample a candidate for each, then re-mask the
   :math:`\lfloor \gamma((i+1)/T)\, N \rfloor` least confident candidates. Tokens once kept stay kept.

The data are scikit-learn's 8x8 digits (bundled with scikit-learn, no download), scaled to [0, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.nn import functional as F

from mmgp_lesson.nets import fit
from mmgp_lesson.reproducible import seeded, single_thread

PATCH = 2
"""Side of the pixel patch one token stands for: an 8x8 digit becomes a 4x4 token grid."""
GRID = 8 // PATCH
TOKENS = GRID * GRID


def load_digit_images() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 1797 digits as float32 images in [0, 1], shape (N, 8, 8), and their labels (N,)."""
    digits = load_digits()
    return torch.tensor(digits.images / 16.0, dtype=torch.float32), torch.tensor(digits.target)


def to_patches(images: torch.Tensor) -> torch.Tensor:
    """(N, 8, 8) images to (N, 16, 4) patch vectors, row-major over the 4x4 grid."""
    n = images.shape[0]
    patches = images.reshape(n, GRID, PATCH, GRID, PATCH).permute(0, 1, 3, 2, 4)
    return patches.reshape(n, TOKENS, PATCH * PATCH)


def from_patches(patches: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`to_patches`: (N, 16, 4) to (N, 8, 8)."""
    n = patches.shape[0]
    return patches.reshape(n, GRID, GRID, PATCH, PATCH).permute(0, 1, 3, 2, 4).reshape(n, 8, 8)


def straight_through(z_e: torch.Tensor, z_q: torch.Tensor, stop_gradient: bool = True) -> torch.Tensor:
    r"""The straight-through estimator :math:`z_e + \operatorname{sg}(z_q - z_e)`.

    Its value is :math:`z_q`; its gradient with respect to :math:`z_e` is the identity. With
    ``stop_gradient=False`` it computes :math:`z_e + (z_q - z_e)`, whose gradient flows into
    :math:`z_q` and not into :math:`z_e` (erratum 11: the encoder then learns nothing from the decoder).
    """
    difference = z_q - z_e
    return z_e + (difference.detach() if stop_gradient else difference)


@dataclass
class Quantised:
    """The output of :class:`VectorQuantizer`: straight-through vectors, token ids and the two VQ losses."""

    z: torch.Tensor
    indices: torch.Tensor
    codebook_loss: torch.Tensor
    commitment_loss: torch.Tensor


class VectorQuantizer(nn.Module):
    r"""Nearest-neighbour quantiser with a learned codebook :math:`\{e_j\}_{j<K} \subset \mathbb R^D`."""

    def __init__(self, codes: int, dim: int):
        super().__init__()
        self.codebook = nn.Parameter(torch.randn(codes, dim) * 0.5)

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """Codebook vectors :math:`e_k` for token ids of any shape: shape ``indices.shape + (D,)``."""
        return self.codebook[indices]

    def forward(self, z_e: torch.Tensor, stop_gradient: bool = True) -> Quantised:
        r"""Quantise ``z_e`` (..., D): :math:`k = \arg\min_j \lVert z_e - e_j\rVert^2`, :math:`z_q = e_k`.

        Codebook loss :math:`\lVert \operatorname{sg}(z_e) - z_q\rVert^2` (uses the raw :math:`z_q`, so it moves the codes);
        commitment loss :math:`\lVert z_e - \operatorname{sg}(z_q)\rVert^2` (moves the encoder); both averaged.
        """
        # exact differences, not the faster |a|² - 2ab + |b|² form, whose round-off can flip near-ties
        distances = torch.cdist(z_e.reshape(-1, z_e.shape[-1]), self.codebook, compute_mode="donot_use_mm_for_euclid_dist")
        indices = distances.argmin(dim=1).reshape(z_e.shape[:-1])
        z_q = self.lookup(indices)
        return Quantised(
            z=straight_through(z_e, z_q, stop_gradient),
            indices=indices,
            codebook_loss=F.mse_loss(z_q, z_e.detach()),
            commitment_loss=F.mse_loss(z_e, z_q.detach()),
        )


class PatchVQAutoencoder(nn.Module):
    """A VQ autoencoder on 2x2 patches: MLP encoder 4 -> D, quantiser with K codes, MLP decoder D -> 4."""

    def __init__(self, codes: int = 32, dim: int = 8, hidden: int = 32):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(PATCH * PATCH, hidden), nn.SiLU(), nn.Linear(hidden, dim))
        self.quantizer = VectorQuantizer(codes, dim)
        self.decoder = nn.Sequential(nn.Linear(dim, hidden), nn.SiLU(), nn.Linear(hidden, PATCH * PATCH))

    @property
    def codes(self) -> int:
        return self.quantizer.codebook.shape[0]

    def forward(self, images: torch.Tensor, stop_gradient: bool = True) -> tuple[torch.Tensor, Quantised]:
        """Reconstruct (N, 8, 8) images through the tokens; returns the reconstruction and the quantiser output."""
        quantised = self.quantizer(self.encoder(to_patches(images)), stop_gradient)
        return from_patches(self.decoder(quantised.z)), quantised

    def loss(self, images: torch.Tensor, beta: float = 0.25, stop_gradient: bool = True) -> torch.Tensor:
        r"""VQ-VAE loss: :math:`\lVert x - \hat x\rVert^2 + \lVert\operatorname{sg}(z_e) - z_q\rVert^2 + \beta \lVert z_e - \operatorname{sg}(z_q)\rVert^2`."""
        reconstruction, quantised = self(images, stop_gradient)
        return F.mse_loss(reconstruction, images) + quantised.codebook_loss + beta * quantised.commitment_loss

    @torch.no_grad()
    def tokenize(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 8, 8) images to (N, 16) token ids."""
        return self.quantizer(self.encoder(to_patches(images))).indices

    @torch.no_grad()
    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """(N, 16) token ids to (N, 8, 8) images."""
        return from_patches(self.decoder(self.quantizer.lookup(tokens)))


def train_vq(images: torch.Tensor, steps: int = 300, batch: int = 256, lr: float = 1e-2, seed: int = 0) -> PatchVQAutoencoder:
    """Train a :class:`PatchVQAutoencoder` on ``images``; codes start at encoded patches (k-means style init)."""
    generator = torch.Generator().manual_seed(seed)
    model = seeded(PatchVQAutoencoder, seed)
    with torch.no_grad():  # start each code at a random encoded patch, so that no code starts unused
        z_e = model.encoder(to_patches(images)).reshape(-1, model.quantizer.codebook.shape[1])
        model.quantizer.codebook.copy_(z_e[torch.randperm(len(z_e), generator=generator)[: model.codes]])
    fit(model, lambda: model.loss(images[torch.randint(len(images), (batch,), generator=generator)]), steps, lr,
        cosine=False)
    return model


def cosine_schedule(r: torch.Tensor | float) -> torch.Tensor:
    r"""Fraction of tokens still masked after a fraction ``r`` of the process: :math:`\gamma(r) = \cos(\pi r / 2)`.

    Computed in float32 like ``AmusedScheduler``: at :math:`r = 2/3` float32 gives :math:`\gamma = 0.49999997`,
    so :math:`\lfloor 16 \gamma \rfloor = 7`, not 8, and the token counts must round the same way to match it.
    """
    return torch.cos(torch.as_tensor(r, dtype=torch.float32) * math.pi / 2)


def masked_counts(steps: int, tokens: int = TOKENS) -> list[int]:
    r"""Tokens left masked after each of ``steps`` sampling steps, as the sampler and ``AmusedScheduler`` leave them.

    :math:`n_i = \lfloor \gamma((i+1)/T)\, L\rfloor`, clipped to :math:`[1, n_{i-1} - 1]` (with :math:`n_{-1} = L`) so that
    every step commits at least one token; the last step leaves :math:`n_{T-1} = 0`.
    """
    counts, previous = [], tokens
    for i in range(steps - 1):
        previous = max(1, min(math.floor(tokens * cosine_schedule((i + 1) / steps).item()), previous - 1))
        counts.append(previous)
    return counts + [0]


def mask_tokens(tokens: torch.Tensor, mask_id: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Training corruption: for each row draw :math:`r \sim U(0,1)` and mask :math:`\lceil \gamma(r) N \rceil` random tokens.

    Returns ``(corrupted tokens, boolean mask)``; at least one token per row is masked.
    """
    n, length = tokens.shape
    ratio = cosine_schedule(torch.rand(n, generator=generator))
    count = torch.ceil(ratio * length).clamp(1, length)
    ranks = torch.rand(n, length, generator=generator).argsort(dim=1).argsort(dim=1)  # a random permutation per row
    mask = ranks < count[:, None]
    return torch.where(mask, torch.full_like(tokens, mask_id), tokens), mask


class MaskedTokenModel(nn.Module):
    """A bidirectional transformer over the 16 tokens: embeddings of K codes + [MASK], logits over the K codes."""

    def __init__(self, codes: int, width: int = 64, layers: int = 2, heads: int = 4):
        super().__init__()
        self.codes = codes
        self.embed = nn.Embedding(codes + 1, width)
        self.position = nn.Parameter(torch.randn(TOKENS, width) * 0.02)
        layer = nn.TransformerEncoderLayer(width, heads, 2 * width, dropout=0.0, batch_first=True, norm_first=True)
        self.body = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(width, codes)

    @property
    def mask_id(self) -> int:
        """The id of the [MASK] token: one past the last code."""
        return self.codes

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(N, 16) token ids (codes or [MASK]) to (N, 16, K) logits."""
        return self.head(self.body(self.embed(tokens) + self.position))


def untrained_model(codes: int, seed: int = 0) -> MaskedTokenModel:
    """A :class:`MaskedTokenModel` with its initial random weights drawn from ``seed``."""
    return seeded(lambda: MaskedTokenModel(codes), seed)


def train_masked_model(tokens: torch.Tensor, codes: int, steps: int = 200, batch: int = 64, lr: float = 2e-3,
                       seed: int = 0) -> tuple[MaskedTokenModel, list[float]]:
    r"""Train by masked-token prediction: cross-entropy of the true token at masked positions only.

    The loss :math:`-\mathbb E \sum_{i \in M} \log p_\theta(x_i \mid x_{\bar M})` with the mask :math:`M` drawn by
    :func:`mask_tokens`. Returns the model and the loss at every step.
    """
    generator = torch.Generator().manual_seed(seed)
    model = untrained_model(codes, seed)

    def loss_fn() -> torch.Tensor:
        clean = tokens[torch.randint(len(tokens), (batch,), generator=generator)]
        corrupted, mask = mask_tokens(clean, model.mask_id, generator)
        return F.cross_entropy(model(corrupted)[mask], clean[mask])

    losses = fit(model, loss_fn, steps, lr, optimizer=torch.optim.AdamW)
    return model.eval(), losses


def gumbel_noise(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    r"""Standard Gumbel noise :math:`-\log(-\log U)`, :math:`U \sim U(0, 1)`, clamped away from :math:`\log 0` (float32)."""
    uniform = torch.zeros(shape).uniform_(0, 1, generator=generator)
    return -torch.log((-torch.log(uniform.clamp(1e-20))).clamp(1e-20))


@torch.no_grad()
def unmask_sample(model, count: int, steps: int, generator: torch.Generator, temperature: float = 2.0,
                  length: int = TOKENS, history: bool = False):
    r"""Confidence-ordered iterative unmasking (MaskGIT), the algorithm of diffusers' ``AmusedScheduler``.

    ``model(tokens)`` returns (N, L, K) logits and ``model.mask_id`` is the [MASK] id. At step
    :math:`i = 0, \dots, T-1` with :math:`r = (i+1)/T`:

    1. sample a candidate :math:`\hat x_j \sim \operatorname{softmax}(\ell_j)` at every masked position;
    2. its confidence is :math:`\log p(\hat x_j) + \tau_i g_j`, Gumbel noise :math:`g_j`, with the
       temperature falling linearly from :math:`\tau_0` = ``temperature`` to :math:`\tau_{T-1} = 0`
       (aMUSEd's ``temperature=(2, 0)``); tokens already kept get confidence :math:`+\infty`;
    3. unless it is the last step, re-mask the :math:`n_i = \lfloor\gamma(r) L\rfloor` least confident positions,
       with :math:`n_i` clipped to :math:`[1, n_{i-1} - 1]` so that each step commits at least one token
       (:func:`masked_counts`).

    The random draws come in the scheduler's order (multinomial, then uniforms for the Gumbel noise), so
    with the same generator the tokens equal ``AmusedScheduler``'s. Returns the (N, L) tokens, and with
    ``history=True`` also the list of token grids after each step.
    """
    tokens = torch.full((count, length), model.mask_id, dtype=torch.long)
    temperatures = torch.linspace(temperature, 0, steps)
    grids = []
    with single_thread():
        for step in range(steps):
            masked = tokens == model.mask_id
            probabilities = torch.softmax(model(tokens).float(), dim=-1)
            candidates = torch.multinomial(probabilities.reshape(-1, probabilities.shape[-1]), 1, generator=generator)
            candidates = torch.where(masked, candidates.reshape(count, length), tokens)
            if step < steps - 1:
                keep_masked = masked_counts(steps, length)[step]
                chosen = probabilities.gather(-1, candidates[..., None]).squeeze(-1)
                confidence = torch.log(chosen.clamp(1e-20)) + temperatures[step] * gumbel_noise(chosen.shape, generator)
                confidence = torch.where(masked, confidence, torch.full_like(confidence, math.inf))
                lowest = confidence.argsort(dim=1)[:, :keep_masked]
                candidates = candidates.scatter(1, lowest, model.mask_id)
            tokens = candidates
            if history:
                grids.append(tokens.clone())
    return (tokens, grids) if history else tokens
