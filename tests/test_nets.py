"""pinnkit's networks: the MLP and the modified MLP against hand-written forward passes; the modified MLP
trains through a solve and reopens without trust."""
from pathlib import Path

import numpy as np
import pytest
import torch

import pinnkit
from pinnkit.nets import MLP, ModifiedMLP

ROOT = Path(__file__).resolve().parents[1]


def test_the_modified_mlp_is_the_published_architecture():
    """U, V = act(W_u s + b_u), act(W_v s + b_v); h <- (1 - z) U + z V, z = act(W h + b); out = W_o h + b_o."""
    net = ModifiedMLP(2, 1, 5, 2, "tanh", [0.0, -1.0], [2.0, 1.0], generator=torch.Generator().manual_seed(0))
    x = torch.rand(7, 2, dtype=torch.float64) * torch.tensor([2.0, 2.0], dtype=torch.float64) - torch.tensor([0, 1.0])
    s = (x - torch.tensor([1.0, 0.0])) / torch.tensor([1.0, 1.0])
    w, b = net.encoders[0].weight, net.encoders[0].bias
    u, v = torch.tanh(s @ w[:5].T + b[:5]), torch.tanh(s @ w[5:].T + b[5:])
    h = s
    for layer in net.layers[:-1]:
        z = torch.tanh(h @ layer.weight.T + layer.bias)
        h = (1 - z) * u + z * v
    torch.testing.assert_close(net(x), h @ net.layers[-1].weight.T + net.layers[-1].bias)
    assert sum(p.numel() for p in net.parameters()) == (2 * 10 + 10) + (2 * 5 + 5) + (5 * 5 + 5) + (5 + 1)


def test_the_mlp_shares_the_input_scaling():
    net = MLP(2, 1, 4, 1, "sin", [0.0, 0.0], [4.0, 2.0], fourier_features=3, generator=torch.Generator().manual_seed(1))
    x = torch.tensor([[2.0, 1.0], [4.0, 2.0]], dtype=torch.float64)
    np.testing.assert_allclose(net.scaled(x)[0].numpy(), np.concatenate([np.zeros(3), np.ones(3)]))  # the centre


def test_periodic_inputs_repeat_exactly_with_every_derivative():
    """A periodic input enters as [cos(pi z), sin(pi z)], z scaled to [-1, 1]: the network and its derivatives
    take the same values one domain length apart, and the features are those columns."""
    for cls in (MLP, ModifiedMLP):
        net = cls(2, 1, 8, 2, "tanh", [0.0, -1.0], [3.0, 1.0], generator=torch.Generator().manual_seed(2), periodic=[0])
        x = torch.rand(9, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3)).requires_grad_(True)
        shifted = (x.detach() + torch.tensor([3.0, 0.0], dtype=torch.float64)).requires_grad_(True)
        (dx,) = torch.autograd.grad(net(x).sum(), x, create_graph=True)
        (ds,) = torch.autograd.grad(net(shifted).sum(), shifted, create_graph=True)
        torch.testing.assert_close(net(shifted), net(x))
        torch.testing.assert_close(ds, dx)
        z = (x[:, 0] - 1.5) / 1.5
        torch.testing.assert_close(net.scaled(x), torch.stack([torch.cos(torch.pi * z), torch.sin(torch.pi * z),
                                                               x[:, 1]], dim=1))


def test_periodic_inputs_must_be_column_indices():
    for bad in ([2], [0, 0], [-1]):
        with pytest.raises(ValueError, match="periodic inputs must be distinct column indices below 2"):
            MLP(2, 1, 4, 1, "tanh", [0.0, 0.0], [1.0, 1.0], periodic=bad)


def test_the_modified_mlp_trains_and_reopens(tmp_path):
    overrides = ["model.name=modified_mlp", "model.width=8", "model.depth=2", "points.interior=100",
                 "points.evaluation=64", "phases[0].iterations=20", "phases[1].iterations=10", "output.log_every=10"]
    result = pinnkit.solve(ROOT / "problems" / "burgers.toml", overrides, out=tmp_path / "run")
    losses = [p["loss"] for p in result.summary["phases"]]
    assert result.status == "completed" and result.summary["engine"] == "autograd" and losses[1] < losses[0]
    points = np.array([[0.3, 0.4]])
    np.testing.assert_allclose(pinnkit.load(tmp_path / "run").predict(points)["u"], result.solution.predict(points)["u"])
