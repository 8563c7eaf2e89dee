"""The first-order phases' last-layer fit (`last_layer_every`): the least-squares fit of the network's last linear
layer where the residual is linear in it, Jacobian rows over some of the weights, and its checks (its exact resume:
test_checkpoint.py)."""
import csv
from pathlib import Path

import pytest
import torch

import pinnkit
from pinnkit.build import build
from pinnkit.cli import main
from pinnkit.config import load
from pinnkit.optim import Residuals
from pinnkit.optim.first_order import fit_last_layer
from pinnkit.optim.gauss_newton import jacobian

ROOT = Path(__file__).resolve().parents[1]
SMALL = ("model.compile=false", "model.width=10", "model.depth=2", "points.interior=120")


def _last_layer(setup):
    weight, bias = setup.view().residuals.taps.layers[-1]
    return [weight, bias]


def test_one_fit_is_the_least_squares_fit_of_a_linear_pde():
    """Poisson is linear in the last layer: after one fit its loss is the least-squares minimum over that layer
    (taken here by an independent solve on the batched Jacobian), its gradient there vanishes, and the hidden
    layers have not moved."""
    setup = build(load(ROOT / "problems" / "poisson_accurate.toml", SMALL))
    residuals, layer = setup.view().residuals, _last_layer(setup)
    hidden = [p.detach().clone() for p in setup.model.parameters() if all(p is not q for q in layer)]
    r, J = jacobian(Residuals(residuals.vector, residuals.blocks), layer, 1.0)
    d = torch.linalg.lstsq(J, -r[:, None]).solution[:, 0]
    minimum = float((r + J @ d).square().sum())
    gradient_before = torch.autograd.grad(residuals.vector().square().sum(), layer)

    loss = fit_last_layer(residuals, steps=1)

    assert float(loss) == pytest.approx(minimum, rel=1e-9) and minimum < 0.5 * float(r.square().sum())
    gradient = torch.autograd.grad(residuals.vector().square().sum(), layer)
    assert all(float(g.norm()) < 1e-7 * float(g0.norm()) for g, g0 in zip(gradient, gradient_before))
    moved = [p for p in setup.model.parameters() if all(p is not q for q in layer)]
    assert all(torch.equal(a, b) for a, b in zip(hidden, moved))


def test_rows_over_some_of_the_weights_equal_the_batched_ones_in_their_order():
    """The per-point Jacobian over a subset of the weights, given out of order, has the batched one's columns."""
    setup = build(load(ROOT / "problems" / "poisson_accurate.toml", SMALL))
    residuals, weights = setup.view().residuals, list(setup.model.parameters())
    some = [weights[-1], weights[0], weights[-2]]
    assert residuals.jacobian(some) is not None
    r, J = jacobian(residuals, some, 1.0)
    r_batched, J_batched = jacobian(Residuals(residuals.vector, residuals.blocks), some, 1.0)
    assert J.shape[1] == sum(p.numel() for p in some)
    torch.testing.assert_close(J, J_batched, rtol=0, atol=1e-14)


def test_a_nonlinear_pde_fit_never_raises_the_loss():
    """Burgers is not linear in the last layer: each Levenberg-Marquardt step is kept only where it lowers ||r||^2."""
    setup = build(load("burgers", SMALL))
    residuals = setup.view().residuals
    before = float(residuals.vector().detach().square().sum())
    after = float(fit_last_layer(residuals, steps=3))
    assert after < before and after == pytest.approx(float(residuals.vector().detach().square().sum()), rel=1e-12)


def test_the_warmup_with_fits_hands_over_a_fitted_layer_and_lands_far_below_plain_adam(tmp_path):
    overrides = [*SMALL, "phases[0].iterations=60", "phases[0].lr=5e-3", "phases[1].iterations=1",
                 "output.log_every=30"]
    plain = pinnkit.solve(ROOT / "problems" / "poisson_accurate.toml", overrides, out=tmp_path / "plain")
    fitted = pinnkit.solve(ROOT / "problems" / "poisson_accurate.toml", [*overrides, "phases[0].last_layer_every=10"],
                           out=tmp_path / "fitted")
    plain_warm, fitted_warm = (next(float(r["rel_l2_u"]) for r in csv.DictReader(open(run.run_dir / "history.csv"))
                                    if (r["phase"], r["iteration"]) == ("0", "60")) for run in (plain, fitted))
    assert fitted_warm < 0.1 * plain_warm
    assert fitted.summary["phases"][0]["evaluations"] == 60 + 7 * 2  # 7 fits, one Jacobian and one trial each


def test_the_fit_needs_the_jet_engine_and_says_so_before_training(tmp_path, capsys):
    code = main(["solve", str(ROOT / "problems" / "poisson_accurate.toml"), "--quiet", "--out", str(tmp_path / "run"),
                 "--set", "model.engine=autograd", "--set", "model.compile=false",
                 "--set", "phases[0].last_layer_every=10"])
    err = capsys.readouterr().err
    assert code == 2 and not (tmp_path / "run").exists() and err.count("\n") == 1
    assert "phases[0] (adam): last_layer_every needs the linear layers the residual passes through" in err
