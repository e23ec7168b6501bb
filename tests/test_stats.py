"""Two-sample statistics against closed forms, and their permutation tests against known answers."""

import math

import pytest
import torch
from scipy import integrate
from scipy.stats import norm

from mmgp_lesson.stats import energy_distance, log_density_z_test, mmd, sliced_wasserstein, two_sample_test
from mmgp_lesson.toys import DTYPE


def _gaussian(count, shift, seed, dim=2):
    sample = torch.randn(count, dim, dtype=DTYPE, generator=torch.Generator().manual_seed(seed))
    sample[:, 0] += shift
    return sample


def test_energy_distance_matches_the_cdf_formula_in_one_dimension():
    # In 1-D the energy distance is 2 ∫ (F - G)² dt (Székely & Rizzo); for N(0,1) vs N(1,1) by quadrature.
    exact = 2 * integrate.quad(lambda t: (norm.cdf(t) - norm.cdf(t - 1.0)) ** 2, -12, 12)[0]
    estimates = torch.tensor([energy_distance(_gaussian(1500, 0.0, s, 1), _gaussian(1500, 1.0, 100 + s, 1)) for s in range(8)])
    standard_error = estimates.std() / math.sqrt(len(estimates))
    assert abs(estimates.mean() - exact) < 4 * standard_error + 1e-3  # unbiased U-statistic: 4 standard errors


def test_mmd_matches_its_closed_form_for_shifted_gaussians():
    # For N(0, I) vs N(δ e1, I) in d = 2 and k = exp(-|x-y|²/2h²): MMD² = 2 c (1 - exp(-δ²/2(h²+2))), c = h²/(h²+2).
    h, delta = 1.5, 1.0
    c = h**2 / (h**2 + 2)
    exact = 2 * c * (1 - math.exp(-(delta**2) / (2 * (h**2 + 2))))
    estimates = torch.tensor([mmd(_gaussian(1500, 0.0, s), _gaussian(1500, delta, 100 + s), h) for s in range(8)])
    standard_error = estimates.std() / math.sqrt(len(estimates))
    assert abs(estimates.mean() - exact) < 4 * standard_error + 1e-4


def test_sliced_wasserstein_of_a_shift_is_the_shift_over_root_d():
    # W2² of the projections is (δ θ₁)²; E θ₁² = 1/d on the sphere, so SW2 = δ / √d, plus O(1/√n) noise.
    delta = 2.0
    value = sliced_wasserstein(_gaussian(5000, 0.0, 1), _gaussian(5000, delta, 2), torch.Generator().manual_seed(0), projections=500)
    assert abs(value - delta / math.sqrt(2)) < 0.05  # 500 directions: ±0.01; 5000 points: ±0.03


def test_sliced_wasserstein_refuses_unequal_sizes():
    with pytest.raises(ValueError, match="equal sample sizes"):
        sliced_wasserstein(_gaussian(10, 0.0, 1), _gaussian(11, 0.0, 2), torch.Generator().manual_seed(0))


@pytest.mark.parametrize("statistic", ["energy", "mmd", "sliced_wasserstein"])
def test_permutation_test_accepts_one_law_and_rejects_a_small_shift(statistic):
    generator = torch.Generator().manual_seed(0)
    same = two_sample_test(_gaussian(800, 0.0, 1), _gaussian(800, 0.0, 2), generator, statistic)
    shifted = two_sample_test(_gaussian(800, 0.0, 1), _gaussian(800, 0.4, 3), generator, statistic)
    assert same.within_sampling_error and same.p_value > 0.01
    assert not shifted.within_sampling_error and shifted.p_value < 0.01
    assert shifted.value > same.null_mean + 5 * same.null_std  # a 0.4 shift is many null standard deviations


@pytest.mark.parametrize("statistic", ["energy", "mmd"])
def test_permutation_p_values_are_uniform_under_the_null(statistic):
    # Under one law the p-value is uniform: about 10% of 40 independent tests fall below 0.1.
    generator = torch.Generator().manual_seed(5)
    p_values = torch.tensor([two_sample_test(_gaussian(100, 0.0, s), _gaussian(100, 0.0, 500 + s), generator, statistic, permutations=99).p_value
                             for s in range(40)])
    assert 0.3 < p_values.mean() < 0.7  # mean of 40 uniforms: 0.5 ± 0.046
    assert (p_values < 0.1).sum() <= 10  # Binomial(40, 0.1) exceeds 10 with probability < 1e-3


def test_energy_null_std_shrinks_like_one_over_n():
    # The U-statistic's null standard deviation scales like 1/n: quadrupling n divides it by about four.
    generator = torch.Generator().manual_seed(3)
    small = two_sample_test(_gaussian(250, 0.0, 1), _gaussian(250, 0.0, 2), generator).null_std
    large = two_sample_test(_gaussian(1000, 0.0, 3), _gaussian(1000, 0.0, 4), generator).null_std
    assert 3.0 < small / large < 5.3


def test_log_density_z_test_is_calibrated_and_sees_a_wider_spread():
    # N(0, I) against itself: |z| exceeds the 99% threshold in about 1% of 400 repetitions (binomial: at most
    # 12 with probability > 0.999); a cloud 10% wider in each coordinate is rejected every time at n = 2000
    # (E log p falls by d(1.1² - 1)/2 = 0.21 against a standard error of sqrt(2 · d/2 / n) ≈ 0.03).
    generator = torch.Generator().manual_seed(31)
    log_prob = lambda x: -0.5 * (x**2).sum(1)
    draw = lambda scale: scale * torch.randn(2000, 2, dtype=torch.float64, generator=generator)
    false_alarms = sum(not log_density_z_test(draw(1.0), draw(1.0), log_prob).within_sampling_error for _ in range(400))
    assert false_alarms <= 12
    assert all(not log_density_z_test(draw(1.1), draw(1.0), log_prob).within_sampling_error for _ in range(20))
