"""The run folder's `checkpoint.pt`: what a solve needs to continue exactly where it stopped.

It holds plain tensors, dicts, lists, numbers and strings (`torch.load(weights_only=True)`):

    format, config   FORMAT; the resolved config as TOML (a resume refuses a config.toml that validates
                     to a different config; formatting and comments do not count)
    model            the network's state dict
    parameters       every PDE parameter's float64 master (trainable or not)
    points           each term group's point arrays (float64), in group order: the points in use
    rng              torch's CPU generator state (a tensor) and the numpy generator's state
    + the trainer's position (`Trainer.position`): phase, its progress and optimizer state, step,
      earlier phase results, history rows written, seconds, last losses, snapshot, earlier resumes

It is rewritten atomically (temporary file, fsync, rename), so a kill at any moment
leaves the previous checkpoint whole; a stray temporary file is never read.
"""
from __future__ import annotations

import json
import shlex
import tomllib
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch

from .build import Setup
from .config import Config, ConfigError, load as load_config
from .run import RunError, read_torch, save_torch

FILE = "checkpoint.pt"
FORMAT = 2  # 2: phase state under progress["state"], parameters as float64 masters
KEYS = ("format", "config", "model", "parameters", "points", "rng", "phase", "progress", "step", "results",
        "history_rows", "seconds", "last", "snapshot", "resumed")
RESUMABLE = {"interrupted", "failed"}  # summary statuses worth continuing (a missing summary: a crash)


def capture(setup: Setup) -> dict[str, Any]:
    """The model, parameters, points in use and RNG states of a setup, as plain CPU data."""
    return {
        "format": FORMAT,
        "config": setup.config.to_toml(),
        "model": {k: v.detach().cpu().clone() for k, v in setup.model.state_dict().items()},
        "parameters": setup.problem.state_dict(),
        "points": [{k: torch.from_numpy(np.array(v)) for k, v in g.arrays.items()} for g in setup.objective.groups],
        "rng": {"torch": torch.get_rng_state(), "numpy": setup.rng.bit_generator.state},
    }


@torch.no_grad()
def restore(setup: Setup, state: dict[str, Any]) -> None:
    """Put a checkpoint's model, parameters, points (master copies) and RNG states back into `setup`.

    Cast the model to the checkpoint's dtype first, so float64 weights keep every bit; move the
    points to the device afterwards (`Objective.to`).
    """
    groups = setup.objective.groups
    if len(state["points"]) != len(groups) or set(state["parameters"]) != set(setup.problem.values):
        raise RunError("checkpoint does not fit the problem of config.toml (other terms or parameters)")
    try:
        setup.model.load_state_dict(state["model"])
    except RuntimeError as err:
        raise RunError(f"checkpoint does not fit the network of config.toml ({str(err).splitlines()[0]})") from None
    setup.problem.load_state_dict(state["parameters"])
    for group, arrays in zip(groups, state["points"]):
        group.arrays = {k: v.numpy() for k, v in arrays.items()}
        group.batch = {}
    torch.set_rng_state(state["rng"]["torch"])
    setup.rng.bit_generator.state = state["rng"]["numpy"]


def save(run_dir: Path, state: dict[str, Any]) -> None:
    save_torch(run_dir / FILE, state)


def read(run_dir: Path) -> dict[str, Any]:
    """The run's checkpoint, checked to be one this version of pinnkit wrote."""
    state = read_torch(run_dir / FILE, KEYS)
    if state["format"] != FORMAT:
        raise RunError(f"{run_dir / FILE}: checkpoint format {state['format']}, this pinnkit reads {FORMAT}")
    return state


def open_run(run_dir: Union[str, Path]) -> tuple[Config, dict[str, Any]]:
    """The config and checkpoint of a run folder that can be resumed; anything else is one clear RunError."""
    path = Path(run_dir)
    if not path.is_dir():
        raise RunError(f"{path}: no such run folder")
    if not (path / "config.toml").is_file():
        raise RunError(f"{path}: not a run folder (config.toml is missing)")
    status = _status(path)
    if status is not None and status not in RESUMABLE:
        raise RunError(f"{path}: the run is {status} (summary.json); only an interrupted, failed or crashed "
                       f"run can be resumed")
    config = load_config(path / "config.toml")
    state = read(path)
    try:
        then = load_config(tomllib.loads(str(state["config"])))
    except (tomllib.TOMLDecodeError, ConfigError) as err:
        raise RunError(f"{path / FILE}: its config cannot be read ({err})") from None
    if then != config:
        raise RunError(f"{path / 'config.toml'}: differs from the config the checkpoint was written with "
                       f"({first_difference(config.model_dump(), then.model_dump())})")
    return config, state


def first_difference(now: Any, then: Any, where: str = "") -> str:
    """`key.path: NOW, was THEN` for the first value that differs between two dumped configs."""
    if isinstance(now, dict) and isinstance(then, dict):
        for key in list(now) + [k for k in then if k not in now]:
            if now.get(key) != then.get(key):
                return first_difference(now.get(key), then.get(key), f"{where}.{key}" if where else str(key))
    if isinstance(now, list) and isinstance(then, list) and len(now) == len(then):
        for i, (a, b) in enumerate(zip(now, then)):
            if a != b:
                return first_difference(a, b, f"{where}[{i}]")
    return f"{where}: {now!r}, was {then!r}"


def _status(path: Path) -> Optional[str]:
    """The status in summary.json, or None when there is none (the run crashed or was killed)."""
    try:
        return json.loads((path / "summary.json").read_text()).get("status")
    except FileNotFoundError:
        return None
    except (ValueError, AttributeError):
        raise RunError(f"{path / 'summary.json'}: not a pinnkit summary") from None


def resume_command(run_dir: Path) -> str:
    """The shell command that continues a run."""
    return f"python -m pinnkit solve --resume {shlex.quote(str(run_dir))}"
