"""The forward jet engine against nested autograd (float64): values, derivatives and their gradients."""
import math

from pathlib import Path

import pytest
import torch

from pinnkit.affine import AffineCache, AffineJets
from pinnkit.axis_jets import axis_jets
from pinnkit.build import make_engine
from pinnkit.config import ConfigError, load
from pinnkit.jets import DERIVATIVES, constrained_jets
from pinnkit.nets import ACTIVATIONS, MLP, Constrained
from pinnkit.operators import AutogradEngine, JetEngine, plan_jets, laplacian

COORDS = ("x", "y", "z")


def close(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-12) -> bool:
    """max |a - b| <= tol max |b|: relative to the size of the quantity, not entry by entry."""
    return bool((a - b).abs().max() <= tol * b.abs().max())


def net(dim: int, activation: str = "tanh", fourier: int = 0, outputs: int = 2, seed: int = 0,
        periodic: tuple[int, ...] = ()) -> MLP:
    g = torch.Generator().manual_seed(seed)
    return MLP(dim, outputs, 16, 3, activation, [-1.0, 0.0, 2.0][:dim], [1.0, 2.0, 5.0][:dim], fourier, 1.5, g,
               periodic)


def points(dim: int, n: int = 64) -> torch.Tensor:
    lower, upper = torch.tensor([-1.0, 0.0, 2.0][:dim]), torch.tensor([1.0, 2.0, 5.0][:dim])
    return (lower + (upper - lower) * torch.rand(n, dim, generator=torch.Generator().manual_seed(1))).double()


def both(model, x, coords, fields, wanted, engine=None):
    return AutogradEngine()(model, x, coords, fields, wanted), (engine or JetEngine())(model, x, coords, fields, wanted)


def test_every_activation_has_exact_derivatives():
    assert set(DERIVATIVES) == set(ACTIVATIONS)
    z = torch.linspace(-4, 4, 101, dtype=torch.float64, requires_grad=True)
    for name, act in ACTIVATIONS.items():
        (d1,) = torch.autograd.grad(act(z).sum(), z, create_graph=True)
        (d2,) = torch.autograd.grad(d1.sum(), z)
        value, first, second = DERIVATIVES[name](z)
        assert close(value, act(z)) and close(first, d1) and close(second, d2), name


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("fourier", [0, 6])
def test_first_second_and_mixed_derivatives_match_autograd(activation, fourier):
    wanted = ("u_x", "u_z", "v_y", "u_xx", "u_yy", "u_zz", "u_xy", "v_yz", "v_zx")
    auto, jet = both(net(3, activation, fourier), points(3), COORDS, ("u", "v"), wanted)
    for name in ("x", "u", "v") + wanted:
        assert close(jet[name], auto[name]), name


@pytest.mark.parametrize("periodic", [(0,), (0, 2)])
@pytest.mark.parametrize("fourier", [0, 5])
def test_periodic_inputs_have_exact_jets(periodic, fourier):
    """The cos/sin embedding of periodic inputs carries point-dependent first and second rows into the jets."""
    wanted = ("u_x", "u_z", "v_y", "u_xx", "u_yy", "u_zz", "u_xy", "v_yz", "v_zx")
    auto, jet = both(net(3, "tanh", fourier, periodic=periodic), points(3), COORDS, ("u", "v"), wanted)
    for name in ("u", "v") + wanted:
        assert close(jet[name], auto[name]), name


@pytest.mark.parametrize("dim", [2, 3])
def test_laplacian_matches_autograd(dim):
    coords = COORDS[:dim]
    wanted = tuple(f"u_{c}{c}" for c in coords)
    auto, jet = both(net(dim, outputs=1), points(dim), coords, ("u",), wanted)
    assert close(laplacian(jet, "u", coords), laplacian(auto, "u", coords))


def burgers_transform(coords, raw):
    x, t = coords["x"], coords["t"]
    return {"u": -torch.sin(math.pi * x) + t * (1 - x**2) * raw["u"]}


@pytest.mark.parametrize("wanted", [("u_t", "u_x", "u_xx", "u_xt", "u_tt"), ("u_tt",)])
def test_output_transform_is_applied_to_the_jets(wanted):
    model = Constrained(net(2, "sin", outputs=1), burgers_transform, ("x", "t"), ("u",))
    auto, jet = both(model, points(2), ("x", "t"), ("u",), wanted)
    for name in ("u",) + wanted:
        assert close(jet[name], auto[name]), name


@pytest.mark.parametrize("constrained", [False, True])
@pytest.mark.parametrize("periodic", [(), (0,)])
def test_training_gradients_match_autograd(constrained, periodic):
    model = net(2, "tanh", fourier=4 if not periodic else 0, outputs=1, periodic=periodic)
    if constrained:
        model = Constrained(model, burgers_transform, ("x", "t"), ("u",))
    grads = []
    for engine in (AutogradEngine(), JetEngine()):
        d = engine(model, points(2), ("x", "t"), ("u",), ("u_t", "u_x", "u_xx"))
        loss = (d.u_t + d.u * d.u_x - 0.01 * d.u_xx).square().mean()
        grads.append(torch.autograd.grad(loss, list(model.parameters())))
    for a, j in zip(*grads):
        assert close(j, a, 1e-10)


def test_unsupported_models_and_orders_fall_back_to_autograd():
    closed = lambda p: torch.stack([torch.sin(p[:, 0]) * p[:, 1] ** 3], dim=1)  # noqa: E731
    d = JetEngine()(closed, points(2), ("x", "t"), ("u",), ("u_xt",))
    assert close(d.u_xt, 3 * torch.cos(points(2)[:, 0]) * points(2)[:, 1] ** 2)
    auto, jet = both(net(2, outputs=1), points(2), ("x", "t"), ("u",), ("u_xxx", "u_t"))
    assert close(jet.u_xxx, auto.u_xxx) and close(jet.u_t, auto.u_t)


def test_forward_mode_through_the_output_transform_matches_autograd():
    """The path compiled runs take for constrained models, here without compiling."""
    model = Constrained(net(2, "gelu", fourier=3, outputs=1), burgers_transform, ("x", "t"), ("u",))
    auto = AutogradEngine()(model, points(2), ("x", "t"), ("u",), ("u_x", "u_t", "u_xx", "u_xt", "u_tt"))
    value, rows = constrained_jets(model, points(2), (0, 1), ((0, 0), (0, 1), (1, 1)))
    for got, name in zip([value[0], *rows[0]], ("u", "u_x", "u_t", "u_xx", "u_xt", "u_tt")):
        assert close(got, auto[name]), name
    value, rows = constrained_jets(model, points(2), (1,), ((0, 0),))  # t only: positions differ from indices
    assert close(rows[0, 0], auto.u_t) and close(rows[0, 1], auto.u_tt)


def coupled_transform(coords, raw):
    """Affine in the raw outputs, each field reading both: the cached coefficient path (`affine.AffineJets`)."""
    x, y = coords["x"], coords["y"]
    return {"u": x * y**2 + torch.sin(y) * raw["u"] + x**2 * raw["v"], "v": torch.exp(x) * raw["u"] - y * raw["v"]}


def squared_transform(coords, raw):
    """Not affine in the raw output: differentiated at every call."""
    return {"u": coords["x"] + coords["y"] * raw["u"] ** 2, "v": raw["v"]}


@pytest.mark.parametrize("transform, affine", [(coupled_transform, True), (squared_transform, False)])
def test_transforms_affine_in_the_raw_outputs_are_differentiated_once_per_point_set(transform, affine):
    model = Constrained(net(2, "tanh"), transform, ("x", "y"), ("u", "v"))
    wanted = ("u_x", "u_y", "v_x", "u_xx", "u_xy", "u_yy", "v_yy", "v_xy")
    engine = JetEngine()
    for x in (points(2), points(2, 40) + 0.25):  # a redraw: new points, new coefficients
        for use in range(2):  # differentiated at the first use, from kept coefficients (if affine) at the second
            auto, jet = both(model, x, ("x", "y"), ("u", "v"), wanted, engine)
            for name in ("u", "v") + wanted:
                assert close(jet[name], auto[name]), name
            grads = [torch.autograd.grad((d.u_xx + d.v * d.u_y).square().mean(), list(model.parameters()))
                     for d in (auto, jet)]
            for a, j in zip(*grads):
                assert close(j, a, 1e-10)
    assert {isinstance(entry[2], AffineJets) for entry in engine.affine.entries.values()} == {affine}
    x = points(2)
    for _ in range(2):  # a view (a Gauss-Newton block's slice) is not kept
        jet = engine(model, x[5:30], ("x", "y"), ("u", "v"), wanted)
        assert close(jet.u_xy, AutogradEngine()(model, x[5:30], ("x", "y"), ("u", "v"), wanted).u_xy)
    cache = AffineCache(first_use=True)
    assert cache.get(model, x[5:30], [(0,)]) is None and isinstance(cache.get(model, x, [(0,)]), AffineJets) == affine


def test_a_transform_that_reads_a_trainable_parameter_is_differentiated_every_call():
    scale = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    model = Constrained(net(2, "tanh", outputs=1), lambda c, r: {"u": scale * c["x"] + c["t"] * r["u"]}, ("x", "t"),
                        ("u",))
    assert AffineJets.of(model, points(2), [(0,), (1,), (0, 0)]) is None
    engine, x = JetEngine(), points(2)
    for _ in range(2):  # the second use would take kept coefficients, if there were any
        auto, jet = both(model, x, ("x", "t"), ("u",), ("u_x", "u_xx"), engine)
    grads = [torch.autograd.grad(d.u_x.square().mean(), scale)[0] for d in (auto, jet)]
    assert close(jet.u_x, auto.u_x) and close(grads[1], grads[0]) and grads[0] != 0


def test_compiled_jets_match_autograd_and_train_alike(caplog):
    model = Constrained(net(2, "silu", outputs=1), burgers_transform, ("x", "t"), ("u",))
    wanted = ("u_t", "u_x", "u_xx")
    engine, x = JetEngine(compile=True), points(2)
    with caplog.at_level("INFO", logger="pinnkit"):
        for _ in range(2):
            auto, jet = both(model, x, ("x", "t"), ("u",), wanted, engine)
    said = [r for r in caplog.records if r.getMessage().startswith("compiling the forward jets for")]
    assert len(said) == 1 and said[0].console  # once, and on the console too: the progress bar stands still
    grads = [torch.autograd.grad((d.u_t + d.u * d.u_x - 0.01 * d.u_xx).square().mean(), list(model.parameters()))
             for d in (auto, jet)]
    for name in ("u",) + wanted:
        assert close(jet[name], auto[name]), name
    for a, j in zip(*grads):
        assert close(j, a, 1e-10)


BURGERS = Path(__file__).resolve().parents[1] / "problems" / "burgers.toml"


@pytest.mark.parametrize("overrides, engine, compiled", [
    ((), JetEngine, True),  # the shipped schedule is long enough to repay compiling
    (("phases[0].iterations=10", "phases[1].iterations=10"), JetEngine, False),
    (("phases[0].optimizer=adahessian",), JetEngine, False),  # differentiates the gradient: no compiled jets
    (("model.compile=false",), JetEngine, False),
    (("model.engine=autograd",), AutogradEngine, False),
])
def test_config_picks_the_engine(overrides, engine, compiled):
    e = make_engine(load(BURGERS, overrides))
    assert type(e) is engine and getattr(e, "compiled", False) == compiled


@pytest.mark.parametrize("overrides", [("model.engine=autograd", "model.compile=true"),
                                       ("phases[0].optimizer=adahessian", "model.compile=true")])
def test_compiling_what_cannot_be_compiled_is_a_config_error(overrides):
    with pytest.raises(ConfigError, match="model.compile = true"):
        load(BURGERS, overrides)


@pytest.mark.parametrize("activation", ["tanh", "sin"])
@pytest.mark.parametrize("fourier, periodic", [(0, ()), (0, (0,)), (5, ()), (4, (0,))])
def test_fourth_order_jets_along_single_coordinates_match_autograd(activation, fourier, periodic):
    model = net(2, activation, fourier, periodic=periodic)
    x = points(2)
    value, rows = axis_jets(model, x, {0: 4, 1: 2})
    names = ("x", "xx", "xxx", "xxxx", "t", "tt")
    auto = AutogradEngine()(model, x, ("x", "t"), ("u", "v"), [f"{f}_{n}" for f in "uv" for n in names])
    for i, f in enumerate("uv"):
        assert close(value[i], auto[f]), f
        for k, n in enumerate(names):
            assert close(rows[i, k], auto[f"{f}_{n}"]), f"{f}_{n}"


def kdv_transform(coords, raw):
    x, t = coords["x"], coords["t"]
    return {"u": torch.cos(math.pi * x) + torch.sin(t) * (1 + x) * raw["u"]}


@pytest.mark.parametrize("wanted", [("u_t", "u_x", "u_xxx"), ("u_t", "u_x", "u_xx", "u_xxxx"), ("u_xxx", "u_xt")])
@pytest.mark.parametrize("activation", ["tanh", "gelu"])
def test_third_and_fourth_orders_train_like_autograd(wanted, activation):
    """KdV's and Kuramoto-Sivashinsky's derivatives through an affine transform: by jets where they apply
    (tanh, no mixed derivative), by autograd otherwise (gelu, or u_xt beside u_xxx); the same numbers."""
    model = Constrained(net(2, activation, outputs=1, periodic=(0,)), kdv_transform, ("x", "t"), ("u",))
    engine, x = JetEngine(), points(2)
    by_jets = activation == "tanh" and "u_xt" not in wanted
    for _ in range(2):  # beyond the second order the transform's coefficients are kept from the first use on
        auto, jet = both(model, x, ("x", "t"), ("u",), wanted, engine)
        kept = [entry[2] for entry in engine.affine.entries.values()]
        assert [isinstance(k, AffineJets) for k in kept] == ([True] if by_jets else [])
        for name in ("u",) + wanted:
            assert close(jet[name], auto[name]), name
        grads = [torch.autograd.grad(sum(d[name] for name in wanted).square().mean(), list(model.parameters()))
                 for d in (auto, jet)]
        for a, j in zip(*grads):
            assert close(j, a, 1e-10)


def test_the_engine_plans_jets_only_where_they_apply():
    plan = plan_jets(net(2, "tanh"), {(1,), (0,), (0, 0, 0)})
    assert plan[0] == "axis" and plan[1] == [(0,), (0, 0), (0, 0, 0), (1,)] and plan[2] == ({0: 3, 1: 1},)
    assert plan_jets(net(2, "tanh"), {(0,), (0, 1)})[1] == [(0,), (1,), (0, 1)]
    assert plan_jets(net(2, "tanh"), {(0, 0, 0), (0, 1)}) is None  # a mixed derivative beside a third order
    assert plan_jets(net(2, "gelu"), {(0, 0, 0)}) is None and plan_jets(net(2, "tanh"), {(0,) * 5}) is None


def test_compiled_fourth_order_jets_match_autograd():
    model = Constrained(net(2, "tanh", outputs=1, periodic=(0,)), kdv_transform, ("x", "t"), ("u",))
    engine, x, wanted = JetEngine(compile=True), points(2), ("u_t", "u_x", "u_xx", "u_xxxx")
    for _ in range(2):
        auto, jet = both(model, x, ("x", "t"), ("u",), wanted, engine)
        for name in ("u",) + wanted:
            assert close(jet[name], auto[name]), name
