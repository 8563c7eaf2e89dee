"""Dense BFGS, self-scaled BFGS and self-scaled Broyden: finite termination on quadratics, Rosenbrock,
a positive definite inverse Hessian, bounds, the size guard, the phases on a PINN; RAD resampling."""
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import pinnkit
import pinnkit.cli
from pinnkit.adaptive import rad_probabilities, resample
from pinnkit.loss import Objective, TermGroup
from pinnkit.operators import AutogradEngine
from pinnkit.optim import BFGS
from pinnkit.optim.bfgs import UPDATES

ROOT = Path(__file__).resolve().parents[1]


def rosenbrock(p: torch.Tensor) -> torch.Tensor:
    """The chained Rosenbrock function of (x1, y1, x2, y2, ...): minimum 0 at all ones."""
    return ((1 - p[::2]) ** 2 + 100 * (p[1::2] - p[::2] ** 2) ** 2).sum()


def closure_for(optimizer, f, p):
    def closure():
        optimizer.zero_grad()
        loss = f(p)
        loss.backward()
        return loss
    return closure


@pytest.mark.parametrize("update", UPDATES)
def test_quadratic_terminates_in_at_most_n_plus_1_exact_line_search_steps(update):
    n, rng = 12, np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = torch.tensor(q @ np.diag(np.logspace(0, 2, n)) @ q.T)
    b = torch.tensor(rng.standard_normal(n))
    x = torch.zeros(n, dtype=torch.float64, requires_grad=True)
    opt = BFGS([x], update=update, gtol=1e-9, ftol=0, max_line_search=50, wolfe_c2=1e-10)  # ~exact searches
    closure = closure_for(opt, lambda v: 0.5 * v @ A @ v - b @ v, x)
    for _ in range(n + 1):
        opt.step(closure)
    assert torch.allclose(x.detach(), torch.linalg.solve(A, b), atol=1e-8)  # after 3 steps: still 0.6 away


@pytest.mark.parametrize("update", UPDATES)
@pytest.mark.parametrize("n", [2, 10])
def test_rosenbrock_reaches_the_minimum_with_a_symmetric_positive_definite_inverse_hessian(update, n):
    p = torch.tensor([-1.2, 1.0] * (n // 2), dtype=torch.float64, requires_grad=True)
    opt = BFGS([p], update=update, gtol=1e-10, ftol=0)
    closure = closure_for(opt, rosenbrock, p)
    for _ in range(300):
        opt.step(closure)
        H = opt.state[p]["H"]
        if opt.state[p]["pairs"] > 0:  # symmetric to rounding: the rank-one kernel may round H[i, j] and H[j, i]
            # differently (FMA or not: 1e-12 relative after 75 SSBroyden updates on an AVX-512 CPU); every
            # SYMMETRIZE_EVERY updates H is made exactly symmetric again
            assert torch.allclose(H, H.T, rtol=0, atol=1e-10 * H.abs().max())
            assert torch.linalg.eigvalsh(H).min() > 0
        if opt.stop_code():
            break
    assert p.detach().numpy() == pytest.approx(np.ones(n), abs=1e-7)


def test_self_scaling_changes_the_update_and_bfgs_does_not_scale():
    """After the same pair of steps, BFGS keeps tau = phi = 1; SSBFGS scales (tau <= 1); SSBroyden moves phi."""
    found = {}
    for update in UPDATES:
        p = torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)
        opt = BFGS([p], update=update)
        closure = closure_for(opt, rosenbrock, p)
        taus, phis = [], []
        for _ in range(6):
            opt.step(closure)
            taus.append(float(opt.state[p]["tau"]))
            phis.append(float(opt.state[p]["phi"]))
        found[update] = (taus, phis)
    assert set(found["bfgs"][0]) == {1.0} and set(found["bfgs"][1]) == {1.0}
    assert all(t <= 1.0 for t in found["ssbfgs"][0]) and min(found["ssbfgs"][0]) < 1.0
    assert any(abs(phi - 1.0) > 1e-6 for phi in found["ssbroyden"][1])


def test_a_bound_is_kept_and_reached():
    """min (x - 2)^2 + (y + 1)^2 with x <= 1: ends on x = 1 exactly, y = -1."""
    p = torch.tensor([0.0, 0.0], dtype=torch.float64, requires_grad=True)
    opt = BFGS([{"params": [p], "upper": torch.tensor([1.0, 10.0])}], update="ssbroyden", gtol=1e-12, ftol=0)
    closure = closure_for(opt, lambda v: (v[0] - 2) ** 2 + (v[1] + 1) ** 2, p)
    for _ in range(50):
        opt.step(closure)
        assert p[0].item() <= 1.0
        if opt.stop_code():
            break
    assert p[0].item() == 1.0 and p[1].item() == pytest.approx(-1.0, abs=1e-9)


def test_too_many_parameters_are_refused_with_advice():
    with pytest.raises(ValueError, match=r"^101 parameters need a dense 101 x 101 .*use optimizer = \"lbfgs\""):
        BFGS([torch.zeros(101, requires_grad=True)], update="ssbfgs", max_parameters=100)
    with pytest.raises(ValueError, match="unknown 'sr1'"):
        BFGS([torch.zeros(3, requires_grad=True)], update="sr1")


@pytest.mark.parametrize("update", UPDATES)
def test_phase_refines_a_pinn_after_adam(tmp_path, update):
    """Burgers, tiny: the dense phase lowers the loss well below where Adam left it, and logs like the others."""
    overrides = ["points.interior=200", "points.boundary=20", "points.initial=20", "points.evaluation=200",
                 "model.width=8", "model.depth=2", "output.log_every=10", "phases[0].iterations=50",
                 f'phases[1]={{optimizer = "{update}", iterations = 60, dtype = "float64"}}']
    result = pinnkit.solve(ROOT / "problems" / "burgers.toml", overrides, out=tmp_path / update)
    history = np.genfromtxt(tmp_path / update / "history.csv", delimiter=",", names=True, dtype=None, encoding=None)
    adam_end = history["loss"][history["optimizer"] == "adam"][-1]
    assert result.summary["phases"][1]["optimizer"] == update
    assert result.summary["loss"]["loss"] < 0.5 * adam_end


def test_rad_probabilities_grow_with_the_residual_and_keep_a_uniform_share():
    p = rad_probabilities(np.array([0.0, 1.0, 2.0, 4.0]), k=2.0, c=1.0)
    assert np.all(np.diff(p) > 0) and p.sum() == pytest.approx(1.0)
    assert p[0] == pytest.approx(1.0 / (4 + 21 / 5.25))  # weights 0,1,4,16 over mean 5.25, plus 1 each
    assert rad_probabilities(np.zeros(5), 1.0, 1.0) == pytest.approx(np.full(5, 0.2))  # zero residual: uniform


class CountingEngine(AutogradEngine):
    """The autograd engine, counting its calls: RAD must evaluate with the objective's own engine."""

    calls = 0

    def __call__(self, *args, **kwargs):
        CountingEngine.calls += 1
        return super().__call__(*args, **kwargs)


def peaked_objective(peak: float = 100.0):
    """A fixed boundary group first, then the adaptive PDE group: residual u - peak exp(-((x - 0.8) / 0.05)^2)
    with u = 0."""
    model = torch.nn.Linear(1, 1).double()
    torch.nn.init.zeros_(model.weight), torch.nn.init.zeros_(model.bias)
    edge = TermGroup(sample=lambda rng: {"points": np.zeros((5, 1))}, derivatives=(),
                     residuals=lambda d, batch: {"bc": d["u"]}, owner="edge")
    pde = TermGroup(sample=lambda rng: {"points": rng.uniform(size=(400, 1))}, derivatives=(),
                    residuals=lambda d, batch: {"pde": d["u"] - peak * torch.exp(-((d["x"] - 0.8) / 0.05) ** 2)},
                    owner="test", adaptive=True)
    return Objective(model, [edge, pde], ("x",), ("u",), {}, CountingEngine()), pde


def test_rad_gathers_the_adaptive_groups_points_where_the_residual_peaks():
    """RAD (k = 2, c = 0.1) puts most PDE points near 0.8, wherever the PDE group sits among the groups, and
    evaluates the residual with the objective's engine."""
    objective, group = peaked_objective()
    rng = np.random.default_rng(0)
    objective.sample(rng)
    near = lambda: np.mean(np.abs(group.arrays["points"][:, 0] - 0.8) < 0.1)  # noqa: E731
    assert near() == pytest.approx(0.2, abs=0.06)  # uniform: the window's share of [0, 1]
    before = CountingEngine.calls
    resample(objective, rng, "rad", k=2.0, c=0.1, pool=10)
    assert len(group.arrays["points"]) == 400 and near() > 0.8 and CountingEngine.calls > before
    assert np.all(objective.groups[0].arrays["points"] == 0)
    resample(objective, rng, "uniform")
    assert near() < 0.3


def test_rad_on_a_non_finite_residual_draws_uniformly_and_says_so(caplog):
    objective, group = peaked_objective(peak=math.inf)
    rng = np.random.default_rng(0)
    objective.sample(rng)
    with caplog.at_level("WARNING", logger="pinnkit"):
        resample(objective, rng, "rad", k=2.0, c=0.1, pool=10)
    assert "RAD: the residual of test is not finite" in caplog.text
    assert np.mean(np.abs(group.arrays["points"][:, 0] - 0.8) < 0.1) < 0.3


def test_cli_refuses_a_network_too_large_for_a_dense_inverse_hessian(tmp_path, capsys):
    """Checked before training: one line naming the phase and the size, exit 2, no run folder."""
    code = pinnkit.cli.main(["solve", str(ROOT / "problems" / "burgers_accurate.toml"), "--out", str(tmp_path / "run"),
                             "--set", "phases[1].max_parameters=500", "--quiet", "--no-plots"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and not (tmp_path / "run").exists()
    assert err.startswith("error: phases[1] (ssbroyden): 2911 parameters need a dense 2911 x 2911 inverse Hessian "
                          "(65 MiB in float64), more than max_parameters = 500")
