"""SGD with momentum against a hand computation, SAM's perturbation and step against their closed forms."""
import pytest
import torch

from pinnkit.optim import PHASES, SAM, minimize

C = torch.tensor([1.0, 4.0, 0.5], dtype=torch.float64)  # f(x) = 1/2 sum c_i x_i^2, gradient c * x
X0 = [1.0, -0.5, 2.0]


def quadratic():
    x = torch.tensor(X0, dtype=torch.float64, requires_grad=True)
    return x, lambda: 0.5 * (C * x * x).sum()


def run(name, groups, closure, **options):
    return minimize(groups, name, loss=closure, **options)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_matches_the_hand_computation(nesterov):
    x, f = quadratic()
    run("sgd", [{"params": [x]}], f, iterations=3, lr=0.1, momentum=0.8, nesterov=nesterov)
    y, v = torch.tensor(X0, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    for k in range(3):
        g = C * y
        v = g if k == 0 else 0.8 * v + g  # torch's heavy ball: the buffer starts at the first gradient
        y = y - 0.1 * (g + 0.8 * v if nesterov else v)
    torch.testing.assert_close(x.detach(), y)


def test_sgd_rejects_nesterov_without_momentum():
    with pytest.raises(ValueError, match="nesterov = true needs momentum > 0"):
        PHASES["sgd"].Options(optimizer="sgd", iterations=1, momentum=0.0, nesterov=True)


def test_sam_perturbs_by_rho_along_the_gradient_and_steps_from_the_original_point():
    x, f = quadratic()
    seen = []

    def closure():
        optimizer.zero_grad()
        seen.append(x.detach().clone())
        loss = f()
        loss.backward()
        return loss

    optimizer = SAM([x], lambda groups: torch.optim.SGD(groups, lr=0.1), rho=0.05)
    loss = optimizer.step(closure)
    x0 = torch.tensor(X0, dtype=torch.float64)
    g = C * x0
    e = 0.05 * g / g.norm()
    torch.testing.assert_close(seen[1] - seen[0], e)
    torch.testing.assert_close(x.detach(), x0 - 0.1 * C * (x0 + e))
    assert float(loss.detach()) == pytest.approx(0.5 * float((C * x0 * x0).sum()))


def test_sam_phase_over_adam_lowers_the_loss_and_keeps_the_base_state():
    x, f = quadratic()
    result = run("sam", [{"params": [x]}], f, iterations=200, lr=0.05, base="adam", rho=0.01)
    assert result.status == "completed" and result.evaluations == 400
    assert float(f().detach()) < 1e-3
    optimizer = SAM([x], lambda groups: torch.optim.AdamW(groups, lr=0.1), rho=0.01)

    def closure():
        optimizer.zero_grad()
        loss = f()
        loss.backward()
        return loss

    optimizer.step(closure)
    state = optimizer.state_dict()
    assert state == optimizer.base.state_dict() and state["state"][0]["step"] == 1
    optimizer.load_state_dict(state)
    optimizer.param_groups[0]["lr"] = 0.5  # what a learning-rate schedule does: it must reach the base
    assert optimizer.base.param_groups[0]["lr"] == 0.5
