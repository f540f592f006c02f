"""``python -m training [--options]``: train on the warehouse and write artifact + report."""

from __future__ import annotations

import logging
import os
import sys

from training.config import parse_args


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("httpx", "transformers", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    config = parse_args(argv)  # before torch is imported: --help and errors come at once
    from training.train import main as train

    logging.getLogger("training").info(
        "warehouse %s -> artifacts %s (project configuration: dbt_project.yml + CLV_* env vars)",
        config.database,
        config.output_dir,
    )
    train(config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
