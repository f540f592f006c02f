"""Device and numeric precision: one home for "where and how does the model run".

Precision is a property of a trained model (recorded in its artifact as ``precision``):
scoring runs the encoder with the precision the model was trained with, on any device, so the
embeddings the head sees at scoring are those it was trained on.
"""

from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

# One lock for every first import of transformers and every model load in this process: the
# scoring model (python_udfs.udfs) and the event text encoder (python_udfs.event_encoder) load
# lazily from DuckDB's UDF threads, and two threads importing transformers at once can see it
# half-initialised ("cannot import name ... from transformers").
MODEL_LOAD_LOCK = threading.RLock()

logger = logging.getLogger(__name__)

PRECISIONS = ("fp32", "bf16")
# CPU flags of bf16 matrix units (Intel AMX, AVX512-BF16); without them bf16 is emulated.
BF16_CPU_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})


def default_device(requested: str | None = None) -> torch.device:
    """`requested` (cpu, cuda, cuda:1 ...), else the configured device (the plugin config in
    profiles.yml, i.e. env CLV_DEVICE, read by python_udfs.settings), else cuda when
    available."""
    import torch

    from python_udfs import settings

    name = requested or settings.load().device
    return torch.device(name or ("cuda" if torch.cuda.is_available() else "cpu"))


@functools.cache
def cpu_has_bf16_units(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """True when the CPU advertises bf16 matrix units (Linux; False where unknown)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return False
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
            break
    return bool(flags & BF16_CPU_FLAGS)


def fast_precision(device: torch.device | str) -> str:
    """The precision that is fastest without emulation on `device`: bf16 on CUDA cards that
    support it and on CPUs with bf16 matrix units, else fp32."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if device.type == "cpu" and cpu_has_bf16_units() else "fp32"


def resolve_precision(requested: str, device: torch.device | str) -> str:
    """`auto` -> fast_precision(device); fp32 / bf16 as given (anything else is an error)."""
    if requested == "auto":
        return fast_precision(device)
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be auto, {' or '.join(PRECISIONS)}, not {requested!r}")
    return requested


def autocast(precision: str, device: torch.device | str) -> torch.autocast:
    """The autocast context for `precision` on `device` (disabled for fp32)."""
    import torch

    device = torch.device(device)
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
