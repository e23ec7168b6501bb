"""The planted bugs: each is one search/replace on one file of the package, named after the slip it makes.

A bug is applied to a temporary copy of the package, never to the working tree. ``search`` must occur
exactly once in ``file`` (a path inside ``mmgp_lesson/``): when code moves, the runner stops with a
line naming the bug, the file and the missing text, so the entry is retargeted rather than silently
skipped. ``tests`` are the unit-test files that exercise the code; ``lesson`` is the notebook that
teaches it (``notebooks/<lesson>.ipynb``). Every bug must fail both.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    """One planted bug: replace ``search`` by ``replace`` in ``mmgp_lesson/<file>``."""

    name: str
    module: str
    description: str
    file: str
    search: str
    replace: str
    tests: tuple[str, ...]
    lesson: str


def _m(name, module, description, file, search, replace, tests, lesson):
    return Mutant(name, module, description, file, search, replace, tuple(tests), lesson)


L00, L01, L02, L03 = "00_notation", "01_elbo", "02_score_flow_duality", "03_probability_flow_ode"
L04, L05, L06, L07, L08 = "04_langevin", "05_masked_tokens", "06_video_flow_matching", "07_video_understanding", "08_capstone"
L09, L10, L11 = "09_model_families", "10_inference_scaling", "11_serving"
TOYS, PATHS, SDE, STATS = ["tests/test_toys.py"], ["tests/test_paths.py"], ["tests/test_sde.py"], ["tests/test_stats.py"]

MUTANTS: list[Mutant] = [
    # toys
    _m("log-det missing its factor 2", "toys", "log|Σ| = Σ log diag L instead of 2 Σ log diag L",
       "toys.py", "log_det = 2 * torch.log(", "log_det = torch.log(", TOYS, L00),
    _m("mixture score sign flipped", "toys", "component scores +Σ⁻¹(x - μ)",
       "toys.py", "component_scores = -torch.einsum", "component_scores = torch.einsum", TOYS, L00),
    _m("sampler uses Lᵀ instead of L", "toys", "x = μ + Lᵀ z: covariance LᵀL ≠ Σ",
       "toys.py", "self.means[index] + torch.einsum(\"nij,nj->ni\", self._cholesky[index], noise)",
       "self.means[index] + torch.einsum(\"nji,nj->ni\", self._cholesky[index], noise)", TOYS, L00),
    _m("double-well gradient 2h instead of 4h", "toys", "∂E/∂x₁ = 2h x₁(x₁² - 1)",
       "toys.py", "grad[:, 0] = 4 * self.barrier", "grad[:, 0] = 2 * self.barrier", TOYS, L04),
    # paths
    _m("VP α' missing its 1/2", "paths", "α_t' = β(1-t) α_t (and σ_t' with it)",
       "paths.py", "d_alpha = 0.5 * self.sde.beta(tau) * alpha", "d_alpha = self.sde.beta(tau) * alpha", PATHS, L02),
    _m("conditional velocity sign of σ'/σ term", "paths", "u = α' x₁ - σ'/σ (x - α x₁)",
       "paths.py", "return d_alpha * x1 + d_sigma / sigma * (x - alpha * x1)",
       "return d_alpha * x1 - d_sigma / sigma * (x - alpha * x1)", PATHS, L02),
    _m("posterior gain missing α_t", "paths", "E[x₁|x] gain Σ(α²Σ + σ²I)⁻¹ without the factor α",
       "paths.py", "gain = alpha * data.covariances", "gain = data.covariances", PATHS, L02),
    _m("duality formula sign of σ'", "paths", "v = (α'/α) x + σ(σ α'/α + σ') s",
       "paths.py", "return d_alpha / alpha * x + sigma * (sigma * d_alpha / alpha - d_sigma) * score",
       "return d_alpha / alpha * x + sigma * (sigma * d_alpha / alpha + d_sigma) * score", PATHS, L02),
    # sde
    _m("forward drift missing its 1/2", "sde", "f = -β x instead of -½ β x",
       "sde.py", "return -0.5 * self.beta(t) * x", "return -self.beta(t) * x", SDE, L03),
    _m("PF-ODE score term missing its 1/2", "sde", "v = f - g² s (the reverse-SDE drift without noise)",
       "sde.py", "self.drift(x, t) - 0.5 * self.beta(t) * score(x, t)", "self.drift(x, t) - self.beta(t) * score(x, t)", SDE, L03),
    _m("reverse SDE score scaled by 0.8", "sde", "reverse drift f - 0.8 g² s",
       "sde.py", "self.drift(x, t) - self.beta(t) * score(x, t)", "self.drift(x, t) - 0.8 * self.beta(t) * score(x, t)", SDE, L03),
    _m("alpha_t missing its 1/2", "sde", "α_t = exp(-B(t)) instead of exp(-B(t)/2)",
       "sde.py", "return math.exp(-0.5 * self.beta_integral(t))", "return math.exp(-self.beta_integral(t))", SDE, L03),
    _m("Euler-Maruyama noise √Δt missing", "sde", "noise g Δt z instead of g √Δt z",
       "sde.py", "diffusion(t) * math.sqrt(abs(dt)) * noise", "diffusion(t) * abs(dt) * noise", SDE, L03),
    _m("wrong time direction in Euler-Maruyama", "sde", "the step taken as |Δt|: a reverse grid integrates forwards",
       "sde.py", "        dt = t_next - t\n        noise =", "        dt = abs(t_next - t)\n        noise =", SDE, L03),
    _m("Heun corrector at the wrong time", "sde", "second slope evaluated at t instead of t + Δt",
       "sde.py", "x = x + 0.5 * dt * (slope + field(predictor, t_next))", "x = x + 0.5 * dt * (slope + field(predictor, t))", SDE, L03),
    _m("log-density integral sign", "sde", "log p₀ = log p₁ - ∫ ∇·v dt",
       "sde.py", "return terminal_log_prob(x) + integral", "return terminal_log_prob(x) - integral", SDE, L03),
    _m("ULA noise missing √2", "sde", "x + η s + √η z instead of √(2η) z",
       "sde.py", "    scale = math.sqrt(2 * step)\n    for _ in range(steps):", "    scale = math.sqrt(step)\n    for _ in range(steps):", SDE, L04),
    _m("MALA reverse proposal uses the old gradient", "sde", "q(x|y) centred at y + η ∇log p(x)",
       "sde.py", "backward = ((x - proposal - step * grad_new) ** 2)", "backward = ((x - proposal - step * grad) ** 2)", SDE, L04),
    _m("annealed Langevin step ∝ σ instead of σ²", "sde", "η_σ = ε σ/σ_min",
       "sde.py", "step_scale * sigma**2 / smallest**2", "step_scale * sigma / smallest", SDE, L04),
    # stats
    _m("permutation test threshold at the wrong quantile", "stats", "threshold = null quantile at level instead of 1 - level",
       "stats.py", "threshold=torch.quantile(null, 1 - level).item()", "threshold=torch.quantile(null, level).item()", STATS, L03),
    _m("log-density z-test without the second variance", "stats", "s.e. √(σ_a²/n) only",
       "stats.py", "torch.sqrt(a.var() / len(a) + b.var() / len(b))", "torch.sqrt(a.var() / len(a))", STATS, L03),
    # latent
    _m("posterior precision divides by σ not σ²", "latent", "S⁻¹ = I + WᵀW/σ",
       "latent.py", "self.weight.T @ self.weight / self.noise_std**2", "self.weight.T @ self.weight / self.noise_std", ["tests/test_latent.py"], L01),
    _m("entropy of q missing its 1/2", "latent", "H(q) = log|L| + k(1 + log 2π) instead of k/2",
       "latent.py", "entropy = torch.log(torch.diagonal(q_scale_tril)).sum() + 0.5 * self.latent_dim",
       "entropy = torch.log(torch.diagonal(q_scale_tril)).sum() + self.latent_dim", ["tests/test_latent.py"], L01),
    _m("IWAE bound without log K", "latent", "log Σ w_j instead of log (1/K) Σ w_j",
       "latent.py", "return torch.logsumexp(log_weights, dim=0) - math.log(log_weights.shape[0])",
       "return torch.logsumexp(log_weights, dim=0)", ["tests/test_latent.py"], L01),
    # nets
    _m("flow-matching target sign of σ' ε", "nets", "target α' x₁ - σ' ε",
       "nets.py", "return d_alpha * x1 + d_sigma * eps", "return d_alpha * x1 - d_sigma * eps", ["tests/test_nets.py"], L02),
    _m("learned score sign", "nets", "s_θ = +ε̂/σ",
       "nets.py", "return -model(x, t) / sigma", "return model(x, t) / sigma", ["tests/test_nets.py"], L02),
    _m("VAE KL sign of log σ", "nets", "KL ½Σ(μ² + σ² - 1 + 2 log σ)",
       "nets.py", "(2 * log_std).exp() - 1 - 2 * log_std).sum(-1)", "(2 * log_std).exp() - 1 + 2 * log_std).sum(-1)", ["tests/test_nets.py"], L01),
    # masked tokens
    _m("straight-through without the stop-gradient", "masked_tokens", "z_e + (z_q - z_e): the encoder gets no gradient",
       "masked_tokens.py", "return z_e + (difference.detach() if stop_gradient else difference)", "return z_e + difference",
       ["tests/test_masked_tokens.py"], L05),
    _m("masking schedule sin instead of cos", "masked_tokens", "γ(r) = sin(πr/2)",
       "masked_tokens.py", "return torch.cos(torch.as_tensor(r, dtype=torch.float32) * math.pi / 2)",
       "return torch.sin(torch.as_tensor(r, dtype=torch.float32) * math.pi / 2)", ["tests/test_masked_tokens.py"], L05),
    _m("unmasking re-masks the most confident", "masked_tokens", "argsort descending: keeps the least confident",
       "masked_tokens.py", "lowest = confidence.argsort(dim=1)[:, :keep_masked]",
       "lowest = confidence.argsort(dim=1, descending=True)[:, :keep_masked]", ["tests/test_masked_tokens.py"], L05),
    # ltx_shape: LTX-Video's shape rule (one home, used by lessons 06 and 08 and the capstone)
    _m("LTX frame rule off by one", "ltx_shape", "valid iff F % 8 == 0 instead of (F - 1) % 8 == 0",
       "ltx_shape.py", "return frames >= 1 and (frames - 1) % temporal == 0", "return frames >= 1 and frames % temporal == 0",
       ["tests/test_ltx_shape.py"], L06),
    _m("LTX latent frames off by one", "ltx_shape", "F' = F // 8 instead of 1 + (F - 1) // 8",
       "ltx_shape.py", "return channels, 1 + (frames - 1) // temporal,", "return channels, frames // temporal,",
       ["tests/test_ltx_shape.py"], L06),
    # latent_flow
    _m("reflow target reversed", "latent_flow", "fits z₀ - z₁ instead of z₁ - z₀",
       "latent_flow.py", "return ((model(zt, t[:, 0]) - (z1[index] - z0[index])) ** 2).sum(1).mean()",
       "return ((model(zt, t[:, 0]) - (z0[index] - z1[index])) ** 2).sum(1).mean()", ["tests/test_latent_flow.py"], L06),
    # families, sample_quality (lesson 09)
    _m("coupling log-det sign flipped", "families", "log|det| of each coupling subtracted instead of added",
       "families.py", "            log_det = log_det + step", "            log_det = log_det - step", ["tests/test_families.py"], L09),
    _m("Fréchet distance without the cross term", "sample_quality", "tr(Σ₁ + Σ₂) without -2 (Σ₁Σ₂)^½",
       "sample_quality.py", "np.trace(cov1 + cov2 - 2 * root)", "np.trace(cov1 + cov2)", ["tests/test_sample_quality.py"], L09),
    _m("k-NN radius counts the point itself", "sample_quality", "k-th distance includes the zero self-distance",
       "sample_quality.py", "distances.kthvalue(k + 1, dim=1)", "distances.kthvalue(k, dim=1)", ["tests/test_sample_quality.py"], L09),
    # scaling (lesson 10)
    _m("best-of-N as 1 - p^N", "scaling", "success probability 1 - p^N instead of 1 - (1 - p)^N",
       "scaling.py", "return 1.0 - (1.0 - p) ** np.asarray(n, dtype=np.float64)", "return 1.0 - p ** np.asarray(n, dtype=np.float64)",
       ["tests/test_scaling.py"], L10),
    _m("compute-optimal K without the exponent", "scaling", "K* = Aγ/(λc) instead of (Aγ/(λc))^(1/(γ+1))",
       "scaling.py", "return (amplitude * gamma / (price * cost)) ** (1.0 / (gamma + 1.0))",
       "return amplitude * gamma / (price * cost)", ["tests/test_scaling.py"], L10),
    # queueing (lesson 11)
    _m("Lindley sum includes the job's own service", "queueing", "C_n = S_0 + ... + S_n - a_n instead of ... + S_(n-1)",
       "queueing.py", "cumulative = np.concatenate([[0.0], np.cumsum(service)[:-1]]) - arrivals",
       "cumulative = np.cumsum(service) - arrivals", ["tests/test_queueing.py"], L11),
    _m("batch cost c1 per batch, not per job", "queueing", "a batch of b costs c0 + c1 instead of c0 + c1 b",
       "queueing.py", "free = start + c0 + c1 * size", "free = start + c0 + c1", ["tests/test_queueing.py"], L11),
    _m("histogram quantile returns the bucket's upper bound", "queueing", "no interpolation inside the bucket",
       "queueing.py", "return float(lower + (bounds[b] - lower) * (rank - below) / (counts[b] - below))",
       "return float(bounds[b])", ["tests/test_queueing.py"], L11),
    _m("window average not clipped at the start", "queueing", "jobs that arrived before the window count in full",
       "queueing.py", "np.minimum(departures, end) - np.maximum(arrivals, start)", "np.minimum(departures, end) - arrivals",
       ["tests/test_queueing.py"], L11),
    # capstone stages
    _m("frame sampler floors instead of rounding", "capstone.media", "indices linspace(...).astype(int)",
       "capstone/media.py", "np.linspace(0, total - 1, min(count, total)).round().astype(int)",
       "np.linspace(0, total - 1, min(count, total)).astype(int)", ["tests/capstone/test_media.py"], L07),
    _m("frame timestamps off by one", "capstone.media", "timestamp (index + 1)/fps",
       "capstone/media.py", "timestamps=wanted / fps,", "timestamps=(wanted + 1) / fps,", ["tests/capstone/test_media.py"], L07),
    _m("video shape check off by one", "capstone.settings", "frames must be 8k instead of 8k + 1",
       "capstone/settings.py", "if not is_valid_frame_count(frames) or frames > MAX_FRAMES:",
       "if not is_valid_frame_count(frames + 1) or frames > MAX_FRAMES:", ["tests/capstone/test_video.py"], L08),
    _m("video stage asks for one frame less", "capstone.video", "num_frames = frames - 1",
       "capstone/video.py", "num_frames=self.frames,", "num_frames=self.frames - 1,", ["tests/capstone/test_video.py"], L08),
    _m("image stage passes half the size", "capstone.image", "height = size // 2",
       "capstone/image.py", "height=self.size,", "height=self.size // 2,", ["tests/capstone/test_image.py"], L08),
]
