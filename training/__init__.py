"""Training of the CLV & churn model: read the warehouse, fine-tune, evaluate, ship an artifact.

``python -m training`` (= ``clv-train``; :mod:`training.cli`) parses a
:class:`training.config.TrainConfig` and runs :func:`training.train.main`; its other commands
list, promote, roll back and retrain model versions. The package builds on :mod:`python_udfs` (model
architecture, artifact I/O, the batch scorer and the closed forms shared with scoring); nothing
in ``python_udfs`` imports it.

Orchestration and I/O:

* :mod:`training.config` -- the frozen, validated training configuration and its command line.
* :mod:`training.data` -- point-in-time training examples read from the DuckDB warehouse
  (Arrow), checked against the declared feature list, split on a customer-id hash.
* :mod:`training.cli` -- the commands: fit (default), list, promote, rollback, retrain.
* :mod:`training.train` -- the steps of one training: candidate and variant selection
  (fused / numeric / text), refit, evaluation and the shipped artifact.
* :mod:`training.loop` -- the fine-tuning loop (head / LoRA / full modes): lazily built
  batches, optimiser and schedule, epochs, early stopping.
* :mod:`training.checkpoint` -- resumable state (safetensors + JSON) and ``--resume``.
* :mod:`training.lifecycle` -- model versions, the ``current`` pointer and its history.
* :mod:`training.evaluate` -- metrics of the model, its ablations and the baselines on the same
  held-out rows, bootstrap intervals and the report (``report.json``, ``report.md``,
  ``predictions.csv``).

Pure-function modules (no I/O):

* :mod:`training.losses` -- zero-inflated lognormal (ZILN) loss and its predictive summaries,
  churn BCE and the combined multi-task loss (torch).
* :mod:`training.metrics` -- CLV ranking/calibration metrics and churn classification metrics
  (numpy).
* :mod:`training.baselines` -- BG/NBD + Gamma-Gamma probabilistic models and a gradient-boosted
  feature baseline (numpy / scipy / scikit-learn).
"""
