r"""Measures of a sample against data that need no likelihood (lesson 09).

- **Precision and recall of samples** (Kynkäänniemi et al., 2019): the real manifold is the union of
  balls around each real point :math:`y_j` with radius :math:`r_k(y_j)`, the distance to its k-th nearest
  real neighbour; *precision* is the share of generated points inside it, *recall* the share of real
  points inside the generated manifold built the same way. Precision falls when samples leave the data,
  recall when a mode is missing.
- **Fréchet distance** between Gaussians (the statistic behind FID, Heusel et al., 2017):
  :math:`\lVert \mu_1 - \mu_2\rVert^2 + \operatorname{tr}\big(\Sigma_1 + \Sigma_2 - 2(\Sigma_1\Sigma_2)^{1/2}\big)`,
  applied to the sample means and covariances of two samples. That plug-in estimator is biased upwards
  (two samples of one law give a positive value that shrinks like 1/n, lesson 09 measures it), so a
  Fréchet score means nothing without its sample size.
- **Mode coverage**: which components of a known mixture receive their share of the samples.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import linalg

from mmgp_lesson.toys import GaussianMixture


def knn_radii(points: torch.Tensor, k: int = 3) -> torch.Tensor:
    """Distance from each point to its k-th nearest neighbour among the *other* points, shape (N,)."""
    distances = torch.cdist(points, points)
    return distances.kthvalue(k + 1, dim=1).values  # the smallest, 0, is the point itself


def manifold_share(reference: torch.Tensor, queries: torch.Tensor, k: int = 3) -> float:
    r"""Share of ``queries`` inside :math:`\bigcup_j B(y_j, r_k(y_j))`, the k-NN manifold of ``reference``."""
    radii = knn_radii(reference, k)
    inside = (torch.cdist(queries, reference) <= radii[None, :]).any(dim=1)
    return inside.double().mean().item()


def precision_recall(real: torch.Tensor, generated: torch.Tensor, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al., 2019) with k-NN manifolds."""
    return manifold_share(real, generated, k), manifold_share(generated, real, k)


def frechet_gaussians(mean1, cov1, mean2, cov2) -> float:
    r""":math:`\lVert \mu_1 - \mu_2\rVert^2 + \operatorname{tr}(\Sigma_1 + \Sigma_2 - 2 (\Sigma_1 \Sigma_2)^{1/2})` (the W₂² of two Gaussians)."""
    mean1, mean2, cov1, cov2 = (np.asarray(a, dtype=np.float64) for a in (mean1, mean2, cov1, cov2))
    root = linalg.sqrtm(cov1 @ cov2).real  # tiny imaginary parts are round-off
    return float(((mean1 - mean2) ** 2).sum() + np.trace(cov1 + cov2 - 2 * root))


def frechet_distance(x: np.ndarray, y: np.ndarray) -> float:
    """The plug-in Fréchet distance of two samples (rows): :func:`frechet_gaussians` of their means and covariances."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return frechet_gaussians(x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False))


def mode_coverage(mixture: GaussianMixture, samples: torch.Tensor, share: float = 0.25) -> int:
    """Number of components that own at least ``share`` × their weight of the samples (each sample goes to
    its most responsible component; samples beyond 4 standard deviations of every component go nowhere)."""
    samples = samples.to(mixture.means.dtype)
    owner = mixture.responsibilities(samples).argmax(1)
    diff = samples - mixture.means[owner]
    precision = mixture._precisions[owner]
    near = torch.einsum("ni,nij,nj->n", diff, precision, diff) < 16.0
    counts = torch.bincount(owner[near], minlength=len(mixture.weights)).double()
    return int((counts >= share * mixture.weights * len(samples)).sum())
