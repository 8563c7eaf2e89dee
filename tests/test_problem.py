"""The Problem base: float64 masters through dtype changes, parameter names it refuses, and user code (the
reference) called with tensors on the device and in the dtype of the problem's parameters."""
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import pinnkit
from pinnkit import Interval, Problem, TimeInterval
from pinnkit.build import build
from pinnkit.config import ParameterSpec, load
from pinnkit.metrics import reference_values
from pinnkit.problem import ProblemError

ROOT = Path(__file__).resolve().parents[1]
BURGERS = ROOT / "problems" / "burgers.toml"
TINY = ("model.hard_constraints=false", "points.interior=100", "points.boundary=20", "points.initial=20",
        "points.evaluation=100", "model.depth=2", "model.width=8", "output.log_every=5", "phases[0].iterations=5",
        "phases[1].optimizer=lbfgs", "phases[1].iterations=5")


class Decay(Problem):
    """u_t = -k u on [0, 1] x [0, 1]; its reference insists on one device and one dtype for all its tensors."""

    coords, fields, derivatives = ("x", "t"), ("u",), ("u_t",)
    parameters = {"k": 0.7}

    def domain(self):
        return Interval(0.0, 1.0) * TimeInterval(0.0, 1.0)

    def residuals(self, d):
        return {"pde": d.u_t + self.k * d.u}

    def reference(self, x, t):
        assert x.dtype == t.dtype == self.k.dtype and x.device == t.device == self.k.device, \
            f"inputs {x.dtype} on {x.device}, parameter {self.k.dtype} on {self.k.device}"
        return {"u": torch.exp(-self.k * t) * torch.ones_like(x)}


def test_fixed_parameters_keep_every_bit_through_a_float32_phase():
    """nu = 0.01 / pi, cast to float32 and back: the float64 phase sees the float64 value, not the rounded one."""
    s = build(load(BURGERS, TINY))
    nu = s.config.problem.parameters["nu"].init
    s.cast(torch.float32)
    assert s.problem.nu.dtype == torch.float32 and s.problem.nu.item() != nu
    s.cast(torch.float64)
    assert s.problem.nu.item() == nu == pytest.approx(0.01 / math.pi, rel=1e-15)


def test_a_solve_through_float32_reports_the_exact_fixed_parameter(tmp_path):
    result = pinnkit.solve(BURGERS, TINY, out=tmp_path / "run")
    assert result.summary["phases"][1]["optimizer"] == "lbfgs" and result.summary["dtype"] == "float64"
    assert result.summary["parameters"]["nu"] == result.solution.config.problem.parameters["nu"].init


def test_a_trained_parameter_becomes_its_own_master():
    problem = Decay({"k": ParameterSpec(init=0.7, trainable=True)})
    problem.to("cpu", torch.float32)
    with torch.no_grad():
        problem.k.add_(0.25)  # what a float32 phase does to it
    problem.to("cpu", torch.float64)
    assert problem.k.item() == float(torch.tensor(0.7, dtype=torch.float32) + 0.25) and problem.k.requires_grad


@pytest.mark.parametrize("name", ["bounds", "values", "true", "fields", "masters", "domain", "_k", "2k"])
def test_a_parameter_named_like_an_attribute_of_the_problem_is_refused(name):
    shadowing = type("Shadowing", (Decay,), {"parameters": {name: 1.0}})
    with pytest.raises(ProblemError, match=f"Shadowing.parameters: {name!r} is"):
        shadowing()


def test_a_non_numeric_parameter_default_is_refused():
    with pytest.raises(ProblemError, match="Wordy.parameters: 'k' must be a number, got 'fast'"):
        type("Wordy", (Decay,), {"parameters": {"k": "fast"}})()


def test_the_reference_gets_the_device_and_dtype_of_the_parameters():
    """Whatever dtype the problem is in (here float32, as during a float32 phase), the reference is evaluated
    in float64 with inputs on the parameters' device: no float() calls needed in user code."""
    problem = Decay()
    problem.to("cpu", torch.float32)
    points = np.array([[0.2, 0.5], [0.9, 1.0]])
    values = reference_values(problem, points)
    np.testing.assert_allclose(values["u"], np.exp(-0.7 * points[:, 1]), rtol=1e-15)


@pytest.mark.parametrize("body, message", [
    ("raise RuntimeError('no table')", "Broken.reference() failed: RuntimeError: no table"),
    ("return {'v': x}", "Broken.reference() returned 'v', which is not a field (fields: u)"),
    ("return {'u': x[:3]}", "Broken.reference(): field 'u' has shape (3,), expected one value per point"),
    ("return {'u': x / 0}", "Broken.reference(): field 'u' is not finite at"),
    ("return [x]", "Broken.reference() must return a dict of field name -> values, got list")])
def test_a_broken_reference_is_one_line_naming_it(body, message):
    namespace: dict = {}
    exec(f"def reference(self, x, t):\n    {body}", namespace)
    broken = type("Broken", (Decay,), {"reference": namespace["reference"]})
    with pytest.raises(ProblemError) as caught:
        reference_values(broken(), np.random.default_rng(0).uniform(size=(8, 2)))
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_a_broken_reference_stops_the_solve_before_anything_is_written(tmp_path):
    source = Path(__file__).read_text().split("def test_")[0]  # this file's imports and the Decay problem
    (tmp_path / "broken.py").write_text(source + "\n\nclass Broken(Decay):\n    def reference(self, x, t):\n"
                                        "        return {'u': x / 0}\n")
    config = {"problem": {"name": f"{tmp_path / 'broken.py'}:Broken"}, "points": {"interior": 50},
              "phases": [{"optimizer": "adam", "iterations": 2}]}
    with pytest.raises(ProblemError, match="Broken.reference\\(\\): field 'u' is not finite"):
        pinnkit.solve(config, out=tmp_path / "run")
    assert not (tmp_path / "run").exists()
