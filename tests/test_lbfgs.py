"""Native L-BFGS: known minimizers, SciPy's L-BFGS-B, exact bounds, budgets, state round trip."""
import copy
import csv
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.optimize
import torch

import pinnkit
from pinnkit.optim import LBFGS, Monitor, ObjectiveView, run_phase
from pinnkit.optim.lbfgs import LBFGSOptions, LBFGSPhase

ROOT = Path(__file__).resolve().parents[1]
SEARCHES = ("strong_wolfe", "backtracking")


def rosenbrock(p: torch.Tensor) -> torch.Tensor:
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2


def minimize(optimizer: LBFGS, f, params, steps: int = 500) -> int:
    """Step until the optimizer's own stopping test fires; return the number of steps."""
    def closure():
        optimizer.zero_grad()
        loss = f(*params)
        loss.backward()
        return loss

    for k in range(1, steps + 1):
        optimizer.step(closure)
        if optimizer.stop_code():
            return k
    return steps


@pytest.mark.parametrize("search", SEARCHES)
def test_rosenbrock_unbounded_reaches_the_minimum(search):
    p = torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)
    steps = minimize(LBFGS([p], line_search=search, gtol=1e-9, ftol=0), rosenbrock, [p])
    assert steps < 100
    assert p.detach().tolist() == pytest.approx([1.0, 1.0], abs=1e-7)


@pytest.mark.parametrize("search", SEARCHES)
def test_rosenbrock_with_an_active_bound_reaches_the_constrained_minimum(search):
    """With x <= 0.5 the minimum is (0.5, 0.25): min over y of the second term is 0, and (1 - x)^2 falls to x = 0.5."""
    p = torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)
    group = {"params": [p], "lower": torch.tensor([-2.0, -5.0]), "upper": torch.tensor([0.5, 5.0])}
    minimize(LBFGS([group], line_search=search, gtol=1e-9, ftol=0), rosenbrock, [p])
    assert p[0].item() == 0.5
    assert p[1].item() == pytest.approx(0.25, abs=1e-8)


def convex_quadratic(n: int = 30, seed: int = 0):
    """0.5 x'Ax - b'x with A SPD (condition 100), as numpy arrays and as a torch function."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    a = q @ np.diag(np.logspace(0, 2, n)) @ q.T
    b = 10 * rng.standard_normal(n)
    at, bt = torch.from_numpy(a), torch.from_numpy(b)
    return a, b, lambda x: 0.5 * x @ at @ x - bt @ x


@pytest.mark.parametrize("search", SEARCHES)
def test_agrees_with_scipy_lbfgsb_on_a_bounded_convex_quadratic(search):
    """Two groups: tensor bounds on the first 20 variables, scalar bounds on the other 10; many bounds active."""
    a, b, f = convex_quadratic()
    lower, upper = np.r_[np.full(20, -0.5), np.full(10, -0.2)], np.r_[np.linspace(0.1, 0.5, 20), np.full(10, 0.2)]
    ref = scipy.optimize.minimize(lambda x: (0.5 * x @ a @ x - b @ x, a @ x - b), np.zeros(30), jac=True,
                                  method="L-BFGS-B", bounds=list(zip(lower, upper)),
                                  options={"ftol": 0, "gtol": 1e-12, "maxiter": 1000})
    head = torch.zeros(20, dtype=torch.float64, requires_grad=True)
    tail = torch.zeros(10, dtype=torch.float64, requires_grad=True)
    groups = [{"params": [head], "lower": torch.from_numpy(lower[:20]), "upper": torch.from_numpy(upper[:20])},
              {"params": [tail], "lower": -0.2, "upper": 0.2}]
    minimize(LBFGS(groups, line_search=search, history_size=20, gtol=1e-10, ftol=0),
             lambda h, t: f(torch.cat((h, t))), [head, tail], steps=2000)
    x = torch.cat((head, tail)).detach().numpy()
    active = (ref.x <= lower + 1e-9) | (ref.x >= upper - 1e-9)
    assert active.sum() >= 5
    np.testing.assert_allclose(x, ref.x, atol=1e-7)
    assert np.all(x[active] == np.clip(ref.x, lower, upper)[active])  # exactly on the bounds


def run(options: LBFGSOptions, groups, loss, monitor=None):
    return run_phase(LBFGSPhase(options), groups, ObjectiveView(loss), monitor or Monitor(options))


def test_inverse_problem_with_true_parameter_outside_bounds_ends_on_the_bound():
    """Fit y = a exp(-k t) to data made with k = 2 while k is bounded to [0.5, 1.5]: k must end at 1.5 exactly."""
    t = torch.linspace(0, 2, 50, dtype=torch.float64)
    y = 3 * torch.exp(-2 * t)
    a = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    k = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    groups = [{"params": [a]}, {"params": [k], "lower": 0.5, "upper": 1.5}]
    options = LBFGSOptions(optimizer="lbfgs", iterations=200, gtol=1e-10)
    result = run(options, groups, lambda: ((a * torch.exp(-k * t) - y) ** 2).mean())
    assert result.status == "converged", result.message
    assert k.item() == 1.5
    best_a = float((y * torch.exp(-1.5 * t)).sum() / torch.exp(-3.0 * t).sum())  # least squares in a at k = 1.5
    assert a.item() == pytest.approx(best_a, rel=1e-8)


def quadratic_phase(**keys):
    _, _, f = convex_quadratic()
    x = torch.zeros(30, dtype=torch.float64, requires_grad=True)
    options = LBFGSOptions(optimizer="lbfgs", **keys)
    m = Monitor(options)
    return run(options, [{"params": [x]}], lambda: f(x), m), m


def test_budget_keys_stop_the_phase():
    result, m = quadratic_phase(iterations=5, gtol=0, ftol=0)
    assert (result.status, result.iterations, m.iterations) == ("completed", 5, 5)
    result, m = quadratic_phase(iterations=1000, max_evaluations=12, gtol=0, ftol=0, line_search="backtracking")
    assert result.status == "max_evaluations" and result.evaluations == 12  # one trial per step, plus the first
    result, m = quadratic_phase(iterations=1000, max_evaluations=12, gtol=0, ftol=0)
    assert result.status == "max_evaluations" and 12 <= result.evaluations < 12 + 25


def test_gtol_and_ftol_converge_the_phase_at_check_points():
    result, _ = quadratic_phase(iterations=1000, gtol=1e-6, ftol=0, check_every=7)
    assert result.status == "converged" and result.message.startswith("projected gradient")
    assert result.iterations % 7 == 0 and result.iterations < 1000
    result, _ = quadratic_phase(iterations=1000, gtol=0, ftol=1e-6)
    assert result.status == "converged" and result.message.startswith("relative loss change")


@pytest.mark.parametrize("search", SEARCHES)
def test_state_dict_round_trip_continues_identically(search):
    def run(p, optimizer, steps):
        for _ in range(steps):
            optimizer.step(lambda: closure(p, optimizer))

    def closure(p, optimizer):
        optimizer.zero_grad()
        loss = rosenbrock(p)
        loss.backward()
        return loss

    p = torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)
    opt = LBFGS([{"params": [p], "upper": 0.9}], line_search=search, history_size=4)
    run(p, opt, 6)
    saved, start = copy.deepcopy(opt.state_dict()), p.detach().clone()
    run(p, opt, 6)
    q = start.clone().requires_grad_(True)
    twin = LBFGS([{"params": [q], "upper": 0.9}], line_search=search, history_size=4)
    twin.load_state_dict(saved)
    run(q, twin, 6)
    assert torch.equal(p.detach(), q.detach())
    assert torch.equal(opt.state[p]["S"], twin.state[q]["S"])


def test_non_positive_curvature_is_skipped():
    """f = x^4/4 - x^2 is concave near 0: the first step's s.y < 0 must not enter the history."""
    x = torch.tensor([0.1], dtype=torch.float64, requires_grad=True)
    f = lambda v: (v ** 4 / 4 - v ** 2).sum()  # noqa: E731
    opt = LBFGS([x], line_search="backtracking")
    before = x.item()
    minimize(opt, f, [x], steps=1)
    state = opt.state[x]
    assert x.item() != before and state["pairs"].item() == 0 and torch.all(state["rho"] == 0)
    minimize(opt, f, [x])
    assert x.item() == pytest.approx(math.sqrt(2), abs=1e-6)


@pytest.mark.parametrize("search", SEARCHES)
def test_non_finite_trial_shrinks_the_step(search):
    """The loss is NaN beyond x = 2 and the first trial step lands at x = 10: the search must back off."""
    x = torch.tensor([0.0], dtype=torch.float64, requires_grad=True)
    f = lambda v: ((v - 1.9) ** 2 - 1e-3 * torch.log(2 - v)).sum()  # noqa: E731
    minimize(LBFGS([x], lr=10.0, line_search=search, gtol=1e-10), f, [x], steps=200)
    best = scipy.optimize.minimize_scalar(lambda v: (v - 1.9) ** 2 - 1e-3 * math.log(2 - v),
                                          bounds=(0, 2 - 1e-12), method="bounded", options={"xatol": 1e-12})
    assert x.item() == pytest.approx(best.x, abs=1e-6)


@pytest.mark.parametrize("search", SEARCHES)
def test_no_possible_decrease_stops_in_place(search):
    """A loss that is flat although its gradient is 5: no trial can decrease it, so the phase stops in place.

    Strong Wolfe ends with "no decrease"; backtracking shrinks the step until the Armijo bound rounds to the
    loss itself, accepts a step of a few ulps, and stops on its zero relative change (as SciPy would).
    """
    x = torch.ones(1, dtype=torch.float64, requires_grad=True)
    options = LBFGSOptions(optimizer="lbfgs", iterations=500, line_search=search, check_every=1)
    result = run(options, [{"params": [x]}], lambda: (5 * (x - x.detach()) + 1).sum())
    expected = "no decrease" if search == "strong_wolfe" else "relative loss change"
    assert result.status == "converged" and result.message.startswith(expected)
    assert x.item() == pytest.approx(1.0, abs=1e-11) and result.iterations < 200


def test_host_reads_backtracking_none_strong_wolfe_one_per_trial(monkeypatch):
    """On a GPU every read of a tensor value by the host is a sync; count them on the CPU."""
    reads, evaluations = [], []
    tolist = torch.Tensor.tolist
    monkeypatch.setattr(torch.Tensor, "tolist", lambda self: reads.append(1) or tolist(self))
    for name in ("item", "__bool__", "__float__", "__int__"):
        monkeypatch.setattr(torch.Tensor, name, lambda *args: pytest.fail("a host read"))

    def closure(p, optimizer):
        evaluations.append(1)
        optimizer.zero_grad()
        loss = rosenbrock(p)
        loss.backward()
        return loss

    for search in SEARCHES:
        p = torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)
        optimizer = LBFGS([{"params": [p], "lower": -2.0, "upper": 0.5}], line_search=search)
        optimizer.step(lambda: closure(p, optimizer))  # evaluates at the start point too
        reads.clear(), evaluations.clear()
        for _ in range(10):
            optimizer.step(lambda: closure(p, optimizer))
        assert len(reads) == (0 if search == "backtracking" else len(evaluations) + 10)


def test_burgers_solve_with_native_lbfgs_lowers_the_loss(tmp_path):
    """The shipped Adam -> native L-BFGS schedule, tiny: the L-BFGS phase lowers the loss it started from."""
    result = pinnkit.solve(ROOT / "problems" / "burgers_lbfgs.toml", out=tmp_path / "run",
                           overrides=["phases[0].iterations=20", "phases[1].iterations=20", "points.interior=200",
                                      "output.log_every=10", "model.depth=2"])
    assert result.status == "completed"
    rows = list(csv.DictReader(open(result.run_dir / "history.csv")))
    lbfgs = [float(r["loss"]) for r in rows if r["optimizer"] == "lbfgs"]
    assert len(lbfgs) >= 2 and lbfgs[-1] < 0.5 * lbfgs[0]
    assert result.summary["phases"][1]["optimizer"] == "lbfgs"


def test_the_optimizers_defaults_are_plain_values():
    """Constructed with no keys, as outside pinnkit: every default a value, not a schema's field object."""
    x = torch.zeros(2, requires_grad=True)
    opt = LBFGS([x])
    assert (opt.line_search, opt.history_size, opt.lr) == ("strong_wolfe", 10, 1.0)
