"""K-FAC: its factors against the exact Gauss-Newton block, the jet rows it records against autograd's
gradient, a tiny Poisson solve against Adam, a state-dict round trip and the refusals before training."""
from pathlib import Path

import pytest
import torch

import pinnkit
from pinnkit.cli import main
from pinnkit.jets import mlp_jets
from pinnkit.nets import MLP, LinearTaps
from pinnkit.optim import KFAC, PHASES, Residuals, Sizes
from pinnkit.optim.gauss_newton import jacobian
from pinnkit.optim.kfac import factors

ROOT = Path(__file__).resolve().parents[1]


def poisson(model: MLP, x: torch.Tensor) -> torch.Tensor:
    """The scaled residual of -(u_xx + u_yy) = 1 at x (N, 2), through the forward jets."""
    _, rows = mlp_jets(model, x, (0, 1), ((0, 0), (1, 1)))
    return (-(rows[0, 2] + rows[0, 3]) - 1) / len(x) ** 0.5


def small_mlp(seed: int = 0) -> MLP:
    return MLP(2, 1, 6, 1, "tanh", [0.0, 0.0], [1.0, 1.0], generator=torch.Generator().manual_seed(seed))


def test_factors_reproduce_the_gauss_newton_block_of_a_linear_layer():
    """One output per point: J^T J = G (x) A exactly (rows of [W, b] flattened in order). A network of one
    linear layer on inputs in [-1, 1] (so its input scaling is the identity)."""
    gen = torch.Generator().manual_seed(0)
    net = MLP(3, 1, 1, 0, "tanh", [-1.0] * 3, [1.0] * 3, generator=gen)
    layer = net.layers[0]
    x = torch.rand(7, 3, generator=gen, dtype=torch.float64) * 2 - 1
    y = torch.randn(7, generator=gen, dtype=torch.float64)
    r_of = lambda: (net(x)[:, 0] - y) * 0.3  # noqa: E731
    with torch.enable_grad(), LinearTaps(net).record() as calls:
        r = r_of()
        [(A, G)] = factors(calls, r, torch.where(torch.arange(7) % 2 == 0, 1.0, -1.0).to(r))
    _, J = jacobian(Residuals(r_of), [layer.weight, layer.bias], 1.0)
    torch.testing.assert_close(torch.kron(G, A), J.T @ J)


def test_recorded_jet_rows_give_the_gradient():
    """sum over every recorded row of g a^T is the gradient of sum(r): the value and derivative rows, the
    bias on the value row only, the first layer's input jet included."""
    model, x = small_mlp(), torch.rand(5, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with LinearTaps(model).record() as calls:
        r = poisson(model, x)
        grads = torch.autograd.grad(r.sum(), [c.output for layer in calls for c in layer], retain_graph=True)
    expected = torch.autograd.grad(r.sum(), list(model.parameters()), allow_unused=True, materialize_grads=True)
    for call, g, (w, b) in zip([c for layer in calls for c in layer], grads, zip(expected[::2], expected[1::2])):
        assert call.output.dim() == 3 and len(call.inputs) == call.output.shape[1] * call.output.shape[2]
        torch.testing.assert_close(call.rows(g).T @ call.inputs, torch.cat([w, b[:, None]], 1))


def run_steps(optimizer: KFAC, model: MLP, x: torch.Tensor, steps: int) -> None:
    for _ in range(steps):
        optimizer.step(Residuals(lambda: poisson(model, x), taps=LinearTaps(model)))


def test_kfac_continues_identically_from_its_state_dict():
    """What a checkpoint relies on: averaged factors and the step count (factors refreshed every 2 steps)."""
    x = torch.rand(40, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    straight, split = small_mlp(), small_mlp()
    run_steps(KFAC(straight.parameters(), update_every=2), straight, x, 5)
    first = KFAC(split.parameters(), update_every=2)
    run_steps(first, split, x, 3)
    second = KFAC(split.parameters(), update_every=2)
    second.load_state_dict(first.state_dict())
    run_steps(second, split, x, 2)
    for p, q in zip(straight.parameters(), split.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


def _final_loss(optimizer: str, tmp_path: Path) -> tuple[float, float]:
    overrides = ("points.interior=150", "model.depth=1", "model.width=10", "points.evaluation=400", "model.engine=jet",
                 "phases[0].iterations=100", f'phases[1]={{optimizer = "{optimizer}", iterations = 20}}',
                 "output.log_every=20")
    result = pinnkit.solve(ROOT / "problems" / "poisson_accurate.toml", overrides, out=tmp_path / optimizer, quiet=True)
    assert result.status == "completed"
    phase = result.summary["phases"]
    return phase[0]["loss"], result.summary["loss"]["loss"]


def test_kfac_lowers_the_tiny_poisson_loss_faster_than_adam(tmp_path):
    start, kfac = _final_loss("kfac", tmp_path)
    _, adam = _final_loss("adam", tmp_path)
    assert kfac < 0.1 * start and kfac < 0.1 * adam


def test_kfac_refuses_an_objective_that_shows_no_layers():
    phase = PHASES["kfac"](PHASES["kfac"].Options(optimizer="kfac", iterations=1))
    with pytest.raises(ValueError, match="kfac needs a network that shows the calls of its linear layers"):
        phase.validate(Sizes(residuals=10, parameters=10, taps=False))
    phase.validate(Sizes(residuals=10, parameters=10, taps=True))


def test_cli_exits_2_for_kfac_without_the_jet_engine(tmp_path, capsys):
    code = main(["solve", str(ROOT / "problems" / "poisson_accurate.toml"), "--quiet", "--out", str(tmp_path / "run"),
                 "--set", 'phases[1]={optimizer = "kfac", iterations = 10}', "--set", "model.engine=autograd"])
    err = capsys.readouterr().err
    assert code == 2 and not (tmp_path / "run").exists()
    assert err.count("\n") == 1 and "phases[1] (kfac)" in err and 'model.engine = "jet"' in err
