"""Where history rows go besides history.csv: TensorBoard and MLflow (`[output] loggers = [...]`).

A logger is a callback the trainer shows every history row (it never stops the run) and closes at the
end. Each needs its package (an optional extra: `pip install "pinnkit[tensorboard]"`, `"pinnkit[mlflow]"`),
checked before anything is written.
"""
from __future__ import annotations

import importlib
import math
from pathlib import Path
from typing import Any, Iterator, Mapping

from .config import Config, ConfigError

PACKAGES = {"tensorboard": "tensorboard", "mlflow": "mlflow"}  # logger -> the module it needs
COUNTERS = ("phase", "iteration", "step", "evaluations")  # row keys that are positions, not metrics


def metrics(row: Mapping[str, Any]) -> dict[str, float]:
    """The row's finite numbers that are measurements (losses, errors, lr, time, parameters)."""
    return {k: float(v) for k, v in row.items() if k not in COUNTERS and isinstance(v, (int, float))
            and not isinstance(v, bool) and math.isfinite(v)}


class TensorBoard:
    """Scalars in RUN_DIR/tensorboard, one per column, against the run's step (`tensorboard --logdir`)."""

    def __init__(self, run_dir: Path, config: Config):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(run_dir / "tensorboard"))

    def __call__(self, row: Mapping[str, Any]) -> None:
        for key, value in metrics(row).items():
            self.writer.add_scalar(key, value, int(row["step"]))

    def close(self, status: str) -> None:
        self.writer.close()


class MLflow:
    """One MLflow run per solve, named after the run folder, in the tracking store MLflow is set up for
    (MLFLOW_TRACKING_URI): the config as parameters, the history as metrics against the step."""

    def __init__(self, run_dir: Path, config: Config):
        import mlflow

        self.mlflow = mlflow
        self.run = mlflow.start_run(run_name=run_dir.name)
        mlflow.log_params(dict(flatten(config.model_dump(exclude_none=True))))
        mlflow.set_tag("pinnkit.run_dir", str(run_dir))

    def __call__(self, row: Mapping[str, Any]) -> None:
        self.mlflow.log_metrics(metrics(row), step=int(row["step"]))

    def close(self, status: str) -> None:
        self.mlflow.end_run("FINISHED" if status == "completed" else "FAILED" if status == "failed" else "KILLED")


LOGGERS = {"tensorboard": TensorBoard, "mlflow": MLflow}


def flatten(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(`phases.0.lr`, 0.001) pairs of a nested config (MLflow's names allow no brackets)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from flatten(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(node, list) and any(isinstance(v, (dict, list)) for v in node):
        for i, value in enumerate(node):
            yield from flatten(value, f"{prefix}.{i}")
    else:
        yield prefix, node


def check(config: Config) -> None:
    """Every logger's package must import: refuse in one line, before a run folder exists."""
    for name in config.output.loggers:
        try:
            importlib.import_module(PACKAGES[name])
        except ImportError:
            raise ConfigError(f'output.loggers: "{name}" needs the {PACKAGES[name]} package: '
                              f'pip install "pinnkit[{name}]"') from None


def open_loggers(config: Config, run_dir: Path) -> list[Any]:
    """The run's loggers, started."""
    return [LOGGERS[name](run_dir, config) for name in config.output.loggers]
