"""pinnkit's networks: the MLP and the modified MLP against hand-written forward passes; the modified MLP
trains through a solve and reopens without trust."""
from pathlib import Path

import numpy as np
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


def test_the_modified_mlp_trains_and_reopens(tmp_path):
    overrides = ["model.name=modified_mlp", "model.width=8", "model.depth=2", "points.interior=100",
                 "points.evaluation=64", "phases[0].iterations=20", "phases[1].iterations=10", "output.log_every=10"]
    result = pinnkit.solve(ROOT / "problems" / "burgers.toml", overrides, out=tmp_path / "run")
    losses = [p["loss"] for p in result.summary["phases"]]
    assert result.status == "completed" and result.summary["engine"] == "autograd" and losses[1] < losses[0]
    points = np.array([[0.3, 0.4]])
    np.testing.assert_allclose(pinnkit.load(tmp_path / "run").predict(points)["u"], result.solution.predict(points)["u"])
