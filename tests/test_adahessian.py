"""AdaHessian: Hutchinson's estimator against exact Hessians, the update formula, reuse, and a Burgers solve."""
import csv
import math
from pathlib import Path

import pytest
import torch

import pinnkit
from pinnkit.optim import AdaHessian
from pinnkit.optim.adahessian import block_average, hutchinson_diagonal

ROOT = Path(__file__).resolve().parents[1]


def symmetric(n: int, seed: int = 0) -> torch.Tensor:
    m = torch.randn(n, n, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    return (m + m.T) / 2


def graph_gradient(hessian: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Gradient of 0.5 x'Hx, with its graph kept for a Hessian-vector product."""
    return torch.autograd.grad(0.5 * x @ hessian @ x, x, create_graph=True)[0]


def test_hutchinson_mean_converges_to_the_diagonal_at_the_monte_carlo_rate():
    """Var(z_i (Hz)_i) = sum_{j != i} H_ij^2, so the RMS error with N samples is sqrt(mean_i of that / N)."""
    torch.manual_seed(0)
    hessian = symmetric(20)
    x = torch.randn(20, dtype=torch.float64, requires_grad=True)
    predicted = ((hessian ** 2).sum(1) - hessian.diag() ** 2).mean().sqrt()
    errors = []
    for n in (16, 256, 4096):
        estimate = hutchinson_diagonal([graph_gradient(hessian, x)], [x], n)[0]
        errors.append((estimate - hessian.diag()).pow(2).mean().sqrt())
        assert 0.6 < errors[-1] / (predicted / math.sqrt(n)) < 1.5
    assert errors[0] / errors[1] == pytest.approx(4, rel=0.4) and errors[1] / errors[2] == pytest.approx(4, rel=0.4)


def test_hutchinson_is_exact_for_a_diagonal_hessian_and_needs_a_graph():
    diagonal = torch.tensor([1.0, -2.0, 5.0], dtype=torch.float64)
    x = torch.ones(3, dtype=torch.float64, requires_grad=True)
    assert torch.equal(hutchinson_diagonal([graph_gradient(torch.diag(diagonal), x)], [x])[0], diagonal)
    with pytest.raises(RuntimeError, match="create_graph=True"):
        hutchinson_diagonal([torch.ones(3)], [x])


def quadratic_closure(optimizer, x, a, b):
    def closure():
        optimizer.zero_grad()
        loss = 0.5 * x @ a @ x - b @ x
        loss.backward(create_graph=True)
        return loss
    return closure


def test_converges_on_a_non_diagonal_quadratic():
    torch.manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(20, 20, dtype=torch.float64))
    a = q @ torch.diag(torch.linspace(1, 10, 20, dtype=torch.float64)) @ q.T
    b = torch.randn(20, dtype=torch.float64)
    x = torch.zeros(20, dtype=torch.float64, requires_grad=True)
    optimizer = AdaHessian([x], lr=0.1)
    closure = quadratic_closure(optimizer, x, a, b)
    for _ in range(1000):
        optimizer.step(closure)
    assert torch.allclose(x.detach(), torch.linalg.solve(a, b), atol=1e-8)
    assert x.grad is not None and x.grad.grad_fn is None  # the graph was freed


@pytest.mark.parametrize("power, decay", [(1.0, 0.0), (0.5, 0.0), (1.0, 0.1)])
def test_first_step_follows_the_formula(power, decay):
    """f = 2 x^2 at x = 1: g = 4 and D = 4 exactly, so x1 = x0 (1 - lr wd) - lr 4 / (16^(k/2) + eps)."""
    x = torch.ones(1, dtype=torch.float64, requires_grad=True)
    lr, eps = 0.1, 1e-4
    optimizer = AdaHessian([x], lr=lr, eps=eps, hessian_power=power, weight_decay=decay)
    optimizer.step(quadratic_closure(optimizer, x, torch.full((1, 1), 4.0, dtype=torch.float64),
                                      torch.zeros(1, dtype=torch.float64)))
    assert x.item() == pytest.approx((1 - lr * decay) - lr * 4 / (16 ** (power / 2) + eps), rel=1e-12)


def test_update_every_reuses_the_estimate(monkeypatch):
    counted = []
    grad = torch.autograd.grad
    monkeypatch.setattr(torch.autograd, "grad", lambda *a, **k: counted.append(1) or grad(*a, **k))
    hessian = symmetric(5) + 10 * torch.eye(5, dtype=torch.float64)
    x = torch.ones(5, dtype=torch.float64, requires_grad=True)
    optimizer = AdaHessian([x], lr=0.01, n_samples=2, update_every=3)
    closure = quadratic_closure(optimizer, x, hessian, torch.zeros(5, dtype=torch.float64))
    estimates = []
    for _ in range(10):
        optimizer.step(closure)
        estimates.append(optimizer.state[x]["hessian_diag"])
    assert len(counted) == 2 * 4  # estimated at steps 1, 4, 7, 10, two products each
    assert estimates[0] is estimates[1] is estimates[2] and estimates[2] is not estimates[3]


def test_a_seeded_generator_repeats_the_run_exactly():
    hessian = symmetric(5) + 10 * torch.eye(5, dtype=torch.float64)
    finals = []
    for _ in range(2):
        x = torch.ones(5, dtype=torch.float64, requires_grad=True)
        optimizer = AdaHessian([x], lr=0.1, generator=torch.Generator().manual_seed(3))
        closure = quadratic_closure(optimizer, x, hessian, torch.ones(5, dtype=torch.float64))
        for _ in range(5):
            optimizer.step(closure)
        finals.append(x.detach())
    assert torch.equal(*finals)


def test_row_blocks_average_the_magnitude_over_each_row():
    diagonal = torch.tensor([[1.0, -3.0], [2.0, 4.0]])
    assert torch.equal(block_average(diagonal, "row"), torch.tensor([[2.0, 2.0], [3.0, 3.0]]))
    assert torch.equal(block_average(torch.tensor([-1.0, 2.0]), "row"), torch.tensor([-1.0, 2.0]))


def test_burgers_solve_with_adahessian_then_native_lbfgs_lowers_the_loss(tmp_path):
    """`phases[0].optimizer=adahessian` and `phases[1].optimizer=lbfgs` on a tiny Burgers case: each lowers the loss."""
    result = pinnkit.solve(ROOT / "problems" / "burgers.toml", out=tmp_path / "run",
                           overrides=["phases[0].optimizer=adahessian", "phases[1].optimizer=lbfgs",
                                      "phases[0].iterations=20", "phases[0].lr=0.15", "phases[1].iterations=20",
                                      "points.interior=200", "model.depth=2", "output.log_every=10"])
    assert result.status == "completed"
    rows = list(csv.DictReader(open(result.run_dir / "history.csv")))
    for name in ("adahessian", "lbfgs"):
        losses = [float(r["loss"]) for r in rows if r["optimizer"] == name]
        assert len(losses) >= 2 and losses[-1] < losses[0], name
    assert [p["optimizer"] for p in result.summary["phases"]] == ["adahessian", "lbfgs"]
