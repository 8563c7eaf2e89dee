"""What every benchmark records beside its figures: the machine, the software, the command."""
from __future__ import annotations

import json
import os
import platform
import statistics
import sys
from pathlib import Path
from typing import Any, Sequence

import torch

# burgers.toml's network before it became 4x30: the figures of speed.py, distributed.py and schedules_burgers.py
# (README) were measured with it, so those scripts keep it
BURGERS_8X20 = ("model.depth=8", "model.width=20")


def machine() -> dict[str, Any]:
    """CPU model and core count, torch threads, GPU name when one is used, versions."""
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
            "torch": torch.__version__, "python": platform.python_version(), "command": " ".join(sys.argv)}


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median and range: how accuracy figures are quoted (seeds vary a lot)."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {path}")
