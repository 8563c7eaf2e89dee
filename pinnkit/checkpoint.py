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
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .build import Setup
from .config import Config, ConfigError, first_difference, load as load_config
from .run import SOURCES, RunError, kept_code, read_torch, save_torch
from .usercode import Code, source_file

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
        "causal": setup.causal.state_dict() if setup.causal is not None else None,
        "balance": setup.balance.state_dict() if setup.balance is not None else None,
    }


@torch.no_grad()
def restore(setup: Setup, state: dict[str, Any]) -> None:
    """Put a checkpoint's model, parameters, points (master copies) and RNG states back into `setup`.

    Cast the model to the checkpoint's dtype first, so float64 weights keep every bit; move the
    points to the device afterwards (`Objective.to`).
    """
    groups, dims = setup.objective.groups, len(setup.problem.inputs)
    if len(state["points"]) != len(groups) or set(state["parameters"]) != set(setup.problem.values):
        raise RunError("checkpoint does not fit the problem of config.toml (other terms or parameters)")
    for group, arrays in zip(groups, state["points"]):
        points = arrays.get("points")
        if points is None or points.dim() != 2 or points.shape[1] != dims or not len(points) \
                or set(arrays) != set(group.arrays):
            raise RunError(f"checkpoint does not fit the problem of config.toml (the points of {group.owner})")
    if any(v.numel() != 1 for v in state["parameters"].values()):
        raise RunError("checkpoint does not fit the problem of config.toml (a parameter is not a number)")
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
    if setup.causal is not None and state.get("causal") is not None:
        setup.causal.load_state_dict(state["causal"])
    if setup.balance is not None and state.get("balance") is not None:
        setup.balance.load_state_dict(state["balance"], setup.objective)


def save(run_dir: Path, state: dict[str, Any]) -> None:
    """Write RUN_DIR/checkpoint.pt atomically."""
    save_torch(run_dir / FILE, state)


def read(run_dir: Path) -> dict[str, Any]:
    """The run's checkpoint, checked to be one this version of pinnkit wrote."""
    state = read_torch(run_dir / FILE, KEYS)
    if not isinstance(state["format"], int) or state["format"] != FORMAT:
        raise RunError(f"{run_dir / FILE}: checkpoint format {state['format']}, this pinnkit reads {FORMAT}")
    return state


def open_run(run_dir: Union[str, Path], problem: Optional[type] = None,
             model: Optional[torch.nn.Module] = None) -> tuple[Config, dict[str, Any], Code]:
    """The config, checkpoint and user code (`run.kept_code`: what is given again from Python, else the
    copies of the user's files the run keeps) of a run folder that can be resumed; anything else is one
    clear RunError. A user's file that changed since the run started is refused: the run would go on with
    another equation or network."""
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
    check(state, config, path / FILE)
    for section, copy in SOURCES.items():
        unchanged(path / copy, source_file(getattr(config, section).name))
    return config, state, kept_code(path, config, problem, model)


def unchanged(copy: Path, original: Optional[Path]) -> None:
    """Refuse a user's file that exists and differs from the copy the run keeps of it."""
    if original is not None and copy.is_file() and original.is_file() and original.read_bytes() != copy.read_bytes():
        raise RunError(f"{original}: changed since the run started (the run keeps the file it started with as "
                       f"{copy}); put that version back to resume, or start a new run")


class _Progress(BaseModel):
    iterations: int = Field(ge=0)
    evaluations: int = Field(ge=0)
    seconds: float = Field(ge=0)
    state: Optional[dict] = None


class _Result(BaseModel):
    optimizer: str
    status: str
    message: str
    iterations: int = Field(ge=0)
    evaluations: int = Field(ge=0)
    loss: float
    seconds: float = Field(ge=0)


class _Last(BaseModel):
    loss: dict[str, float]
    rel_l2: dict[str, float]


class _Position(BaseModel):
    """A checkpoint's fields, as `capture` and `Trainer.position` write them."""

    model_config = ConfigDict(extra="ignore", arbitrary_types_allowed=True, strict=True)

    config: str
    model: dict[str, torch.Tensor]
    parameters: dict[str, torch.Tensor]
    points: list[dict[str, torch.Tensor]]
    rng: dict[str, Any]

    phase: int = Field(ge=0)
    progress: _Progress
    step: int = Field(ge=0)
    results: list[_Result]
    history_rows: int = Field(ge=0)
    seconds: float = Field(ge=0)
    last: _Last
    snapshot: Optional[dict]
    resumed: list[int]


def check(state: dict[str, Any], config: Config, file: Path) -> None:
    """Refuse, in one RunError naming `file`, a checkpoint whose fields do not fit each other or the config:
    it was damaged or edited by hand, and using it would lose or invent history."""
    try:
        position = _Position.model_validate(state)
    except ValidationError as err:
        first = err.errors()[0]
        raise RunError(f"{file}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    phases, done, progress = [p for _, p in config.schedule], position.results, position.progress
    iterations = sum(r.iterations for r in done)
    budget = phases[position.phase].iterations if position.phase < len(phases) else 0
    problems = [
        (position.phase > len(phases), f"phase {position.phase} of a run with {len(phases)} phases"),
        (len(done) != position.phase, f"{len(done)} phase results before phase {position.phase}"),
        (any(r.optimizer != p.optimizer for r, p in zip(done, phases)), "results of other optimizers"),
        (position.step != iterations, f"step {position.step} after {iterations} iterations"),
        (progress.iterations > budget, f"iteration {progress.iterations} of a phase of {budget}"),
        (not _rng_fits(state["rng"]), "a random generator state this torch and numpy cannot take"),
    ]
    for wrong, what in problems:
        if wrong:
            raise RunError(f"{file}: does not fit its run ({what}); it was damaged or edited")


def _rng_fits(rng: Any) -> bool:
    """Whether the checkpointed torch and numpy generator states can be restored."""
    if not isinstance(rng, dict) or not torch.is_tensor(rng.get("torch")):
        return False
    fits = rng["torch"].dtype == torch.uint8 and rng["torch"].shape == torch.get_rng_state().shape
    try:
        np.random.default_rng().bit_generator.state = rng.get("numpy")
    except (TypeError, ValueError, KeyError):
        return False
    return bool(fits)


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
