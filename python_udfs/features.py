"""Numeric feature preparation shared by training and scoring (one definition, no skew)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np


def signed_log1p(x: np.ndarray) -> np.ndarray:
    """sign(x) * log1p(|x|): tames the heavy tails of counts and money, keeps the order."""
    return np.sign(x) * np.log1p(np.abs(x))


@dataclass(frozen=True)
class FeatureScaler:
    """Per-feature mean and standard deviation of signed_log1p(x), fitted on training rows.

    Missing or non-finite values map to 0 after scaling, i.e. the training mean.
    """

    names: tuple[str, ...]
    means: tuple[float, ...]
    stds: tuple[float, ...]

    @classmethod
    def fit(cls, names: list[str] | tuple[str, ...], x: np.ndarray) -> FeatureScaler:
        """x: [N, F] raw features (NaN for missing)."""
        z = signed_log1p(np.where(np.isfinite(x), x, np.nan))
        with warnings.catch_warnings():  # an all-missing column (e.g. no customers table)
            warnings.simplefilter("ignore", RuntimeWarning)
            means = np.nan_to_num(np.nanmean(z, axis=0), nan=0.0)
            stds = np.nan_to_num(np.nanstd(z, axis=0), nan=1.0)
        stds = np.where(stds > 1e-6, stds, 1.0)
        return cls(tuple(names), tuple(map(float, means)), tuple(map(float, stds)))

    def transform(self, x: np.ndarray) -> np.ndarray:
        """[N, F] raw features -> [N, F] float32 standardised, missing -> 0."""
        if x.shape[1] != len(self.names):
            raise ValueError(f"expected {len(self.names)} features, got {x.shape[1]}")
        z = (signed_log1p(x) - np.asarray(self.means)) / np.asarray(self.stds)
        return np.where(np.isfinite(z), z, 0.0).astype(np.float32)

    def to_dict(self) -> dict:
        return {"names": list(self.names), "means": list(self.means), "stds": list(self.stds)}

    @classmethod
    def from_dict(cls, d: dict) -> FeatureScaler:
        return cls(tuple(d["names"]), tuple(d["means"]), tuple(d["stds"]))
