"""Model training for CLV & churn: losses, evaluation metrics and classical baselines.

Pure-function modules (no I/O):

* :mod:`training.losses` -- zero-inflated lognormal (ZILN) loss and its predictive summaries,
  churn BCE and the combined multi-task loss (torch).
* :mod:`training.metrics` -- CLV ranking/calibration metrics and churn classification metrics
  (numpy).
* :mod:`training.baselines` -- BG/NBD + Gamma-Gamma probabilistic models and a gradient-boosted
  feature baseline (numpy / scipy / scikit-learn).
"""
