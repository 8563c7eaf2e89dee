"""Residual-based attention: the multiplier update, the loss it makes, and a run that logs and resumes it."""
import csv

import numpy as np
import pytest
import torch
from linear_toy import group, linear_objective

import pinnkit
from pinnkit.attention import ResidualAttention
from pinnkit.config import ConfigError, load


def toy():
    """u = 0.3 x - 0.2 on 11 points of [0, 1]; term "pde" = u - x^2 (so |r| varies over the points)."""
    return linear_objective([group("pde", lambda d: d.u - d.x**2, points=11, adaptive=True)])


def test_multipliers_step_toward_the_relative_residual_and_stay_bounded():
    objective, attention = toy(), ResidualAttention(gamma=0.9, eta=0.05)
    x = np.linspace(0, 1, 11)
    share = np.abs(0.3 * x - 0.2 - x**2) / np.abs(0.3 * x - 0.2 - x**2).max()
    attention.update(objective)
    np.testing.assert_allclose(objective.groups[0].arrays["attention"], 0.9 + 0.05 * share, rtol=1e-14)
    for _ in range(199):
        attention.update(objective)
    expected = 0.9**200 + 0.05 * share * (1 - 0.9**200) / (1 - 0.9)  # the geometric sum, toward eta / (1 - gamma)
    lam = objective.groups[0].arrays["attention"]
    np.testing.assert_allclose(lam, expected, rtol=1e-12)
    assert np.argmax(lam) == np.argmax(share) and lam.max() == pytest.approx(0.05 / (1 - 0.9), rel=1e-8)
    assert attention.row(objective) == {"attention_mean_pde": pytest.approx(lam.mean()), "attention_max_pde": lam.max()}


def test_the_multipliers_scale_the_residuals_in_the_loss_and_the_residual_vector():
    objective, attention = toy(), ResidualAttention(gamma=0.5, eta=1.0)
    attention.update(objective)
    objective.to(torch.device("cpu"), torch.float64)
    x = np.linspace(0, 1, 11)
    r = 0.3 * x - 0.2 - x**2
    lam = objective.groups[0].arrays["attention"]
    total, terms = objective.loss()
    assert float(total) == pytest.approx(np.mean((lam * r) ** 2), rel=1e-13)
    assert float(terms["pde"]) == pytest.approx(np.mean(r**2), rel=1e-13)  # reported as it is
    vector, _ = objective.residual_vector()
    assert float(vector.square().sum()) == pytest.approx(float(total), rel=1e-13)


def test_a_solve_logs_the_multipliers_and_bad_values_are_named(tmp_path):
    overrides = ["points.interior=128", "points.initial=32", "points.evaluation=256", "model.width=8",
                 "model.depth=2", "phases[0].iterations=10", "phases[0].reweight_every=2", "phases[1].iterations=4",
                 "output.log_every=2", "loss.attention={gamma = 0.9, eta = 0.1}"]
    result = pinnkit.solve("allen_cahn", overrides, out=tmp_path / "run")
    with open(result.run_dir / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert {"attention_mean_pde", "attention_max_pde", "attention_mean_ic"} <= set(rows[0])
    means = [float(r["attention_mean_pde"]) for r in rows]  # each update: 0.9 lambda + 0.1 |r| / max |r|
    assert 0.9 < means[0] < 1.0 and all(0 < m <= 1.0 for m in means) and means[-1] < means[0]
    with pytest.raises(ConfigError, match=r"allen_cahn.toml: loss.attention.gamma: must be < 1.0, got 1.5"):
        load("allen_cahn", ("loss.attention={gamma = 1.5}",))
