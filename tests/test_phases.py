"""The Adam and SciPy L-BFGS-B phases on problems with known minimizers, and their budgets."""
import math

import numpy as np
import pytest
import scipy.optimize
import torch

from pinnkit.optim import PHASES, minimize
from pinnkit.optim.first_order import lr_factor


def quadratic_problem():
    """f(x) = sum c_i (x_i - a_i)^2 with a box that makes two bounds active."""
    x = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    a = torch.tensor([1.0, -2.0, 3.0, 0.5], dtype=torch.float64)
    c = torch.tensor([1.0, 10.0, 0.5, 2.0], dtype=torch.float64)

    def closure():
        return (c * (x - a) ** 2).sum() + 3 * (b - 2.0).square().sum()

    groups = [{"params": [x]}, {"params": [b], "lower": -1.0, "upper": 0.75}]
    return x, b, closure, groups


def run(name, groups, closure, **options):
    return minimize(groups, name, loss=closure, **options)


def test_lbfgsb_reaches_bounded_minimum():
    x, b, closure, groups = quadratic_problem()
    result = run("lbfgsb", groups, closure, iterations=100)
    assert result.status == "converged" and result.message.startswith("SciPy: ")
    np.testing.assert_allclose(x.detach().numpy(), [1.0, -2.0, 3.0, 0.5], atol=1e-7)
    assert float(b.detach()) == 0.75  # the unconstrained minimizer 2.0 lies above the upper bound


def test_lbfgsb_agrees_with_scipy_on_rosenbrock():
    z = torch.tensor([-1.2, 1.0, -0.5, 0.8], dtype=torch.float64, requires_grad=True)

    def closure():
        return (100 * (z[1:] - z[:-1] ** 2) ** 2 + (1 - z[:-1]) ** 2).sum()

    result = run("lbfgsb", [{"params": [z]}], closure, iterations=500)
    ref = scipy.optimize.minimize(scipy.optimize.rosen, [-1.2, 1.0, -0.5, 0.8], jac=scipy.optimize.rosen_der,
                                  method="L-BFGS-B", options={"maxcor": 50, "ftol": 1e-15, "gtol": 1e-10})
    np.testing.assert_allclose(z.detach().numpy(), ref.x, atol=1e-6)
    np.testing.assert_allclose(z.detach().numpy(), 1.0, atol=1e-5)
    assert result.loss == pytest.approx(ref.fun, abs=1e-10)


@pytest.mark.parametrize("budget, status", [({"iterations": 3}, "completed"),
                                            ({"iterations": 100, "max_evaluations": 5}, "max_evaluations")])
def test_lbfgsb_budget_stops_it(budget, status):
    z = torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)
    result = run("lbfgsb", [{"params": [z]}], lambda: 100 * (z[1] - z[0] ** 2) ** 2 + (1 - z[0]) ** 2, **budget)
    assert result.status == status
    assert result.iterations <= budget["iterations"]
    if "max_evaluations" in budget:
        assert result.evaluations <= budget["max_evaluations"] + 1


def test_lbfgsb_updates_float32_parameters():
    w = torch.tensor([3.0], requires_grad=True)
    result = run("lbfgsb", [{"params": [w]}], lambda: (w - 1.5).square().sum(), iterations=20)
    assert w.dtype == torch.float32 and float(w.detach()) == pytest.approx(1.5, abs=1e-6)
    assert math.isfinite(result.loss)


def test_adam_converges_and_projects_bounded_parameters():
    x, b, closure, groups = quadratic_problem()
    result = run("adam", groups, closure, iterations=3000, lr=0.05, schedule="exponential", decay_steps=500)
    assert result.status == "completed" and result.evaluations == 3000
    np.testing.assert_allclose(x.detach().numpy(), [1.0, -2.0, 3.0, 0.5], atol=1e-3)
    assert float(b.detach()) == 0.75


def test_time_budget_stops_adam():
    x, b, closure, groups = quadratic_problem()
    result = run("adam", groups, closure, iterations=10**9, max_seconds=0.2)
    assert result.status == "max_seconds" and 0 < result.iterations < 10**9


@pytest.mark.parametrize("schedule, k, expected", [
    ("constant", 500, 1.0), ("exponential", 1000, 0.9), ("exponential", 2000, 0.81),
    ("cosine", 0, 1.0), ("cosine", 50, 0.55), ("cosine", 100, 0.1)])
def test_learning_rate_schedules(schedule, k, expected):
    opts = PHASES["adam"].Options(optimizer="adam", iterations=100, lr=1.0, schedule=schedule, min_lr=0.1)
    assert lr_factor(opts, k) == pytest.approx(expected)
