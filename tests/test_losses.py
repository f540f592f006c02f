"""Tests for training.losses (ZILN loss, predictive summaries, churn / multi-task losses)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from training.losses import (
    SIGMA_MIN,
    churn_bce,
    multitask_loss,
    multitask_loss_parts,
    ziln_expected_value,
    ziln_nll,
    ziln_params,
    ziln_quantiles,
)


def _random_batch(seed: int = 0, batch: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, 3, generator=gen, dtype=torch.float64) * torch.tensor(
        [2.0, 1.5, 1.0], dtype=torch.float64
    )
    logits[:, 1] += 3.0
    revenue = torch.exp(torch.randn(batch, generator=gen, dtype=torch.float64) + 3.0)
    revenue[torch.rand(batch, generator=gen) < 0.4] = 0.0
    return logits, revenue


def _numpy_params(logits: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    arr = logits.detach().numpy()
    p = 1.0 / (1.0 + np.exp(-arr[:, 0]))
    sigma = np.maximum(np.logaddexp(0.0, arr[:, 2]), SIGMA_MIN)
    return p, arr[:, 1], sigma


def test_ziln_nll_matches_scipy_reference() -> None:
    logits, revenue = _random_batch()
    p, mu, sigma = _numpy_params(logits)
    y = revenue.numpy()
    positive = y > 0
    ref = -stats.bernoulli.logpmf(positive.astype(int), p)
    safe_y = np.where(positive, y, 1.0)
    ref = ref - np.where(positive, stats.lognorm.logpdf(safe_y, s=sigma, scale=np.exp(mu)), 0.0)
    got = ziln_nll(logits, revenue).item()
    assert got == pytest.approx(ref.mean(), rel=1e-10)
    # [B, 1] targets are accepted.
    assert ziln_nll(logits, revenue[:, None]).item() == pytest.approx(got, rel=1e-12)


def test_ziln_params_and_sigma_floor() -> None:
    logits = torch.tensor([[0.0, 1.0, -50.0], [2.0, -1.0, 3.0]], dtype=torch.float64)
    p, mu, sigma = ziln_params(logits)
    assert p[0].item() == pytest.approx(0.5)
    assert mu.tolist() == [1.0, -1.0]
    assert sigma[0].item() == SIGMA_MIN
    assert sigma[1].item() == pytest.approx(np.log1p(np.exp(3.0)))


def test_expected_value_matches_scipy() -> None:
    logits, _ = _random_batch(seed=1)
    p, mu, sigma = _numpy_params(logits)
    ref = p * stats.lognorm.mean(s=sigma, scale=np.exp(mu))
    np.testing.assert_allclose(ziln_expected_value(logits).numpy(), ref, rtol=1e-10)


def test_quantiles_match_mixture_reference() -> None:
    logits, _ = _random_batch(seed=2, batch=200)
    qs = (0.1, 0.5, 0.9, 0.99)
    p, mu, sigma = _numpy_params(logits)
    got = ziln_quantiles(logits, qs).numpy()
    assert got.shape == (200, len(qs))
    for j, q in enumerate(qs):
        inside = q > 1.0 - p
        level = np.clip((q - (1.0 - p)) / p, 1e-12, 1 - 1e-12)
        ref = np.where(inside, stats.lognorm.ppf(level, s=sigma, scale=np.exp(mu)), 0.0)
        np.testing.assert_allclose(got[:, j], ref, rtol=1e-8)
        # The mixture CDF evaluated at the quantile gives back q where the quantile is > 0.
        cdf = (1.0 - p) + p * stats.lognorm.cdf(got[:, j], s=sigma, scale=np.exp(mu))
        np.testing.assert_allclose(cdf[inside], q, rtol=1e-8)
        assert np.all(cdf[~inside] >= q - 1e-12)
    # Quantiles are monotone in q.
    assert np.all(np.diff(got, axis=1) >= 0)


def test_quantiles_default_levels_and_validation() -> None:
    logits = torch.zeros(5, 3)
    assert ziln_quantiles(logits).shape == (5, 3)
    # p = 0.5: the 10% quantile is the atom at 0.
    assert torch.all(ziln_quantiles(logits)[:, 0] == 0)
    with pytest.raises(ValueError):
        ziln_quantiles(logits, (0.0, 0.5))
    with pytest.raises(ValueError):
        ziln_quantiles(torch.zeros(5, 2))


@pytest.mark.parametrize("target_value", [0.0, 1e-6, 1.0, 1e8])
def test_gradients_are_finite(target_value: float) -> None:
    logits = torch.tensor(
        [[0.0, 0.0, 0.0], [30.0, 5.0, -10.0], [-30.0, -5.0, 10.0]], requires_grad=True
    )
    target = torch.full((3,), target_value)
    loss = ziln_nll(logits, target)
    loss.backward()
    assert torch.isfinite(loss)
    assert logits.grad is not None and torch.all(torch.isfinite(logits.grad))


def test_zero_targets_give_pure_bce() -> None:
    logits = torch.tensor([[0.3, 100.0, 100.0], [-1.0, -100.0, -100.0]], dtype=torch.float64)
    target = torch.zeros(2, dtype=torch.float64)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 0], target)
    assert ziln_nll(logits, target).item() == pytest.approx(expected.item())


def test_adam_fits_a_constant_distribution() -> None:
    rng = np.random.default_rng(0)
    n = 4000
    true_p, true_mu, true_sigma = 0.3, 2.0, 0.5
    y = np.where(rng.random(n) < true_p, rng.lognormal(true_mu, true_sigma, n), 0.0)
    target = torch.tensor(y, dtype=torch.float32)
    theta = torch.zeros(3, requires_grad=True)
    opt = torch.optim.Adam([theta], lr=0.05)
    losses = []
    for _ in range(600):
        opt.zero_grad()
        loss = ziln_nll(theta.expand(n, 3), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert losses[-1] < losses[50]
    p, mu, sigma = ziln_params(theta.detach()[None, :])
    assert p.item() == pytest.approx((y > 0).mean(), abs=1e-3)
    assert mu.item() == pytest.approx(np.log(y[y > 0]).mean(), abs=2e-2)
    assert sigma.item() == pytest.approx(np.log(y[y > 0]).std(), abs=2e-2)


def test_churn_and_multitask_losses() -> None:
    logits, revenue = _random_batch(seed=3, batch=16)
    churn_logit = torch.linspace(-3, 3, 16, dtype=torch.float64)
    churned = (torch.arange(16) % 3 == 0).to(torch.int64)
    p = torch.sigmoid(churn_logit)
    manual = -(churned * torch.log(p) + (1 - churned) * torch.log(1 - p)).mean()
    assert churn_bce(churn_logit, churned).item() == pytest.approx(manual.item(), rel=1e-10)
    assert churn_bce(churn_logit[:, None], churned[:, None].bool()).item() == pytest.approx(
        manual.item(), rel=1e-10
    )
    total = multitask_loss(logits, churn_logit, revenue, churned, churn_weight=0.5)
    parts = multitask_loss_parts(logits, churn_logit, revenue, churned, churn_weight=0.5)
    assert total.ndim == 0
    assert total.item() == pytest.approx(
        ziln_nll(logits, revenue).item() + 0.5 * manual.item(), rel=1e-10
    )
    assert parts.total.item() == pytest.approx(total.item())
    assert parts.churn.item() == pytest.approx(manual.item())
