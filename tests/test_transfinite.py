"""Coons (transfinite) interpolation on a rectangle: the lift equals the data on every edge and reproduces
any a(x) + b(y) inside, the bubble vanishes exactly on the edges, and Kovasznay's hard constraint holds
the exact velocity on the boundary for an untrained network."""
import math

import numpy as np
import torch

from pinnkit.build import make_model
from pinnkit.config import load
from pinnkit.geometry import Coons, Rectangle
from pinnkit.pdes.navier_stokes import Kovasznay

PATCH = Coons((-1.0, 0.5), (2.0, 3.0))
RECTANGLE = Rectangle(PATCH.lower, PATCH.upper)


def columns(points: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    p = torch.tensor(points, dtype=torch.float64)
    return p[:, 0], p[:, 1]


def edges() -> tuple[torch.Tensor, torch.Tensor]:
    points, _ = RECTANGLE.sample_boundary(400, ("boundary",), "sobol", np.random.default_rng(0))
    return columns(np.vstack([points, [PATCH.lower, PATCH.upper, (-1.0, 3.0), (2.0, 0.5)]]))


def inside() -> tuple[torch.Tensor, torch.Tensor]:
    return columns(RECTANGLE.sample_interior(500, "sobol", np.random.default_rng(1)))


def wavy(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.exp(x) * torch.cos(3 * y) + x * y**2


def test_lift_equals_the_data_on_every_edge_and_corner():
    x, y = edges()
    np.testing.assert_allclose(PATCH.lift(wavy, x, y).numpy(), wavy(x, y).numpy(), rtol=0, atol=1e-13)


def test_lift_reproduces_a_sum_of_one_variable_functions_everywhere():
    x, y = inside()
    def separable(x, y):
        return torch.sin(3 * x) + y**3
    np.testing.assert_allclose(PATCH.lift(separable, x, y).numpy(), separable(x, y).numpy(), rtol=0, atol=1e-13)
    assert torch.max(torch.abs(PATCH.lift(wavy, x, y) - wavy(x, y))) > 1e-2  # not an identity


def test_bubble_is_zero_on_the_edges_positive_inside_and_one_at_the_centre():
    x, y = edges()
    assert torch.max(torch.abs(PATCH.bubble(x, y))) < 1e-15
    x, y = inside()
    assert torch.min(PATCH.bubble(x, y)) > 0 and torch.max(PATCH.bubble(x, y)) <= 1
    centre = torch.tensor([0.5]), torch.tensor([1.75])
    assert math.isclose(float(PATCH.bubble(*centre)), 1.0, abs_tol=1e-15)


def test_kovasznay_hard_constraint_holds_the_exact_velocity_on_the_boundary():
    config = load({"problem": {"name": "kovasznay"}, "model": {"hard_constraints": True},
                   "phases": [{"optimizer": "adam", "iterations": 1}]})
    problem = Kovasznay()
    model = make_model(config, problem, problem.domain()).double()
    points, _ = problem.domain().sample_boundary(300, ("boundary",), "sobol", np.random.default_rng(0))
    out = model(torch.tensor(points))
    exact = problem.reference(*columns(points))
    for k, field in enumerate(("u", "v")):
        np.testing.assert_allclose(out[:, k].detach().numpy(), exact[field].numpy(), rtol=0, atol=1e-12)
    interior = torch.tensor(problem.domain().sample_interior(100, "sobol", np.random.default_rng(1)))
    gap = model(interior)[:, 0] - problem.reference(interior[:, 0], interior[:, 1])["u"]
    assert torch.max(torch.abs(gap)) > 1e-3  # the network, not the reference, inside
