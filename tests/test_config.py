"""Config loading: defaults, overrides, and one clear line per mistake (exit 2 from the CLI)."""
import subprocess
import sys
from pathlib import Path

import pytest

from pinnkit.config import ConfigError, apply_override, load

ROOT = Path(__file__).resolve().parents[1]
BURGERS = ROOT / "problems" / "burgers.toml"


def test_shipped_burgers_loads_with_its_values():
    cfg = load(BURGERS)
    assert cfg.problem.parameters["nu"].init == pytest.approx(0.01 / 3.141592653589793)
    assert [p.optimizer for p in cfg.phases] == ["adam", "lbfgsb"]
    assert cfg.phases[1].dtype == "float64"
    assert (cfg.model.width, cfg.model.depth, cfg.points.interior) == (30, 4, 4000)


def test_resolved_config_round_trips(tmp_path):
    cfg = load(BURGERS, ("phases[0].iterations=7",))
    (tmp_path / "c.toml").write_text(cfg.to_toml())
    assert load(tmp_path / "c.toml") == cfg


def test_overrides_reach_nested_and_indexed_keys():
    cfg = load(BURGERS, ("phases[0].iterations=200", "problem.parameters.nu=0.01", "model.activation=sin",
                         "phases[1].optimizer=adam", "points.sampler='lhs'"))
    assert cfg.phases[0].iterations == 200
    assert cfg.problem.parameters["nu"].init == 0.01
    assert cfg.model.activation == "sin" and cfg.points.sampler == "lhs"
    assert cfg.phases[1].optimizer == "adam" and cfg.phases[1].dtype == "float64"


def test_switching_a_phase_optimizer_drops_the_keys_only_the_old_one_takes():
    """burgers.toml's L-BFGS-B phase sets `history_size`: Adam has no such key, the native L-BFGS has."""
    assert load(BURGERS).phases[1].history_size == 100
    adam = load(BURGERS, ("phases[1].optimizer=adam",)).phases[1]
    assert adam.optimizer == "adam" and "history_size" not in type(adam).model_fields and adam.iterations == 9000
    assert load(BURGERS, ("phases[1].optimizer=lbfgs",)).phases[1].history_size == 100
    with pytest.raises(ConfigError, match=r"phases\[1\]\.history_size: unknown key"):
        load(BURGERS, ("phases[1].optimizer=adam", "phases[1].history_size=10"))
    with pytest.raises(ConfigError, match=r"phases\[1\]\.optimizer"):
        load(BURGERS, ("phases[1].optimizer=nosuch",))


def test_trainable_parameter_table():
    cfg = load(BURGERS, ("problem.parameters.nu={init = 0.05, bounds = [0.0, 0.1], trainable = true}",))
    nu = cfg.problem.parameters["nu"]
    assert (nu.init, nu.bounds, nu.trainable) == (0.05, [0.0, 0.1], True)


@pytest.mark.parametrize("override, message", [
    ("phases[1].iterations=-5", "phases[1].iterations: must be > 0, got -5"),
    ("phases[0].iterations=2.5", "phases[0].iterations: must be an integer, got 2.5"),
    ("phases[0].lrr=0.1", "phases[0].lrr: unknown key"),
    ("phases[0].optimizer=sgdx", "phases[0].optimizer: unknown optimizer 'sgdx'"),
    ("points.interior=0", "points.interior: must be > 0, got 0"),
    ("model.activation=relu", "model.activation: must be one of"),
    ("device=gpu", "device: must be 'auto', 'cpu', 'cuda' or 'cuda:N', got 'gpu'"),
    ("problem.parameters.nu=nan", "problem.parameters.nu.init: must be a finite number, got nan"),
    ("problem.parameters.nu={init = 0.5, bounds = [0.0, 0.1]}", "init 0.5 lies outside bounds [0.0, 0.1]"),
    ("problem.parameters.nu={init = 0.5, bounds = [1.0, 0.1]}", "bounds must have low <= high"),
    ("points.initial=-1", "points.initial: must be > 0, got -1"),
    ("points.evaluation=0", "points.evaluation: must be >= 16, got 0"),
    ("phases[0].iterations=0", "phases[0].iterations: must be > 0, got 0"),
    ("phases[1].max_evaluations=0", "phases[1].max_evaluations: must be > 0, got 0"),
    ("phases[0].max_seconds=0.0", "phases[0].max_seconds: must be > 0.0, got 0.0"),
    ("phases[0].lr=inf", "phases[0].lr: must be a finite number, got inf"),
    ("loss.weights.pde=nan", "loss.weights.pde: must be a finite number, got nan"),
    ("model.compile=yes", 'model.compile: must be true, false or "auto", got \'yes\''),
    ("model.compile=1", 'model.compile: must be true, false or "auto", got 1'),
    ("output.checkpoint_every=-1", "output.checkpoint_every: must be >= 0, got -1"),
    ("phases[3].lr=1", "--set phases[3].lr: index 3 out of range (the list has 2 entries)"),
    ("seed", "--set seed: expected key.path=value"),
])
def test_each_mistake_names_its_key_path(override, message):
    with pytest.raises(ConfigError) as err:
        load(BURGERS, (override,))
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_apply_override_creates_missing_tables():
    raw = {"problem": {"name": "burgers"}}
    apply_override(raw, "loss.weights.pde=10")
    assert raw["loss"] == {"weights": {"pde": 10}}


BAD_FILES = {
    "wrong_type.toml": ('[problem]\nname = "burgers"\n[model]\nwidth = "wide"\n[[phases]]\noptimizer = "adam"\n'
                        'iterations = 5\n', "model.width: must be an integer, got 'wide'"),
    "unknown_key.toml": ('[problem]\nname = "burgers"\n[modle]\nwidth = 3\n[[phases]]\noptimizer = "adam"\n'
                         'iterations = 5\n', "modle: unknown key"),
    "negative.toml": ('[problem]\nname = "burgers"\n[points]\nboundary = -3\n[[phases]]\noptimizer = "adam"\n'
                      'iterations = 5\n', "points.boundary: must be > 0, got -3"),
    "syntax.toml": ('[problem\nname = "burgers"\n', "invalid TOML"),
    "nan.toml": ('[problem]\nname = "burgers"\n[[phases]]\noptimizer = "adam"\niterations = 5\nlr = nan\n',
                 "phases[0].lr: must be a finite number, got nan"),
    "inf.toml": ('[problem]\nname = "burgers"\n[problem.parameters]\nnu = -inf\n[[phases]]\noptimizer = "adam"\n'
                 'iterations = 5\n', "problem.parameters.nu.init: must be a finite number, got -inf"),
    "unknown_problem.toml": ('[problem]\nname = "burgerz"\n[[phases]]\noptimizer = "adam"\niterations = 5\n',
                             "problem.name: unknown problem 'burgerz' (shipped: burgers"),
    "unknown_parameter.toml": ('[problem]\nname = "burgers"\n[problem.parameters]\nmu = 1.0\n[[phases]]\n'
                               'optimizer = "adam"\niterations = 5\n', "problem.parameters: Burgers has no parameter 'mu'"),
    "bad_weight.toml": ('[problem]\nname = "burgers"\n[loss.weights]\nbcc = 2.0\n[points]\ninterior = 50\n[[phases]]\n'
                        'optimizer = "adam"\niterations = 5\n', "loss.weights.bcc: no such loss term"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES) + ["missing.toml"])
def test_cli_bad_config_exits_2_with_one_line_and_writes_nothing(tmp_path, name):
    path = tmp_path / name
    if name in BAD_FILES:
        path.write_text(BAD_FILES[name][0])
        expected = BAD_FILES[name][1]
    else:
        expected = "no such config file"
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "pinnkit", "solve", str(path), "--out", str(out), "--quiet"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists() and not (tmp_path / "runs").exists()
