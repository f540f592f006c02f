"""Zero-inflated lognormal (ZILN) loss for customer lifetime value, plus the churn head loss.

Follows Wang, Liu & Miao (2019), "A Deep Probabilistic Model for Customer Lifetime Value
Prediction". The CLV head emits three numbers per customer, ``logits[:, k]``:

* ``k = 0`` -- purchase logit ``l``; ``p = sigmoid(l)`` is the probability of any revenue,
* ``k = 1`` -- ``mu``, the location of log-revenue given a purchase,
* ``k = 2`` -- ``sigma_raw``; ``sigma = max(softplus(sigma_raw), SIGMA_MIN)``.

The predictive distribution of revenue ``Y`` is the mixture ``Y = 0`` with probability
``1 - p`` and ``Y ~ LogNormal(mu, sigma)`` (i.e. ``log Y ~ Normal(mu, sigma)``) with
probability ``p``.

``SIGMA_MIN = 1e-3`` keeps the density finite; note that a clamp passes no gradient to
``sigma_raw`` while ``softplus(sigma_raw) < SIGMA_MIN`` (only reachable with
``sigma_raw < ~ -6.9``, far from any sensible initialisation).

All functions take torch tensors and return tensors on the same device / dtype.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F

logger = logging.getLogger(__name__)

SIGMA_MIN: float = 1e-3
"""Lower bound applied to ``softplus(sigma_raw)``."""

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def _check_ziln_logits(logits: torch.Tensor) -> None:
    if logits.ndim != 2 or logits.shape[-1] != 3:
        raise ValueError(f"ZILN logits must have shape [B, 3], got {tuple(logits.shape)}")


def _flatten_vector(x: torch.Tensor, name: str) -> torch.Tensor:
    """Accept ``[B]`` or ``[B, 1]`` and return ``[B]``."""
    if x.ndim == 2 and x.shape[-1] == 1:
        return x[:, 0]
    if x.ndim != 1:
        raise ValueError(f"{name} must have shape [B] or [B, 1], got {tuple(x.shape)}")
    return x


def ziln_params(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Split ZILN head output into distribution parameters.

    Args:
        logits: ``[B, 3]`` = (purchase logit, mu, sigma_raw).

    Returns:
        ``(p, mu, sigma)``, each ``[B]``: purchase probability, lognormal location and
        lognormal scale (``>= SIGMA_MIN``).
    """
    _check_ziln_logits(logits)
    p = torch.sigmoid(logits[:, 0])
    mu = logits[:, 1]
    sigma = F.softplus(logits[:, 2]).clamp_min(SIGMA_MIN)
    return p, mu, sigma


def ziln_nll(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of the zero-inflated lognormal.

    Per customer the loss is the exact negative log of the mixture likelihood, with the
    point mass at zero measured by counting measure and positive revenue by Lebesgue
    measure::

        target == 0:  -log(1 - p)
        target  > 0:  -log(p) + log(target) + log(sigma) + log(sqrt(2*pi))
                      + (log(target) - mu)**2 / (2 * sigma**2)

    i.e. BCE on ``target > 0`` plus the lognormal density NLL on positives, *including* the
    ``log(target)`` Jacobian term (so it is a true density NLL; the term does not depend on the
    parameters and so does not change gradients). The two parts are averaged over the whole
    batch (zeros contribute 0 to the lognormal part), as in Wang et al. (2019).

    Args:
        logits: ``[B, 3]`` ZILN head output.
        target: ``[B]`` (or ``[B, 1]``) revenue, ``>= 0``.

    Returns:
        Scalar tensor, the batch mean.
    """
    _check_ziln_logits(logits)
    target = _flatten_vector(target, "target").to(logits.dtype)
    if target.shape[0] != logits.shape[0]:
        raise ValueError(f"target has {target.shape[0]} rows, logits {logits.shape[0]}")
    positive = target > 0
    bce = F.binary_cross_entropy_with_logits(
        logits[:, 0], positive.to(logits.dtype), reduction="none"
    )
    mu = logits[:, 1]
    sigma = F.softplus(logits[:, 2]).clamp_min(SIGMA_MIN)
    # Evaluate log(target) on a safe value so that zeros produce no inf/nan (and no nan grads).
    safe_target = torch.where(positive, target, torch.ones_like(target))
    log_y = torch.log(safe_target)
    z = (log_y - mu) / sigma
    lognormal_nll = log_y + torch.log(sigma) + _LOG_SQRT_2PI + 0.5 * z * z
    lognormal_nll = torch.where(positive, lognormal_nll, torch.zeros_like(lognormal_nll))
    return (bce + lognormal_nll).mean()


def ziln_expected_value(logits: torch.Tensor) -> torch.Tensor:
    """Mean of the ZILN predictive distribution, ``p * exp(mu + sigma**2 / 2)``.

    Args:
        logits: ``[B, 3]`` ZILN head output.

    Returns:
        ``[B]`` expected revenue.
    """
    p, mu, sigma = ziln_params(logits)
    return p * torch.exp(mu + 0.5 * sigma * sigma)


def ziln_quantiles(logits: torch.Tensor, qs: Sequence[float] = (0.1, 0.5, 0.9)) -> torch.Tensor:
    """Quantiles of the ZILN mixture.

    The CDF is ``F(y) = (1 - p) + p * Phi((log y - mu) / sigma)`` for ``y > 0`` with an atom
    of mass ``1 - p`` at 0, so the ``q``-quantile is ``0`` when ``q <= 1 - p`` and otherwise the
    lognormal quantile at level ``(q - (1 - p)) / p``, i.e.
    ``exp(mu + sigma * Phi^-1((q - 1 + p) / p))``.

    Args:
        logits: ``[B, 3]`` ZILN head output.
        qs: quantile levels, each strictly inside ``(0, 1)``.

    Returns:
        ``[B, len(qs)]`` quantiles (column ``j`` is level ``qs[j]``).
    """
    levels = [float(q) for q in qs]
    if not levels or any(not 0.0 < q < 1.0 for q in levels):
        raise ValueError(f"quantile levels must be in (0, 1), got {qs!r}")
    p, mu, sigma = ziln_params(logits)
    q = torch.tensor(levels, dtype=logits.dtype, device=logits.device)[None, :]  # [1, Q]
    p = p[:, None]
    positive_mass = q > (1.0 - p)  # [B, Q]
    # Conditional level inside the lognormal part; clamp so ndtri stays finite where masked out.
    tiny = torch.finfo(logits.dtype).tiny
    cond = ((q - (1.0 - p)) / p.clamp_min(tiny)).clamp(1e-12, 1.0 - 1e-12)
    lognormal_q = torch.exp(mu[:, None] + sigma[:, None] * torch.special.ndtri(cond))
    return torch.where(positive_mass, lognormal_q, torch.zeros_like(lognormal_q))


def churn_bce(logit: torch.Tensor, churned: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy of the churn head.

    Args:
        logit: ``[B]`` (or ``[B, 1]``) churn logit; ``sigmoid(logit) = P(churn)``.
        churned: ``[B]`` (or ``[B, 1]``) labels in ``{0, 1}`` (bool, int or float).

    Returns:
        Scalar tensor.
    """
    logit = _flatten_vector(logit, "logit")
    churned = _flatten_vector(churned, "churned").to(logit.dtype)
    return F.binary_cross_entropy_with_logits(logit, churned)


class MultitaskLossParts(NamedTuple):
    """Components of :func:`multitask_loss` (all scalar tensors)."""

    total: torch.Tensor
    ziln: torch.Tensor
    churn: torch.Tensor


def multitask_loss_parts(
    ziln_logits: torch.Tensor,
    churn_logit: torch.Tensor,
    revenue: torch.Tensor,
    churned: torch.Tensor,
    churn_weight: float = 1.0,
) -> MultitaskLossParts:
    """Like :func:`multitask_loss` but also returns the two components (for logging)."""
    ziln = ziln_nll(ziln_logits, revenue)
    churn = churn_bce(churn_logit, churned)
    return MultitaskLossParts(total=ziln + churn_weight * churn, ziln=ziln, churn=churn)


def multitask_loss(
    ziln_logits: torch.Tensor,
    churn_logit: torch.Tensor,
    revenue: torch.Tensor,
    churned: torch.Tensor,
    churn_weight: float = 1.0,
) -> torch.Tensor:
    """Combined CLV + churn objective: ``ziln_nll + churn_weight * churn_bce``.

    Args:
        ziln_logits: ``[B, 3]`` ZILN head output.
        churn_logit: ``[B]`` (or ``[B, 1]``) churn logit.
        revenue: ``[B]`` future revenue, ``>= 0``.
        churned: ``[B]`` churn labels in ``{0, 1}``.
        churn_weight: non-negative weight of the churn term.

    Returns:
        Scalar tensor.
    """
    return multitask_loss_parts(ziln_logits, churn_logit, revenue, churned, churn_weight).total
