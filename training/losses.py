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
from typing import NamedTuple

import torch
import torch.nn.functional as F

from python_udfs.ziln import (
    SIGMA_MIN,
    _check_ziln_logits,
    ziln_expected_value,
    ziln_params,
    ziln_quantiles,
)

__all__ = [
    "SIGMA_MIN",
    "churn_bce",
    "multitask_loss",
    "multitask_loss_parts",
    "ziln_expected_value",
    "ziln_nll",
    "ziln_params",
    "ziln_quantiles",
]

logger = logging.getLogger(__name__)

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def _flatten_vector(x: torch.Tensor, name: str) -> torch.Tensor:
    """Accept ``[B]`` or ``[B, 1]`` and return ``[B]``."""
    if x.ndim == 2 and x.shape[-1] == 1:
        return x[:, 0]
    if x.ndim != 1:
        raise ValueError(f"{name} must have shape [B] or [B, 1], got {tuple(x.shape)}")
    return x


def ziln_nll(logits: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
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
        reduction: "mean" (the batch mean) or "none" (``[B]``, one loss per customer).

    Returns:
        Scalar tensor, the batch mean (or ``[B]`` with reduction="none").
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
    per_row = bce + lognormal_nll
    return per_row if reduction == "none" else per_row.mean()


def churn_bce(logit: torch.Tensor, churned: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Mean binary cross-entropy of the churn head.

    Args:
        logit: ``[B]`` (or ``[B, 1]``) churn logit; ``sigmoid(logit) = P(churn)``.
        churned: ``[B]`` (or ``[B, 1]``) labels in ``{0, 1}`` (bool, int or float).

    Returns:
        Scalar tensor.
    """
    logit = _flatten_vector(logit, "logit")
    churned = _flatten_vector(churned, "churned").to(logit.dtype)
    return F.binary_cross_entropy_with_logits(logit, churned, reduction=reduction)


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


def multitask_row_losses(
    ziln_logits: torch.Tensor,
    churn_logit: torch.Tensor,
    revenue: torch.Tensor,
    churned: torch.Tensor,
    churn_weight: float = 1.0,
) -> torch.Tensor:
    """``[B]``: each customer's term of :func:`multitask_loss` (their mean is the loss), for
    paired comparisons of two models on the same rows (training.gate)."""
    ziln = ziln_nll(ziln_logits, revenue, reduction="none")
    return ziln + churn_weight * churn_bce(churn_logit, churned, reduction="none")
