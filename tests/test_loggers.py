"""Loggers: what TensorBoard and MLflow read back is what history.csv holds; a missing package is one line."""
import csv
from pathlib import Path


import pinnkit
from pinnkit import loggers
from pinnkit.cli import main

ROOT = Path(__file__).resolve().parents[1]
BURGERS = ROOT / "problems" / "burgers.toml"
TINY = ["model.hard_constraints=false", "points.interior=60", "points.boundary=10", "points.initial=10",
        "points.evaluation=64", "model.depth=2", "model.width=6", "output.log_every=5", "phases[0].iterations=10",
        "phases[1].iterations=5"]


def history(run_dir: Path) -> list[dict]:
    with open(run_dir / "history.csv") as f:
        return list(csv.DictReader(f))


def test_tensorboard_scalars_are_the_history(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = pinnkit.solve(BURGERS, TINY + ['output.loggers=["tensorboard"]'], out=tmp_path / "run")
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    rows = history(result.run_dir)
    assert {"loss", "pde", "rel_l2_u", "lr"} <= set(events.Tags()["scalars"])
    logged = {(e.step, round(e.value, 5)) for e in events.Scalars("rel_l2_u")}
    assert logged == {(int(r["step"]), round(float(r["rel_l2_u"]), 5)) for r in rows}


def test_mlflow_metrics_and_parameters_are_the_run(tmp_path, monkeypatch):
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"file://{tmp_path / 'mlruns'}")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    result = pinnkit.solve(BURGERS, TINY + ['output.loggers=["mlflow"]'], out=tmp_path / "run")
    client = mlflow.tracking.MlflowClient(f"file://{tmp_path / 'mlruns'}")
    [run] = client.search_runs(client.search_experiments()[0].experiment_id)
    assert run.info.run_name == "run" and run.info.status == "FINISHED"
    assert run.data.params["phases.0.iterations"] == "10" and run.data.params["model.width"] == "6"
    losses = {(m.step, round(m.value, 9)) for m in client.get_metric_history(run.info.run_id, "loss")}
    assert losses == {(int(r["step"]), round(float(r["loss"]), 9)) for r in history(result.run_dir)}


def test_a_logger_without_its_package_is_one_line_before_anything_is_written(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(loggers.PACKAGES, "tensorboard", "no_such_tensorboard_module")
    code = main(["solve", str(BURGERS), "--set", 'output.loggers=["tensorboard"]', "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == ('error: output.loggers: "tensorboard" needs the no_such_tensorboard_module package: '
                                 'pip install "pinnkit[tensorboard]"')
    assert not (tmp_path / "run").exists()


def test_metrics_leave_out_positions_and_non_numbers():
    row = {"phase": 1, "optimizer": "adam", "iteration": 5, "step": 15, "evaluations": 5, "time": 0.5, "lr": None,
           "loss": 0.25, "rel_l2_u": float("nan"), "nu": 0.01}
    assert loggers.metrics(row) == {"time": 0.5, "loss": 0.25, "nu": 0.01}
