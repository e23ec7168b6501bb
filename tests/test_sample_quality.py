"""Precision/recall, Fréchet distance and mode coverage against cases with known answers."""

import numpy as np
import torch

from mmgp_lesson.sample_quality import frechet_distance, frechet_gaussians, knn_radii, mode_coverage, precision_recall
from mmgp_lesson.toys import DTYPE, GaussianMixture


def test_knn_radius_skips_the_point_itself():
    points = torch.tensor([[0.0], [1.0], [3.0]], dtype=DTYPE)
    assert knn_radii(points, 1).tolist() == [1.0, 1.0, 2.0]
    assert knn_radii(points, 2).tolist() == [3.0, 2.0, 3.0]


def test_precision_and_recall_separate_leaving_the_data_from_missing_a_mode():
    data = GaussianMixture.isotropic([[-3.0, 0.0], [3.0, 0.0]], std=0.3)
    generator = torch.Generator().manual_seed(0)
    real = data.sample(400, generator)
    one_mode = real[real[:, 0] > 0][:200] + 0.01
    precision, recall = precision_recall(real, one_mode)
    assert precision > 0.95 and recall < 0.6  # realistic samples, half the data missed
    far = real + 10.0
    assert precision_recall(real, far) == (0.0, 0.0)


def test_frechet_distance_of_gaussians_matches_closed_forms():
    # 1-D: (m1 - m2)² + (s1 - s2)²; commuting covariances: the same per axis.
    assert abs(frechet_gaussians([0.0], [[4.0]], [1.0], [[1.0]]) - 2.0) < 1e-12
    value = frechet_gaussians(np.zeros(2), np.diag([1.0, 9.0]), np.ones(2), np.diag([4.0, 1.0]))
    assert abs(value - (2.0 + 1.0 + 4.0)) < 1e-10
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 3))
    assert frechet_distance(x, x) < 1e-8  # a sample against itself: zero up to sqrtm round-off


def test_mode_coverage_counts_modes_with_their_share():
    data = GaussianMixture.isotropic([[-3.0, 0.0], [3.0, 0.0], [0.0, 3.0]], std=0.3)
    generator = torch.Generator().manual_seed(1)
    samples = data.sample(600, generator)
    assert mode_coverage(data, samples) == 3
    assert mode_coverage(data, samples[samples[:, 1] < 1.5]) == 2
    assert mode_coverage(data, samples + 20.0) == 0  # far from every component: no mode
