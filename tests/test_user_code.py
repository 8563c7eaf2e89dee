"""A user's own network and problem classes: from a TOML file and from Python, in a run folder that reopens
when moved, with every phase that can take them; interactive classes said at the start."""
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pinnkit
from pinnkit.cli import main
from pinnkit.run import RunError

ROOT = Path(__file__).resolve().parents[1]
BURGERS = ROOT / "problems" / "burgers.toml"
TINY = ["model.hard_constraints=false", "points.interior=80", "points.boundary=16", "points.initial=16",
        "points.evaluation=64", "output.log_every=5", "phases[0].iterations=10", "phases[1].iterations=5"]
NETS = '''
import torch


class Residual(torch.nn.Module):
    """A small residual network of a user's: x -> Linear -> (h + tanh(Linear h)) x blocks -> Linear."""

    def __init__(self, inputs, outputs, width=16, blocks=2):
        super().__init__()
        self.lift = torch.nn.Linear(inputs, width)
        self.blocks = torch.nn.ModuleList(torch.nn.Linear(width, width) for _ in range(blocks))
        self.out = torch.nn.Linear(width, outputs)

    def forward(self, x):
        h = torch.tanh(self.lift(x))
        for block in self.blocks:
            h = h + torch.tanh(block(h))
        return self.out(h)


class Wide(Residual):
    def forward(self, x):
        return torch.cat([super().forward(x)] * 3, dim=1)
'''


def module(tmp_path, name: str, text: str):
    (tmp_path / f"{name}.py").write_text(text)
    spec = importlib.util.spec_from_file_location(f"user_{name}", tmp_path / f"{name}.py")
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def points():
    return np.array([[0.1, 0.5], [-0.4, 0.25]])


def test_a_network_of_your_own_from_the_toml_trains_and_reopens_moved(tmp_path, capsys):
    (tmp_path / "nets.py").write_text(NETS)
    sets = [a for kv in TINY + ['model.name="nets.py:Residual"', "model.options={width = 12}"] for a in ("--set", kv)]
    (tmp_path / "case.toml").write_text(BURGERS.read_text())
    assert main(["solve", str(tmp_path / "case.toml"), *sets, "--out", str(tmp_path / "run"), "--quiet",
                 "--no-plots"]) == 0, capsys.readouterr().err
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["engine"] == "autograd"
    assert (tmp_path / "run" / "network.py").read_text() == NETS
    with pytest.raises(RunError, match=r"its network Residual \(nets.py\) is Python code"):
        pinnkit.load(tmp_path / "run")
    before = pinnkit.load(tmp_path / "run", trust_code=True)
    assert before.model.lift.out_features == 12
    moved = shutil.move(tmp_path / "run", tmp_path / "elsewhere")
    (tmp_path / "nets.py").unlink()
    after = pinnkit.load(moved, trust_code=True)
    np.testing.assert_array_equal(after.predict(points())["u"], before.predict(points())["u"])


def test_a_network_given_from_python_is_given_again_to_reopen(tmp_path):
    nets = module(tmp_path, "nets", NETS)
    net = nets.Residual(2, 1, width=10)
    result = pinnkit.solve(BURGERS, TINY, out=tmp_path / "run", model=net)
    assert result.status == "completed" and result.solution.model is net
    assert pinnkit.config.load(tmp_path / "run" / "config.toml").model.name == "given"
    with pytest.raises(RunError, match=r"its network was given from Python \(Residual\); give it again: model="):
        pinnkit.load(tmp_path / "run")
    again = pinnkit.load(tmp_path / "run", model=nets.Residual(2, 1, width=10))
    np.testing.assert_allclose(again.predict(points())["u"], result.solution.predict(points())["u"])


@pytest.mark.parametrize("phase", ['{optimizer = "lbfgs", iterations = 5}', '{optimizer = "lm", iterations = 3}',
                                   '{optimizer = "ssbroyden", iterations = 5}', '{optimizer = "gncg", iterations = 2}'])
def test_every_phase_that_needs_no_mlp_trains_a_network_of_your_own(phase, tmp_path):
    nets = module(tmp_path, "nets", NETS)
    result = pinnkit.solve(BURGERS, TINY + [f"phases[1]={phase}", "dtype=float64"], out=tmp_path / "run",
                           model=nets.Residual(2, 1, width=6, blocks=1))
    losses = [p["loss"] for p in result.summary["phases"]]
    assert result.status == "completed" and losses[1] < losses[0]


def test_kfac_refuses_a_network_that_shows_no_layers(tmp_path, capsys):
    nets = module(tmp_path, "nets", NETS)
    with pytest.raises(pinnkit.ProblemError, match="kfac needs a network that shows the calls of its linear layers"):
        pinnkit.solve(BURGERS, TINY + ['phases[1]={optimizer = "kfac", iterations = 2}'], out=tmp_path / "run",
                      model=nets.Residual(2, 1))
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("name, options, message", [
    ("nets.py:Wide", "{}", "model: Wide maps (2, 2) points to (2, 3), expected (2, 1): one column per field ('u',)"),
    ("nets.py:Residual", "{depth = 3}", "model: Residual(2, 1, **model.options) failed: TypeError"),
    ("nets.py:torch", "{}", "has no Module subclass named 'torch'"),
    ("mlp", "{width = 3}", "model.options: keyword arguments for a network of your own"),
])
def test_networks_that_cannot_be_built_are_one_line(name, options, message, tmp_path, capsys):
    (tmp_path / "nets.py").write_text(NETS)
    (tmp_path / "case.toml").write_text(BURGERS.read_text())
    code = main(["solve", str(tmp_path / "case.toml"), "--set", f'model.name="{name}"', "--set",
                 f"model.options={options}", "--out", str(tmp_path / "run"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and message in err, err
    assert not (tmp_path / "run").exists()


def test_a_problem_class_from_python_is_kept_with_its_run(tmp_path):
    heat = module(tmp_path, "heat", (ROOT / "examples" / "custom_pde.py").read_text())
    config = {"problem": {"name": heat.Heat}, "points": {"interior": 64, "evaluation": 64},
              "phases": [{"optimizer": "adam", "iterations": 4}]}
    result = pinnkit.solve(config, out=tmp_path / "run")
    assert result.status == "completed" and result.summary["problem"].endswith("heat.py:Heat")
    moved = shutil.move(tmp_path / "run", tmp_path / "shared")
    (tmp_path / "heat.py").unlink()
    reopened = pinnkit.load(moved, trust_code=True)
    np.testing.assert_allclose(reopened.predict(points())["u"], result.solution.predict(points())["u"])


INTERACTIVE = '''
import torch, pinnkit
from pinnkit import Dirichlet, Initial, Interval, Problem, TimeInterval

class Heat(Problem):
    coords, fields, derivatives = ("x", "t"), ("u",), ("u_t", "u_xx")
    def domain(self):
        return Interval(0.0, 1.0) * TimeInterval(0.0, 1.0)
    def residuals(self, d):
        return {"pde": d.u_t - 0.1 * d.u_xx}
    def conditions(self):
        return [Dirichlet(on=("left", "right")), Initial(lambda x: torch.sin(torch.pi * x))]

config = {"problem": {"name": Heat}, "points": {"interior": 32}, "phases": [{"optimizer": "adam", "iterations": 2}]}
result = pinnkit.solve(config, out="run")
try:
    pinnkit.load("run")
except pinnkit.RunError as err:
    print("refused:", err)
print("reopened:", pinnkit.load("run", problem=Heat).fields)
'''


def test_a_problem_defined_interactively_is_said_at_the_start_and_given_again(tmp_path):
    proc = subprocess.run([sys.executable], input=INTERACTIVE, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Heat was defined interactively: the run folder cannot keep its source" in proc.stderr.splitlines()[0]
    assert "refused: run: its problem Heat was defined interactively" in proc.stdout
    assert "give the class again: problem=Heat" in proc.stdout and "reopened: ('u',)" in proc.stdout
