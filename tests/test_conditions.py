"""The operator and outflow conditions: zero residual where the condition holds and not otherwise (Poiseuille
flow against a perturbed one), the normals and parameters they read, and their checks at build."""
import math

import numpy as np
import pytest
import torch

import pinnkit
from pinnkit import Operator, Outflow, Problem, Rectangle
from pinnkit.operators import AutogradEngine
from pinnkit.problem import ProblemError

LENGTH, HEIGHT, U_MAX, NU = 2.0, 0.5, 0.3, 0.01
CHANNEL = Rectangle((0, 0), (LENGTH, HEIGHT))


class Field(torch.nn.Module):
    """Fields given by formulas of (x, y), as a network."""

    def __init__(self, *formulas):
        super().__init__()
        self.formulas = formulas

    def forward(self, points):
        x, y = points[:, 0], points[:, 1]
        return torch.stack([f(x, y) for f in self.formulas], dim=1)


def poiseuille(eps=0.0, level=0.0):
    """u = 4 Um y (H - y) / H^2, v = 0, p = G (L - x) with G = 8 nu Um / H^2 (so -p_x + nu u_yy = 0), plus
    eps x^2 y in u and `level` in p."""
    gradient = 8 * NU * U_MAX / HEIGHT**2
    return Field(lambda x, y: 4 * U_MAX * y * (HEIGHT - y) / HEIGHT**2 + eps * x**2 * y,
                 lambda x, y: 0 * x,
                 lambda x, y: gradient * (LENGTH - x) + level)


def residual(cond, model, domain=CHANNEL, coords=("x", "y"), fields=("u", "v", "p")):
    batch = {k: torch.as_tensor(v) for k, v in cond.sample(domain, 64, "sobol", np.random.default_rng(0)).items()}
    d = AutogradEngine()(model, batch["points"], coords, fields, cond.derivatives(coords, fields))
    return cond.residual(d, batch, coords, fields).detach()


class Channel(Problem):
    coords = ("x", "y")
    fields = ("u", "v", "p")
    parameters = {"nu": NU}

    def domain(self):
        return CHANNEL


def test_outflow_holds_for_poiseuille_flow_and_not_for_a_perturbed_one():
    cond = Outflow("right", viscosity=NU)
    assert cond.name == "outflow_right" and cond.derivatives(("x", "y"), ()) == ("u_x", "u_y", "v_x", "v_y")
    r = residual(cond, poiseuille())
    assert r.shape == (64, 2) and r.abs().max() < 1e-15
    # -p n_x + nu u_x = nu 2 eps L y at x = L: one column per velocity component, the second zero
    r = residual(cond, poiseuille(eps=0.1))
    y = torch.as_tensor(cond.sample(CHANNEL, 64, "sobol", np.random.default_rng(0))["points"][:, 1])
    torch.testing.assert_close(r[:, 0], NU * 2 * 0.1 * LENGTH * y)
    assert r[:, 1].abs().max() < 1e-15
    assert residual(cond, poiseuille(level=0.05))[:, 0].abs().min() == pytest.approx(0.05)  # the pressure level
    # on the inlet, the normal is -x: -p n_x = p there
    assert residual(Outflow("left", viscosity=NU), poiseuille())[:, 0].min() > 0


@pytest.mark.parametrize("given", ["nu", "tensor"])
def test_outflow_reads_the_problems_viscosity_at_every_evaluation(given):
    """By name or as the problem's own tensor: the current value (after a change, or a cast) is the one used."""
    problem = Channel()
    cond = Outflow("right", viscosity=problem.nu if given == "tensor" else "nu")
    cond.bind(problem)
    cond.check(CHANNEL, problem.coords, problem.fields)
    first = residual(cond, poiseuille(eps=0.1))
    problem.to("cpu", torch.float64)                              # new tensors, as a phase's cast makes
    problem.values["nu"] = torch.tensor(3 * NU, dtype=torch.float64)
    torch.testing.assert_close(residual(cond, poiseuille(eps=0.1)), 3 * first)


def test_outflow_viscosity_of_an_unknown_parameter_is_refused():
    with pytest.raises(ValueError, match="unknown parameter 'mu'"):
        Outflow("right", viscosity="mu").bind(Channel())
    with pytest.raises(ValueError, match="unknown field 'w'"):
        Outflow("right", viscosity=NU, velocity=("u", "w")).check(CHANNEL, ("x", "y"), ("u", "v", "p"))


def test_operator_imposes_any_expression_with_the_normals():
    """u n_x + u_x = 0 on both ends: exp(-x) satisfies it at x = L (n = +x), exp(x) at x = 0 (n = -x)."""
    cond = Operator(("left", "right"), lambda d, n: d.u * n[:, 0] + d.u_x, derivatives=("u_x",))
    assert cond.name == "operator_left_right"
    coords, fields = ("x", "y"), ("u",)
    cond.check(CHANNEL, coords, fields)
    at_right = Operator("right", cond.operator, derivatives=("u_x",))
    assert residual(at_right, Field(lambda x, y: torch.exp(-x)), fields=fields).abs().max() < 1e-15
    assert residual(at_right, Field(lambda x, y: torch.exp(x)), fields=fields).abs().min() > 1
    at_left = Operator("left", cond.operator, derivatives=("u_x",))
    assert residual(at_left, Field(lambda x, y: torch.exp(x)), fields=fields).abs().max() < 1e-15
    vector = Operator("top", lambda d, n: torch.stack([d.u, d.u_y - n[:, 1]], dim=1), derivatives=("u_y",))
    r = residual(vector, Field(lambda x, y: y - HEIGHT), fields=fields)
    assert r.shape == (64, 2) and r.abs().max() < 1e-15


@pytest.mark.parametrize("cond, message", [
    (Operator("east", lambda d, n: d.u), "unknown boundary part 'east'"),
    (Operator("right", lambda d, n: d.u_q, derivatives=("u_q",)), "derivative 'u_q'"),
    (Outflow("right", viscosity=NU, pressure="q"), "unknown field 'q'"),
])
def test_bad_conditions_stop_the_build_naming_them(cond, message, tmp_path):
    class Flow(Channel):
        derivatives = ()

        def residuals(self, d):
            return {"pde": d.u}

        def conditions(self):
            return [cond]

    config = {"problem": {"name": "flow"}, "points": {"interior": 32, "boundary": 8},
              "phases": [{"optimizer": "adam", "iterations": 1}]}
    with pytest.raises(ProblemError, match=message):
        pinnkit.solve(config, problem=Flow, out=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_operator_refuses_a_residual_that_is_not_a_function():
    with pytest.raises(TypeError, match="function of"):
        Operator("right", residual=math.pi)
