"""Derivatives from the autograd engine against closed-form derivatives."""

import pytest
import torch

from pinnkit.operators import AutogradEngine, divergence, laplacian, parse


class Closed(torch.nn.Module):
    """(x, t) -> (u, v) = (sin(x) exp(t), x^2 t^3): derivatives known in closed form."""

    def forward(self, p):
        x, t = p[:, 0], p[:, 1]
        return torch.stack([torch.sin(x) * torch.exp(t), x**2 * t**3], dim=1)


@pytest.fixture
def points():
    return torch.rand(50, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2 - 1


def test_first_and_second_derivatives_match_closed_form(points):
    d = AutogradEngine()(Closed(), points, ("x", "t"), ("u", "v"), ("u_x", "u_t", "u_xx", "u_xt", "v_x", "v_tt", "v_xt"))
    x, t = points[:, 0], points[:, 1]
    expected = {
        "u": torch.sin(x) * torch.exp(t), "u_x": torch.cos(x) * torch.exp(t), "u_t": torch.sin(x) * torch.exp(t),
        "u_xx": -torch.sin(x) * torch.exp(t), "u_xt": torch.cos(x) * torch.exp(t),
        "v_x": 2 * x * t**3, "v_tt": 6 * x**2 * t, "v_xt": 6 * x * t**2,
    }
    for name, value in expected.items():
        torch.testing.assert_close(d[name], value, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(d.x, x)


def test_third_derivative_and_helpers(points):
    d = AutogradEngine()(Closed(), points, ("x", "t"), ("u", "v"), ("u_xxx", "u_tt", "v_t"))
    x, t = points[:, 0], points[:, 1]
    torch.testing.assert_close(d.u_xxx, -torch.cos(x) * torch.exp(t))
    d2 = AutogradEngine()(Closed(), points, ("x", "t"), ("u", "v"), ("u_xx", "u_tt", "u_x", "v_t"))
    torch.testing.assert_close(laplacian(d2, "u", ("x", "t")), torch.zeros_like(x), atol=1e-12, rtol=0)
    torch.testing.assert_close(divergence(d2, ("u", "v"), ("x", "t")), torch.cos(x) * torch.exp(t) + 3 * x**2 * t**2)


def test_derivatives_are_differentiable_for_training(points):
    net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    d = AutogradEngine()(net, points, ("x", "t"), ("u",), ("u_xx",))
    d.u_xx.square().mean().backward()
    for p in (net[0].weight, net[0].bias, net[2].weight):  # u_xx does not depend on the output bias
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


def test_undeclared_derivative_names_the_declaration(points):
    d = AutogradEngine()(Closed(), points, ("x", "t"), ("u", "v"), ("u_x",), owner="Heat")
    with pytest.raises(AttributeError, match=r"'u_xx' is not available here: declare it in Heat.derivatives"):
        d.u_xx


@pytest.mark.parametrize("name, key", [("u_x", (0, (0,))), ("p_xy", (1, (0, 1))), ("u_tt", (0, (2, 2)))])
def test_parse(name, key):
    assert parse(name, ("x", "y", "t"), ("u", "p")) == key


@pytest.mark.parametrize("name", ["w_x", "u", "u_q", "u_"])
def test_parse_rejects_bad_names(name):
    with pytest.raises(ValueError, match="derivative"):
        parse(name, ("x", "t"), ("u",))
