"""Zero-inflated lognormal (ZILN) output distribution of the CLV head.

The head emits three numbers per customer, ``logits[:, k]``:

* ``k = 0`` -- purchase logit ``l``; ``p = sigmoid(l)`` is the probability of any revenue,
* ``k = 1`` -- ``mu``, the location of log-revenue given a purchase,
* ``k = 2`` -- ``sigma_raw``; ``sigma = max(softplus(sigma_raw), SIGMA_MIN)``.

Revenue ``Y`` is 0 with probability ``1 - p`` and ``LogNormal(mu, sigma)`` otherwise (Wang, Liu &
Miao 2019). Scoring needs these functions; `training.losses` adds the likelihood.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

SIGMA_MIN: float = 1e-3
"""Lower bound applied to ``softplus(sigma_raw)``."""


def _check_ziln_logits(logits: torch.Tensor) -> None:
    if logits.ndim != 2 or logits.shape[-1] != 3:
        raise ValueError(f"ZILN logits must have shape [B, 3], got {tuple(logits.shape)}")


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
