"""Inverse problems: observations from files, true parameter values, identification within bounds."""
import csv
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import pinnkit
from pinnkit.cli import main
from pinnkit.conditions import Observation
from pinnkit.config import ConfigError, load
from pinnkit.metrics import reference_set
from pinnkit.pdes import PROBLEMS

ROOT = Path(__file__).resolve().parents[1]
BURGERS_INVERSE = ROOT / "problems" / "burgers_inverse.toml"
NU = 0.01 / math.pi


def _history(run_dir):
    with open(run_dir / "history.csv") as f:
        return list(csv.DictReader(f))


def _heat_inverse(tmp_path, bounds):
    """The example heat equation with k unknown (true 0.1), from 300 noisy observations of its exact solution."""
    rng = np.random.default_rng(0)
    x, t = rng.uniform(0, 1, 300), rng.uniform(0, 1, 300)
    np.savez(tmp_path / "heat.npz", x=x, t=t, u=np.exp(-0.1 * np.pi**2 * t) * np.sin(np.pi * x))
    config = {"seed": 0, "dtype": "float64", "problem": {"name": f"{ROOT / 'examples' / 'custom_pde.py'}:Heat",
              "parameters": {"k": {"init": 0.3, "bounds": bounds, "trainable": True, "true": 0.1}}},
              "data": {"file": str(tmp_path / "heat.npz"), "noise": 0.01},
              "points": {"interior": 300, "boundary": 50, "initial": 50}, "model": {"width": 16, "depth": 2},
              "phases": [{"optimizer": "adam", "iterations": 100, "lr": 1e-2}, {"optimizer": "lbfgsb", "iterations": 200}],
              "output": {"log_every": 10}}
    result = pinnkit.solve(config, out=tmp_path / "run")
    return result.summary["identified"]["k"], [float(row["k"]) for row in _history(result.run_dir)]


def test_inverse_problem_moves_the_parameter_to_the_truth_within_bounds(tmp_path):
    found, trajectory = _heat_inverse(tmp_path, [0.01, 1.0])
    assert found["true"] == 0.1 and found["rel_error"] == pytest.approx(abs(found["value"] - 0.1) / 0.1)
    assert found["rel_error"] < 0.05
    assert trajectory[0] == 0.3 and all(0.01 <= k <= 1.0 for k in trajectory)


def test_a_truth_outside_the_bounds_leaves_the_parameter_on_its_bound(tmp_path):
    found, trajectory = _heat_inverse(tmp_path, [0.2, 1.0])
    assert min(trajectory) >= 0.2 and found["value"] == pytest.approx(0.2, abs=1e-9)


def test_reference_uses_true_parameter_values():
    cfg = load(BURGERS_INVERSE)
    problem = PROBLEMS["burgers"](cfg.problem.parameters)
    assert float(problem.nu.detach()) == 0.01 and problem.true == {"nu": pytest.approx(NU)}
    assert float(problem.truth().nu) == pytest.approx(NU) and float(problem.nu.detach()) == 0.01
    grid = reference_set(problem, problem.domain(), 400)
    exact = PROBLEMS["burgers"]({"nu": NU}).reference(*(torch.as_tensor(c) for c in grid.arrays["points"].T))["u"]
    np.testing.assert_allclose(grid.arrays["u"], exact, rtol=0, atol=1e-12)


def test_identified_reports_value_truth_and_relative_error():
    problem = PROBLEMS["kovasznay_inverse"](load(ROOT / "problems" / "navier_stokes_inverse.toml").problem.parameters)
    found = problem.identified()
    assert found["lambda1"] == {"value": 0.5, "true": 1.0, "rel_error": 0.5}
    assert found["lambda2"]["true"] == 0.05 and found["lambda2"]["rel_error"] == pytest.approx(1.0)
    assert PROBLEMS["kovasznay"]().identified() == {}


@pytest.fixture
def columns():
    rng = np.random.default_rng(0)
    return {"x": rng.uniform(-1, 1, 50), "t": rng.uniform(0, 1, 50), "u": rng.normal(size=50)}


def _write(path, columns):
    if path.suffix == ".npz":
        np.savez(path, **columns)
    else:
        np.savetxt(path, np.stack(list(columns.values()), 1), delimiter=",", header=",".join(columns), comments="")
    return path


@pytest.mark.parametrize("suffix", [".npz", ".csv"])
def test_observations_read_from_npz_and_csv(tmp_path, columns, suffix):
    obs = Observation.from_file(_write(tmp_path / f"obs{suffix}", columns), ("x", "t"), ("u",))
    np.testing.assert_allclose(obs.points, np.stack([columns["x"], columns["t"]], 1))
    np.testing.assert_allclose(obs.data["u"], columns["u"])
    assert obs.name == "data"


def test_observation_noise_is_seeded_and_scaled_by_the_field_spread(tmp_path, columns):
    columns = {**columns, "x": np.tile(columns["x"], 200), "t": np.tile(columns["t"], 200),
               "u": np.tile(columns["u"], 200)}
    path = _write(tmp_path / "obs.npz", columns)
    noisy = [Observation.from_file(path, ("x", "t"), ("u",), 0.1, np.random.default_rng(s)).data["u"] for s in (1, 1, 2)]
    np.testing.assert_array_equal(noisy[0], noisy[1])
    assert not np.array_equal(noisy[0], noisy[2])
    assert np.std(noisy[0] - columns["u"]) == pytest.approx(0.1 * np.std(columns["u"]), rel=0.05)


@pytest.mark.parametrize("change, message", [
    (lambda c: c.pop("t"), "no column 't'"),
    (lambda c: c.pop("u"), "no field column"),
    (lambda c: c.update(w=c["u"]), "column 'w' is neither a coordinate nor a field"),
    (lambda c: c["u"].__setitem__(3, np.nan), "column 'u' has 1 NaN or infinite values"),
    (lambda c: c.update(u=c["u"][:10]), "columns must be non-empty and of equal length"),
])
def test_bad_observation_files_are_named_with_the_problem(tmp_path, columns, change, message):
    change(columns)
    for suffix in (".npz", ".csv"):
        if suffix == ".csv" and "equal length" in message:
            continue
        with pytest.raises(ValueError, match=message):
            Observation.from_file(_write(tmp_path / f"obs{suffix}", columns), ("x", "t"), ("u",))


def test_missing_or_foreign_observation_files(tmp_path):
    with pytest.raises(ValueError, match="no such observation file"):
        Observation.from_file(tmp_path / "none.npz", ("x",), ("u",))
    (tmp_path / "obs.txt").write_text("x,u\n1,2\n")
    with pytest.raises(ValueError, match="must be a .npz or .csv file"):
        Observation.from_file(tmp_path / "obs.txt", ("x",), ("u",))
    (tmp_path / "obs.csv").write_text("x,u\n1,abc\n")
    with pytest.raises(ValueError, match="cannot read observations"):
        Observation.from_file(tmp_path / "obs.csv", ("x",), ("u",))


def test_data_file_is_relative_to_the_toml_and_bad_ones_exit_2(tmp_path, columns, capsys):
    columns["u"][0] = np.nan
    _write(tmp_path / "obs.csv", columns)
    toml = tmp_path / "inverse.toml"
    toml.write_text('[problem]\nname = "burgers"\n[data]\nfile = "obs.csv"\nnoise = 0.01\n'
                    '[[phases]]\noptimizer = "adam"\niterations = 2\n')
    assert load(toml).data.file == str(tmp_path / "obs.csv")
    assert main(["solve", str(toml), "--quiet", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: data.file: ") and "column 'u' has 1 NaN" in err and not (tmp_path / "run").exists()


def test_negative_noise_is_a_config_error():
    with pytest.raises(ConfigError, match="data.noise: must be >= 0"):
        load(BURGERS_INVERSE, ("data.noise=-0.1",))
