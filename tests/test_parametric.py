"""Parametric problems: a parameter given a range is an input of the network, drawn with the points, and
one trained network answers for every value in the range (config, sampling, engines, training, predict)."""
import math

import numpy as np
import pytest
import torch

import pinnkit
from pinnkit import Dirichlet, Interval, Periodic, Problem, Rectangle, TimeInterval
from pinnkit.build import build
from pinnkit.config import ConfigError, load
from pinnkit.geometry import Parametric
from pinnkit.metrics import evaluation_grid, reference_set


class Scaled(Problem):
    """-u_xx = a pi^2 sin(pi x) on [0, 1], u(0) = u(1) = 0: u = a sin(pi x), so du/da = sin(pi x)."""

    coords, fields, derivatives = ("x",), ("u",), ("u_xx",)
    parameters = {"a": 1.0}

    def domain(self):
        return Interval(0.0, 1.0)

    def residuals(self, d):
        return {"pde": d.u_xx + self.a * math.pi ** 2 * torch.sin(math.pi * d.x)}

    def conditions(self):
        return [Dirichlet(on="boundary", value=0.0, name="bc")]

    def reference(self, x):
        return {"u": self.a * torch.sin(math.pi * x)}


def config(**parameter):
    return {"seed": 0, "problem": {"name": Scaled, "parameters": {"a": {"range": [1.0, 2.0], **parameter}}},
            "points": {"interior": 400, "boundary": 50, "evaluation": 64}, "model": {"width": 16, "depth": 2},
            "phases": [{"optimizer": "adam", "iterations": 300, "lr": 1e-2},
                       {"optimizer": "lbfgsb", "iterations": 1000, "dtype": "float64"}]}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return pinnkit.solve(config(), out=tmp_path_factory.mktemp("parametric") / "run", plots=True)


def test_a_range_starts_in_its_middle_and_is_evaluated_at_five_values():
    spec = load({**config(), "problem": {"name": "poisson", "parameters": {"k": {"range": [1.0, 3.0]}}}}).problem
    assert spec.parameters["k"].init == 2.0
    assert spec.parameters["k"].evaluated == [1.0, 1.5, 2.0, 2.5, 3.0]


@pytest.mark.parametrize("table, message", [
    ({"range": [2.0, 1.0]}, "range must have low < high, got [2.0, 1.0]"),
    ({"range": [1.0, 2.0], "trainable": True}, "cannot also be trainable"),
    ({"range": [1.0, 2.0], "evaluate": [1.5, 2.5]}, "2.5 lies outside range [1.0, 2.0]"),
    ({"range": [1.0, 2.0], "init": 0.5}, "0.5 lies outside range [1.0, 2.0]"),
    ({"init": 1.0, "evaluate": [1.5]}, "evaluate: values of a parameter given a range; this one has none"),
])
def test_bad_ranges_are_one_line_naming_the_parameter(table, message):
    with pytest.raises(ConfigError) as err:
        load({**config(), "problem": {"name": "poisson", "parameters": {"k": table}}})
    assert "problem.parameters.k" in str(err.value) and message in str(err.value)


def test_observations_cannot_be_combined_with_a_range(tmp_path):
    data = tmp_path / "obs.csv"
    data.write_text("x,t,u\n0.5,0.5,1.0\n")
    with pytest.raises(ConfigError, match=r"data.file: observations cannot be used with a ranged parameter "
                                          r"\(problem.parameters.nu.range\)"):
        build(load({**config(), "problem": {"name": "burgers", "parameters": {"nu": {"range": [0.01, 0.1]}}},
                    "data": {"file": str(data)}}))


def test_points_carry_parameter_values_drawn_over_the_range():
    rng = np.random.default_rng(0)
    space = Parametric(Rectangle([0, 0], [2 * math.pi, 1]) * TimeInterval(0, 1), [0.1], [0.5])
    inside = space.sample_interior(500, "sobol", rng)
    assert inside.shape == (500, 4) and space.inside(inside).all()
    assert 0.1 <= inside[:, 3].min() and inside[:, 3].max() <= 0.5 and np.ptp(inside[:, 3]) > 0.35
    points, normals = space.sample_boundary(200, ["left"], "sobol", rng)
    assert np.allclose(points[:, 0], 0) and space.on_boundary(points, ["left"]).all()
    assert np.array_equal(normals[:, 3], np.zeros(200)) and np.allclose(normals[:, 0], -1)
    assert np.allclose(space.sample_initial(10, "sobol", rng)[:, 2], 0) and space.time.t1 == 1
    pairs = Periodic(on=("left", "right")).sample(space, 50, "sobol", rng)["points"]
    assert np.allclose(pairs[:50, 0], 0) and np.allclose(pairs[50:, 0], 2 * math.pi)
    assert np.array_equal(pairs[:50, 1:], pairs[50:, 1:])  # an image keeps its point's parameter value


def test_a_residual_sees_each_points_own_parameter_value_and_jets_agree_with_autograd():
    setup = build(load({**config(), "problem": {"name": "burgers", "parameters": {"nu": {"range": [0.005, 0.05]}}},
                        "model": {"hard_constraints": True}}))
    group = setup.objective.groups[0]
    points = group.batch["points"]
    assert points.shape[1] == 3 and setup.problem.inputs == ("x", "t", "nu")
    jet = setup.objective.group_terms(group, group.batch)["pde"]
    autograd = setup.objective.group_terms(group, group.batch, pinnkit.operators.AutogradEngine())["pde"]
    assert torch.allclose(jet, autograd, rtol=1e-10, atol=1e-12)
    d = pinnkit.operators.AutogradEngine()(setup.model, points, setup.problem.inputs, ("u",), ("u_t", "u_x", "u_xx"))
    assert torch.allclose(autograd, d.u_t + d.u * d.u_x - points[:, 2] * d.u_xx, rtol=1e-12)
    assert float(setup.problem.nu) == pytest.approx(0.0275)  # restored after the residual


def test_the_error_is_reported_at_each_value_with_that_value(trained):
    errors = trained.rel_l2
    assert set(errors) == {"u"} | {f"u@a={v:.4g}" for v in (1, 1.25, 1.5, 1.75, 2)}
    assert max(errors.values()) < 1e-2
    x = evaluation_grid(Interval(0.0, 1.0), 64)
    for a in (1.0, 1.75):
        u = trained.solution.predict(x, parameters={"a": a})["u"]
        exact = a * np.sin(np.pi * x[:, 0])
        assert np.linalg.norm(u - exact) / np.linalg.norm(exact) == pytest.approx(errors[f"u@a={a:.4g}"], rel=1e-4)
    assert trained.summary["ranges"] == {"a": [1.0, 2.0]} and trained.summary["parameters"] == {"a": 1.5}
    assert (trained.run_dir / "plots" / "parameters.png").is_file()


def test_one_network_answers_between_the_evaluated_values_with_its_sensitivity(trained):
    x = np.linspace(0, 1, 101)[:, None]
    a = np.linspace(1.0, 2.0, 101)  # one value per point, none of them evaluated during training
    out = trained.solution.predict(x, derivatives=["u_x", "u_a"], residuals=True, parameters={"a": a})
    assert np.abs(out["u"] - a * np.sin(np.pi * x[:, 0])).max() < 2e-2
    assert np.abs(out["u_a"] - np.sin(np.pi * x[:, 0])).max() < 1e-1  # du/da through the network's input: the
    assert np.abs(out["u_a"] - np.sin(np.pi * x[:, 0])).mean() < 3e-2  # wrong column would be off by ~1
    assert np.abs(out["u_x"] - a * np.pi * np.cos(np.pi * x[:, 0])).max() < 1e-1
    assert np.abs(out["pde"]).mean() < 0.5  # residuals with each point's own a, against a scale of a pi^2 ~ 15
    middle = trained.solution.predict(x)["u"]  # no value given: the default, the middle of the range
    assert np.allclose(middle, trained.solution.predict(x, parameters={"a": 1.5})["u"])


@pytest.mark.parametrize("given, message", [
    ({"b": 1.0}, "'b' is not a ranged parameter of this run (ranged: a)"),
    ({"a": np.ones(3)}, "'a' needs one value or one per point (5), got 3"),
])
def test_predict_refuses_parameters_it_cannot_take(trained, given, message):
    with pytest.raises(ValueError) as err:
        trained.solution.predict(np.zeros((5, 1)), parameters=given)
    assert message in str(err.value)


class Offset(Problem):
    """A field defined up to a constant, on space-time: u = c + t x, p = c x (mean-free), c ranged."""

    coords, fields, mean_free = ("x", "t"), ("u", "p"), ("p",)
    parameters = {"c": 1.0}

    def domain(self):
        return Interval(0.0, 1.0) * TimeInterval(0.0, 1.0)

    def reference(self, x, t):
        return {"u": self.c + t * x, "p": self.c * x}


def test_a_mean_free_field_loses_its_mean_per_value_and_time_level():
    problem = Offset({"c": pinnkit.config.ParameterSpec(range=[1.0, 3.0], evaluate=[1.0, 3.0])})
    ref = reference_set(problem, problem.domain(), 16)  # a 4 x 4 grid, at 2 values of c
    assert ref.arrays["points"].shape == (32, 3) and len(np.unique(ref.labels)) == 8
    assert np.allclose(ref.arrays["p"][16:], 3 * ref.arrays["p"][:16])
    assert set(ref.probes) == {"c=1", "c=3"}


def test_too_many_combinations_of_evaluated_values_are_refused():
    values = {"range": [1.0, 2.0], "evaluate": [1 + k / 20 for k in range(20)]}
    with pytest.raises(ConfigError, match=r"problem.parameters: the evaluated values of the ranged parameters make "
                                          r"20 x 20 = 400 combinations, each a whole evaluation grid; at most 256"):
        load({**config(), "problem": {"name": "poisson", "parameters": {"a": values, "b": values}}})
