"""Adaptive term weights that balance the gradient norms: on a two-term quadratic toy problem and in a solve."""
from pathlib import Path

import numpy as np
import pytest
import torch
from linear_toy import group, linear_objective

import pinnkit
from pinnkit.balancing import GradNormWeights
from pinnkit.build import build
from pinnkit.config import load
from pinnkit.loss import Objective, point_weighted
from pinnkit.point_jacobians import PointRows

ROOT = Path(__file__).resolve().parents[1]


def toy():
    """u = a x + b on 16 points; term "steep" = 10 (u - 1), term "flat" = 0.1 (u + 1): gradients 100x apart."""
    return linear_objective([group("steep", lambda d: 10.0 * (d.u - 1.0)),
                             group("flat", lambda d: 0.1 * (d.u + 1.0))])


def weighted_norms(balance: GradNormWeights, objective: Objective) -> dict[str, float]:
    return {k: objective.weights.get(k, 1.0) * n for k, n in balance.norms(objective).items()}


def test_the_ntk_scheme_measures_the_mean_kernel_diagonal():
    """For u = a x + b, grad r_i = factor (x_i, 1): mean |grad r_i|^2 = factor^2 mean(x^2 + 1)."""
    x = np.linspace(0, 1, 16)
    norms = GradNormWeights({}, 0.0, "ntk").norms(toy())
    assert norms["steep"] == pytest.approx(100 * np.mean(x**2 + 1), rel=1e-12)
    assert norms["flat"] == pytest.approx(0.01 * np.mean(x**2 + 1), rel=1e-12)
    with pytest.raises(ValueError, match="unknown balancing scheme 'rba'"):
        GradNormWeights({}, 0.0, "rba")


def test_without_per_point_rows_the_ntk_traces_are_taken_at_evenly_spread_points():
    """The batched-backward route (here a plain linear layer) takes `trace_points` of each set, first and last
    included: with 2 of the 16 points x = 0 and 1, so mean(x^2 + 1) = 1.5; with 512 of 4,000 the estimate is
    within 0.1% of the mean over all of them."""
    assert GradNormWeights({}, 0.0, "ntk", trace_points=2).norms(toy())["steep"] == pytest.approx(150, rel=1e-12)
    many = linear_objective([group("steep", lambda d: 10.0 * (d.u - 1.0), points=4000)])
    x = np.linspace(0, 1, 4000)
    estimate = GradNormWeights({}, 0.0, "ntk", trace_points=512).norms(many)["steep"]
    assert estimate == pytest.approx(100 * np.mean(x**2 + 1), rel=1e-3)
    assert estimate != pytest.approx(100 * np.mean(x**2 + 1), rel=1e-9)  # an estimate: not all the points


@pytest.mark.parametrize("case, overrides", [
    ("kovasznay", ("points.interior=30", "points.boundary=12")),  # three terms of one graph, a vector term
    (ROOT / "problems" / "poisson_accurate.toml", ("points.interior=30",)),  # under an affine output transform
])
def test_the_ntk_traces_point_by_point_equal_one_backward_pass_per_entry(case, overrides):
    """Through the jets the per-point route applies, and its mean |grad r_i|^2 per term matches the gradients of
    the entries taken one at a time by autograd."""
    setup = build(load(case, ("model.compile=false", "model.width=8", "model.depth=2", *overrides)))
    objective, params = setup.objective, list(setup.model.parameters())
    assert PointRows(objective).kernel_traces(params) is not None
    traces = GradNormWeights({}, 0.0, "ntk").norms(objective)
    expected = {}
    for g in objective.groups:
        for name, r in objective.group_terms(g, g.batch, objective.engine.eager()).items():
            entries = point_weighted(g.batch, r).reshape(-1)
            squares = [sum(float(d.square().sum()) for d in
                           torch.autograd.grad(e, params, retain_graph=True, allow_unused=True) if d is not None)
                       for e in entries]
            expected[name] = float(np.mean(squares))
    assert set(traces) == set(expected)
    for name, value in expected.items():
        assert traces[name] == pytest.approx(value, rel=1e-10)


def test_a_transform_the_ntk_traces_cannot_take_point_by_point_is_met_once(caplog):
    """Under an output transform not affine in the network's outputs the traces come from batched backward
    passes, and the per-point route, tried once and said once in the log, is not tried again at later updates."""
    setup = build(load(ROOT / "problems" / "poisson_accurate.toml",
                       ("model.compile=false", "model.width=8", "model.depth=2", "points.interior=30")))
    setup.model.transform = lambda c, raw: {"u": c["x"] * (1 - c["x"]) * torch.tanh(raw["u"])}
    balance = GradNormWeights({}, 0.0, "ntk")
    with caplog.at_level("INFO", logger="pinnkit"):
        first, second = balance.norms(setup.objective), balance.norms(setup.objective)
    assert caplog.text.count("per-point Jacobian rows unavailable (ValueError: the output transform is not "
                             "affine") == 1
    assert first == second and first["pde"] > 0


@pytest.mark.parametrize("scheme", ["grad_norm", "ntk"])
def test_without_averaging_the_weighted_pulls_are_equal(scheme):
    objective = toy()
    balance = GradNormWeights({}, alpha=0.0, scheme=scheme)
    before = weighted_norms(balance, objective)
    assert before["steep"] / before["flat"] > 50
    balance.update(objective)
    after = weighted_norms(balance, objective)
    assert after["steep"] == pytest.approx(after["flat"], rel=1e-12)
    assert after["steep"] == pytest.approx(sum(before.values()), rel=1e-12)  # lambda_k |g_k| = sum_j |g_j|


@pytest.mark.parametrize("scheme", ["grad_norm", "ntk"])
def test_with_averaging_the_weights_move_toward_balance_and_multiply_the_configured_ones(scheme):
    objective = toy()
    balance = GradNormWeights({"flat": 2.0}, alpha=0.5, scheme=scheme)
    n = balance.norms(objective)
    ratios = [n["steep"] / n["flat"]]
    for _ in range(6):
        balance.update(objective)
        n = {k: balance.factors[k] * v for k, v in balance.norms(objective).items()}
        ratios.append(n["steep"] / n["flat"])
    assert all(abs(np.log(b)) < abs(np.log(a)) for a, b in zip(ratios, ratios[1:]))  # toward 1, every update
    assert abs(np.log(ratios[-1])) < 0.1 * abs(np.log(ratios[0]))
    assert objective.weights["flat"] == pytest.approx(2.0 * balance.factors["flat"])
    assert balance.row() == {"weight_steep": balance.factors["steep"], "weight_flat": 2.0 * balance.factors["flat"]}


def test_a_balanced_solve_logs_the_weights_and_resumes_them(tmp_path):
    overrides = ["model.hard_constraints=false", "points.interior=200", "points.boundary=40", "points.initial=40",
                 "points.evaluation=256", "model.depth=2", "loss.balance={alpha = 0.5, scheme = 'ntk'}",
                 "model.compile=true",  # the weights are measured eagerly: a compiled backward runs once only
                 "phases[0].iterations=6",
                 "phases[0].reweight_every=2", "phases[1].iterations=4", "output.log_every=2"]
    result = pinnkit.solve(ROOT / "problems" / "burgers.toml", overrides, out=tmp_path / "run")
    header = (result.run_dir / "history.csv").read_text().splitlines()[0].split(",")
    assert {"weight_pde", "weight_bc", "weight_ic"} <= set(header) and result.status == "completed"
