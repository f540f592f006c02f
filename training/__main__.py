"""``python -m training [COMMAND] [--options]`` (installed as ``clv-train``).

Without a command it trains on the warehouse and writes artifact + report (``fit``); the
version commands are ``list``, ``promote VERSION``, ``rollback`` and ``retrain``
(:mod:`training.cli`).
"""

from __future__ import annotations

import sys

from training.cli import main

if __name__ == "__main__":
    sys.exit(main())
