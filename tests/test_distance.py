"""Approximate distance functions: exactly zero on the Dirichlet parts, positive inside, normalized (the
gradient on a part is its inward normal), differentiable by autograd and forward mode, and a hard
constraint that holds exactly through an output transform."""
import re

import numpy as np
import pytest
import torch
from torch.func import jvp

from pinnkit.geometry import Annulus, Ball, Box, Disk, DistanceFunction, Interval, Polygon, Rectangle, TimeInterval
from pinnkit.nets import MLP, Constrained
from pinnkit.operators import AutogradEngine, JetEngine

CHANNEL = (Rectangle((0, 0), (4, 2)) - Disk((1, 1), 0.3)).renamed(
    left="inlet", right="outlet", bottom="walls", top="walls", circle="cylinder")
L_SHAPE = Polygon([(0, 0), (2, 0), (2, 1), (1, 1), (1, 2), (0, 2)],
                  edge_names=["bottom", "right", "inner", "inner", "top", "left"])
L_UNION = Rectangle((0, 0), (2, 1)) | Rectangle((0, 0), (1, 2))
TWO_DISKS = Disk((0, 0), 1) | Disk((1, 0), 1)

CASES = {  # domain, Dirichlet parts
    "interval": (Interval(-1, 2), ("left", "right")),
    "rectangle": (Rectangle((0, 0), (2, 1)), ("boundary",)),
    "box": (Box((0, 0, 0), (1, 2, 3)), ("left", "top", "back")),
    "l_shape": (L_SHAPE, ("inner", "bottom")),
    "disk": (Disk((0.5, -1), 2), ("boundary",)),
    "annulus": (Annulus((1, 2), 0.5, 1.5), ("inner", "outer")),
    "ball": (Ball((0, 1, 2), 1.5), ("sphere",)),
    "channel": (CHANNEL, ("inlet", "walls", "cylinder")),
    "l_union": (L_UNION, ("boundary",)),
    "two_disks": (TWO_DISKS, ("circle",)),
    "lens": (Disk((0, 0), 1) & Disk((1, 0), 1), ("circle",)),
    "box_minus_ball": (Box((0, 0, 0), (1, 1, 1)) - Ball((1, 1, 1), 0.5), ("sphere", "left")),
    # unions whose circles survive whole while the domain reaches past them
    "disk_and_square": (Disk((0, 0), 1) | Rectangle((2, -1), (3, 1)), ("circle", "left")),
    "ring_and_core": (Annulus((0, 0), 1, 2) | Disk((0, 0), 0.5), ("inner", "circle")),
    "ball_and_box": (Ball((0, 0, 0), 1) | Box((2, -1, -1), (3, 1, 1)), ("sphere", "left")),
}


def rng(seed=0):
    return np.random.default_rng(seed)


def tensor(points, grad=False):
    return torch.tensor(points, dtype=torch.float64, requires_grad=grad)


@pytest.mark.parametrize("name", CASES)
def test_zero_on_the_dirichlet_parts_and_positive_inside(name):
    domain, parts = CASES[name]
    phi = domain.distance_function(parts)
    on, _ = domain.sample_boundary(400, parts, "sobol", rng())
    assert torch.max(torch.abs(phi(tensor(on)))) < 1e-12
    inside = domain.sample_interior(2000, "sobol", rng())
    inside = inside[~domain.on_boundary(inside, parts, tol=1e-9)]
    assert len(inside) > 1900 and torch.all(phi(tensor(inside)) > 0)


@pytest.mark.parametrize("name", ["channel", "l_shape", "box"])
def test_positive_on_the_other_parts_away_from_where_they_meet_the_dirichlet_ones(name):
    domain, parts = CASES[name]
    others = tuple(p for p in domain.parts if p not in parts)
    points, _ = domain.sample_boundary(500, others, "sobol", rng())
    away = domain.boundary_distance(points, parts) > 1e-6
    assert away.sum() > 450 and torch.all(domain.distance_function(parts)(tensor(points[away])) > 0)


def test_disk_distance_function_is_the_circle_formula():
    """phi = (r^2 - |x - c|^2) / (2 r) = d (2 r - d) / (2 r) for d = r - |x - c|, the distance to the circle."""
    disk = Disk((0.5, -1), 2)
    x = disk.sample_interior(500, "uniform", rng())
    d = -disk.signed_distance(x)
    np.testing.assert_allclose(disk.distance_function()(tensor(x)).numpy(), d * (4 - d) / 4, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("domain, part, center, radius", [
    (Disk((0.5, -1), 2), "circle", (0.5, -1), 2.0),
    (CHANNEL, "cylinder", (1, 1), 0.3),
    (Annulus((1, 2), 0.5, 1.5), "inner", (1, 2), 0.5),
])
def test_gradient_on_a_circle_is_the_inward_normal(domain, part, center, radius):
    points, normals = domain.sample_boundary(300, (part,), "sobol", rng())
    x = tensor(points, grad=True)
    gradient, = torch.autograd.grad(domain.distance_function((part,))(x).sum(), x)
    np.testing.assert_allclose(gradient.numpy(), -normals, atol=1e-12)
    np.testing.assert_allclose(np.abs(np.linalg.norm(points - center, axis=1) - radius), 0, atol=1e-12)


@pytest.mark.parametrize("domain, parts, corners", [
    (CHANNEL, ("inlet", "walls", "cylinder"), [(0, 0), (0, 2), (4, 0), (4, 2)]),
    (L_SHAPE, ("inner",), L_SHAPE.vertices),
    (Polygon([(0, 0), (4, 0), (4, 3)]), ("edge2",), [(0, 0), (4, 3)]),
    (L_UNION, ("top",), L_SHAPE.vertices),
])
def test_gradient_at_a_straight_part_is_the_inward_normal(domain, parts, corners):
    """phi is |distance| across a straight piece, so its gradient there is the one-sided limit from inside,
    read 1e-9 inside (points within 1e-3 of a corner, where the other piece's share is still felt, left out)."""
    points, normals = domain.sample_boundary(400, parts, "sobol", rng())
    straight = np.abs(np.linalg.norm(points - 1, axis=1) - 0.3) > 1e-6  # not on the channel's cylinder
    far = np.min(np.linalg.norm(points[:, None] - np.asarray(corners, float)[None], axis=2), axis=1) > 1e-3
    keep = straight & far
    x = tensor(points[keep] - 1e-9 * normals[keep], grad=True)
    gradient, = torch.autograd.grad(domain.distance_function(parts)(x).sum(), x)
    assert keep.sum() > 100
    np.testing.assert_allclose(gradient.numpy(), -normals[keep], atol=1e-6)


def test_union_trims_pieces_inside_it_so_phi_stays_positive_there():
    seam = tensor([[x, 1.0] for x in np.linspace(0.01, 0.99, 50)] + [[1.0, y] for y in np.linspace(0.01, 0.99, 50)])
    assert torch.all(L_UNION.distance_function()(seam) > 0)  # the rectangles' faces inside the union
    cut_arcs = tensor(np.stack([np.cos(t := np.linspace(-1, 1, 50)), np.sin(t)], 1))  # disk 0's circle in disk 1
    assert torch.all(TWO_DISKS.distance_function()(cut_arcs) > 0)
    assert len(L_UNION.boundary_pieces(("top",))) == 2  # (1, 1)-(2, 1) and (0, 2)-(1, 2)


def test_forward_mode_autograd_and_second_derivatives_agree():
    phi = CHANNEL.distance_function(("inlet", "cylinder"))
    x = tensor(CHANNEL.sample_interior(64, "sobol", rng()))
    v = torch.randn_like(x, generator=torch.Generator().manual_seed(0))
    value, tangent = jvp(phi, (x,), (v,))
    xg = x.clone().requires_grad_(True)
    gradient, = torch.autograd.grad(phi(xg).sum(), xg)
    np.testing.assert_allclose(value.numpy(), phi(x).numpy(), rtol=0, atol=0)
    np.testing.assert_allclose(tangent.numpy(), (gradient * v).sum(1).numpy(), rtol=1e-12, atol=1e-14)
    assert torch.autograd.gradcheck(phi, (xg[:8],)) and torch.autograd.gradgradcheck(phi, (xg[:8],))
    disk = Disk((0.5, -1), 2).distance_function()
    xd = tensor(Disk((0.5, -1), 2).sample_interior(16, "sobol", rng()), grad=True)
    first, = torch.autograd.grad(disk(xd).sum(), xd, create_graph=True)
    laplacian = sum(torch.autograd.grad(first[:, i].sum(), xd, retain_graph=True)[0][:, i] for i in range(2))
    np.testing.assert_allclose(laplacian.detach().numpy(), -1.0, rtol=1e-12)  # -2 / r in 2D


def test_follows_the_input_dtype():
    phi = CHANNEL.distance_function()
    x = torch.tensor([[0.5, 0.5], [3.0, 1.5]], dtype=torch.float32)
    assert phi(x).dtype == torch.float32
    np.testing.assert_allclose(phi(x).numpy(), phi(x.double()).numpy(), rtol=1e-5)


def test_hard_constraint_makes_the_network_zero_on_the_dirichlet_parts():
    phi = CHANNEL.distance_function(("inlet", "walls", "cylinder"))
    net = MLP(2, 1, 16, 2, "tanh", CHANNEL.lower, CHANNEL.upper, generator=torch.Generator().manual_seed(0)).double()
    model = Constrained(net, lambda c, raw: {"u": phi(torch.cat([c["x"], c["y"]], 1))[:, None] * raw["u"]},
                        ("x", "y"), ("u",))
    wall, _ = CHANNEL.sample_boundary(300, ("inlet", "walls", "cylinder"), "sobol", rng())
    outlet, _ = CHANNEL.sample_boundary(100, ("outlet",), "sobol", rng())
    assert torch.max(torch.abs(model(tensor(wall)))) < 1e-12
    assert torch.min(torch.abs(model(tensor(outlet)))) > 0 and torch.min(torch.abs(net(tensor(wall)))) > 0
    x = tensor(CHANNEL.sample_interior(32, "sobol", rng()))
    jets = JetEngine()(model, x, ("x", "y"), ("u",), ("u_xx", "u_yy", "u_x"))
    exact = AutogradEngine()(model, x, ("x", "y"), ("u",), ("u_xx", "u_yy", "u_x"))
    for name in ("u_xx", "u_yy", "u_x"):
        np.testing.assert_allclose(jets[name].detach().numpy(), exact[name].detach().numpy(), rtol=1e-9, atol=1e-12)


def test_space_time_distance_reads_the_spatial_columns():
    flow = CHANNEL * TimeInterval(0, 2)
    points, _ = flow.sample_boundary(200, ("cylinder",), "sobol", rng())
    phi = flow.distance_function(("cylinder",))
    assert torch.max(torch.abs(phi(tensor(points)))) < 1e-12
    x = tensor(flow.sample_interior(50, "sobol", rng()))
    np.testing.assert_array_equal(phi(x).numpy(), CHANNEL.distance_function(("cylinder",))(x[:, :2]).numpy())


@pytest.mark.parametrize("make, message", [
    (lambda: (Box((0, 0, 0), (2, 1, 1)) | Box((0, 0, 0), (1, 2, 1))).distance_function(),
     "Union: no distance function to 3D parts a union cuts (part 'left')"),
    (lambda: DistanceFunction([]), "DistanceFunction: no boundary pieces"),
    (lambda: Disk((0, 0), 1).distance_function(m=0.5), "need m >= 1, got 0.5"),
    (lambda: CHANNEL.distance_function(("circle",)), "unknown boundary part 'circle'"),
])
def test_refusals(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()
