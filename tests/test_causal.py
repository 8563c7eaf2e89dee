"""Causal training: the weights, the loss they make, eps annealing, and the config that asks for them."""
from pathlib import Path

import numpy as np
import pytest
import torch

import pinnkit
from pinnkit.build import build
from pinnkit.causal import CausalWeights
from pinnkit.config import ConfigError, load

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["points.interior=256", "points.initial=64", "points.evaluation=256", "model.width=8", "model.depth=2",
         "loss.causal={chunks = 8}"]


def test_weights_are_one_then_non_increasing_and_reach_one_as_the_losses_vanish():
    causal = CausalWeights(5, [1.0], 0.99, 0.0, 1.0)
    w = causal.weights_for(np.array([0.5, 0.2, 0.0, 1.0, 3.0]))
    np.testing.assert_allclose(w, np.exp(-np.array([0.0, 0.5, 0.7, 0.7, 1.7])))
    assert w[0] == 1 and np.all(np.diff(w) <= 0)
    for scale in (1e-1, 1e-3, 1e-6):
        assert causal.weights_for(scale * np.ones(5)).min() > np.exp(-4 * scale) - 1e-15
    np.testing.assert_array_equal(causal.chunk_of(np.array([0.0, 0.19, 0.2, 0.999, 1.0])), [0, 0, 1, 4, 4])


def test_the_pde_loss_is_the_mean_of_the_weighted_chunk_losses_in_loss_and_residual_vector():
    setup = build(load(ROOT / "problems" / "allen_cahn.toml", tuple(SMALL)))
    objective, causal = setup.objective, setup.causal
    group = next(g for g in objective.groups if g.adaptive)
    t = group.arrays["points"][:, -1]
    chunk = causal.chunk_of(t)
    with torch.enable_grad():
        r = objective.group_terms(group, group.batch)["pde"].detach().numpy()
    chunk_losses = np.array([np.mean(r[chunk == i] ** 2) for i in range(8)])
    np.testing.assert_allclose(causal.losses, chunk_losses, rtol=1e-12)
    expected_pde = np.mean(causal.weights * chunk_losses)
    total, terms = objective.loss()
    ic = float(terms["ic"])
    assert float(total) == pytest.approx(expected_pde + ic, rel=1e-12)
    assert float(terms["pde"]) == pytest.approx(np.mean(r**2), rel=1e-12)  # reported unweighted
    vector, _ = objective.residual_vector()
    assert float(vector.square().sum()) == pytest.approx(float(total), rel=1e-12)
    blocks = torch.cat([rows for _, rows in objective.residual_blocks(points=37)])
    torch.testing.assert_close(blocks, vector)


def test_eps_moves_on_once_every_chunk_is_fit():
    causal = CausalWeights(4, [0.1, 1.0, 10.0], 0.99, 0.0, 1.0)
    large = np.array([1.0, 1.0, 1.0, 1.0])  # at eps = 0.1 the last chunk weighs exp(-0.3) < 0.99: stay
    causal.observe(large)
    assert causal.stage == 0 and causal.weights[-1] == pytest.approx(np.exp(-0.3))
    small = np.full(4, 1e-4)  # exp(-eps * 3e-4) > 0.99 up to eps = 33: one stage per update, then stay
    stages = []
    for _ in range(3):
        causal.observe(small)
        stages.append(causal.stage)
    assert stages == [1, 2, 2] and causal.eps == 10.0
    assert causal.weights[-1] == pytest.approx(np.exp(-10.0 * 3e-4))  # weighed at the new eps


def test_causal_training_needs_a_time_coordinate_and_an_increasing_schedule():
    with pytest.raises(ConfigError, match="loss.causal: weights the PDE residual in time, and Poisson has no time"):
        build(load(ROOT / "problems" / "poisson.toml", ("loss.causal={chunks = 4}",)))
    with pytest.raises(ConfigError, match=r"loss.causal.eps.*must increase"):
        load(ROOT / "problems" / "allen_cahn.toml", ("loss.causal={eps = [1.0, 0.1]}",))


def test_a_causal_solve_logs_eps_and_every_chunk_weight(tmp_path):
    overrides = SMALL + ["phases[0].iterations=6", "phases[0].reweight_every=2", "phases[1].iterations=4",
                         "output.log_every=2"]
    result = pinnkit.solve(ROOT / "problems" / "allen_cahn.toml", overrides, out=tmp_path / "run")
    header = (result.run_dir / "history.csv").read_text().splitlines()[0].split(",")
    assert "causal_eps" in header and [h for h in header if h.startswith("causal_w")] == \
        [f"causal_w{i:02d}" for i in range(8)]
    assert result.status == "completed"
