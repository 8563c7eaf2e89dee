"""Domains: sampled points where they belong, normals unit and outward, split by measure, deterministic samplers."""
import re

import numpy as np
import pytest
from scipy.stats import qmc

from pinnkit.geometry import SAMPLERS, Box, Interval, Polygon, Rectangle, TimeInterval, sample_unit

L_SHAPE = Polygon([(0, 0), (2, 0), (2, 1), (1, 1), (1, 2), (0, 2)],
                  edge_names=["bottom", "right", "inner", "inner", "top", "left"])
DOMAINS = {
    "interval": Interval(-1, 1),
    "rectangle": Rectangle((0, 0), (2, 1)),
    "box": Box((0, 0, 0), (1, 2, 3)),
    "l_shape": L_SHAPE,
    "rectangle_x_time": Rectangle((0, 0), (1, 1)) * TimeInterval(0, 2),
    "l_shape_x_time": L_SHAPE * TimeInterval(1, 3),
}


def rng(seed=0):
    return np.random.default_rng(seed)


def in_l_shape(p):
    """Independent membership of the L: the square [0, 2]^2 less the open quadrant x > 1, y > 1."""
    return np.all((p >= 0) & (p <= 2), axis=1) & ~((p[:, 0] > 1) & (p[:, 1] > 1))


@pytest.mark.filterwarnings("error")  # Sobol with n not a power of two must stay quiet
@pytest.mark.parametrize("name", DOMAINS)
@pytest.mark.parametrize("sampler", SAMPLERS)
def test_interior_points_inside_with_right_shape(name, sampler):
    domain = DOMAINS[name]
    pts = domain.sample_interior(257, sampler, rng())
    assert pts.shape == (257, domain.dim) and pts.dtype == np.float64
    assert domain.inside(pts).all()
    assert np.all(pts >= domain.lower) and np.all(pts <= domain.upper)
    if "l_shape" in name:
        assert in_l_shape(pts[:, :2]).all()


def spatial_dim(domain):
    return domain.spatial.dim if hasattr(domain, "spatial") else domain.dim


@pytest.mark.parametrize("name", DOMAINS)
def test_boundary_points_on_boundary_and_normals_unit_and_outward(name):
    domain = DOMAINS[name]
    pts, normals = domain.sample_boundary(201, ("boundary",), "sobol", rng())
    assert pts.shape == normals.shape == (201, domain.dim)
    assert domain.on_boundary(pts).all()
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0)
    np.testing.assert_allclose(domain.boundary_normal(pts), normals)
    d = spatial_dim(domain)
    x, n, eps = pts[:, :d], normals[:, :d], 1e-4
    bounds = np.stack([domain.lower[:d], domain.upper[:d]], -1)
    away = np.isclose(x[:, :, None], bounds, atol=2 * eps).sum(axis=(1, 2)) <= 1  # away from box edges/corners
    if isinstance(getattr(domain, "spatial", domain), Polygon):
        away &= np.min(np.linalg.norm(x[:, None] - L_SHAPE.vertices[None], axis=2), axis=1) > 2 * eps
        truth = in_l_shape
    else:
        truth = lambda p: np.all((p >= domain.lower[:d]) & (p <= domain.upper[:d]), axis=1)  # noqa: E731
    assert away.sum() > 150
    assert not truth(x[away] + eps * n[away]).any()
    assert truth(x[away] - eps * n[away]).all()


def test_rectangle_parts_exact_and_split_by_length():
    r = Rectangle((0, 0), (2, 1))
    pts, normals = r.sample_boundary(600, ("boundary",), "uniform", rng())
    counts = {side: np.sum(pts[:, axis] == value)
              for side, axis, value in [("left", 0, 0), ("right", 0, 2), ("bottom", 1, 0), ("top", 1, 1)]}
    assert counts == {"left": 100, "right": 100, "bottom": 200, "top": 200}
    np.testing.assert_array_equal(normals[pts[:, 0] == 0], [[-1.0, 0.0]] * 100)
    np.testing.assert_array_equal(normals[pts[:, 1] == 1], [[0.0, 1.0]] * 200)
    for n in (1, 7, 13, 1001):
        assert len(r.sample_boundary(n, ("left", "top"), "lhs", rng())[0]) == n
    top, _ = r.sample_boundary(10, "top", "lhs", rng())
    assert np.all(top[:, 1] == 1) and np.all((top[:, 0] >= 0) & (top[:, 0] <= 2))


def test_box_faces_named_by_axis_and_split_by_area():
    b = Box((0, 0, 0), (1, 2, 3))
    for part, axis, value, sign in [("left", 0, 0, -1), ("back", 1, 2, 1), ("bottom", 2, 0, -1), ("top", 2, 3, 1)]:
        pts, normals = b.sample_boundary(20, (part,), "sobol", rng())
        assert np.all(pts[:, axis] == value)
        np.testing.assert_array_equal(normals, np.eye(3)[[axis] * 20] * sign)
    pts, _ = b.sample_boundary(220, ("boundary",), "sobol", rng())  # face areas 6, 6, 3, 3, 2, 2 of 22
    assert [np.sum(pts[:, 0] == 0), np.sum(pts[:, 1] == 0), np.sum(pts[:, 2] == 3)] == [60, 30, 20]


def test_on_boundary_inside_and_normals_at_given_points():
    r = Rectangle((0, 0), (2, 1))
    pts = np.array([[0.0, 0.5], [1.0, 1.0], [2.0, 0.3], [1.0, 0.5], [3.0, 1.0]])
    np.testing.assert_array_equal(r.on_boundary(pts), [True, True, True, False, False])
    np.testing.assert_array_equal(r.on_boundary(pts, ("left", "top")), [True, True, False, False, False])
    np.testing.assert_array_equal(r.inside(pts), [True, True, True, True, False])
    np.testing.assert_allclose(r.boundary_normal(pts[:3]), [[-1, 0], [0, 1], [1, 0]])
    np.testing.assert_array_equal(Interval(0, 1).boundary_normal(np.array([[0.0], [1.0]])), [[-1.0], [1.0]])
    assert Interval(0, 1).inside(np.array([[1 + 1e-12]]))[0] and not Interval(0, 1).inside(np.array([[1.001]]))[0]


def test_l_shape_interior_area_and_inside_against_truth():
    pts = L_SHAPE.sample_interior(5000, "uniform", rng())
    assert not np.any((pts[:, 0] > 1) & (pts[:, 1] > 1))
    box = rng(3).uniform(0, 2, size=(100000, 2))
    accepted = L_SHAPE.inside(box, tol=0.0)
    np.testing.assert_array_equal(accepted, in_l_shape(box))
    assert accepted.mean() == pytest.approx(0.75, abs=0.005)
    assert L_SHAPE.area == 3.0
    probe = np.array([[1.0, 1.5], [1.5, 1.0], [1.5, 1.5], [0.5, 1.5], [1.0, 1.0], [2.0, 2.0]])
    np.testing.assert_array_equal(L_SHAPE.on_boundary(probe, ("inner",)), [True, True, False, False, True, False])
    np.testing.assert_array_equal(L_SHAPE.inside(probe), [True, True, False, True, True, False])
    np.testing.assert_allclose(L_SHAPE.boundary_normal(probe[:2]), [[1, 0], [0, 1]])


def test_l_shape_part_of_two_edges_is_their_union():
    inner, normals = L_SHAPE.sample_boundary(100, ("inner",), "sobol", rng())
    vertical = (inner[:, 0] == 1) & (inner[:, 1] >= 1) & (inner[:, 1] <= 2)
    horizontal = (inner[:, 1] == 1) & (inner[:, 0] >= 1) & (inner[:, 0] <= 2)
    assert np.all(vertical | horizontal)
    assert 45 <= vertical.sum() <= 55  # equal lengths
    np.testing.assert_array_equal(normals[vertical & ~horizontal], [[1.0, 0.0]] * np.sum(vertical & ~horizontal))
    np.testing.assert_array_equal(normals[horizontal & ~vertical], [[0.0, 1.0]] * np.sum(horizontal & ~vertical))
    assert L_SHAPE.parts == ("bottom", "right", "inner", "top", "left")


def test_polygon_default_names_split_by_edge_length():
    triangle = Polygon([(0, 0), (4, 0), (4, 3)])  # edges 4, 3, 5
    assert triangle.parts == ("edge0", "edge1", "edge2")
    pts, normals = triangle.sample_boundary(120, ("boundary",), "uniform", rng())
    on_bottom, on_right = pts[:, 1] == 0, pts[:, 0] == 4
    assert on_bottom.sum() == 40 and on_right.sum() == 30
    hyp = ~on_bottom & ~on_right
    np.testing.assert_allclose(pts[hyp, 1], 0.75 * pts[hyp, 0])
    np.testing.assert_allclose(normals[hyp], [[-0.6, 0.8]] * 50)


def test_clockwise_polygon_keeps_names_and_gets_outward_normals():
    square = Polygon([(0, 0), (0, 1), (1, 1), (1, 0)], edge_names=["left", "top", "right", "bottom"])
    assert square.parts == ("left", "top", "right", "bottom") and square.area == 1.0
    for part, axis, value, normal in [("top", 1, 1, [0, 1]), ("left", 0, 0, [-1, 0]), ("bottom", 1, 0, [0, -1])]:
        pts, normals = square.sample_boundary(40, (part,), "uniform", rng())
        assert np.all(pts[:, axis] == value)
        np.testing.assert_allclose(normals, [normal] * 40)


def test_space_time_initial_boundary_and_interior():
    d = Interval(-1, 1) * TimeInterval(0.5, 1)
    assert d.dim == 2 and d.parts == ("left", "right") and (d.time.t0, d.time.t1) == (0.5, 1.0)
    np.testing.assert_array_equal([d.lower, d.upper], [[-1, 0.5], [1, 1]])
    ic = d.sample_initial(50, "sobol", rng())
    assert ic.shape == (50, 2) and np.all(ic[:, 1] == 0.5) and np.all(np.abs(ic[:, 0]) <= 1)
    bc, normals = d.sample_boundary(50, ("left", "right"), "sobol", rng())
    assert np.all(np.abs(bc[:, 0]) == 1) and np.all((bc[:, 1] >= 0.5) & (bc[:, 1] <= 1))
    np.testing.assert_array_equal(normals, np.stack([np.sign(bc[:, 0]), np.zeros(50)], 1))
    wall, _ = (L_SHAPE * TimeInterval(0, 1)).sample_boundary(64, ("inner",), "lhs", rng())
    assert L_SHAPE.on_boundary(wall[:, :2], ("inner",)).all() and np.all((wall[:, 2] >= 0) & (wall[:, 2] <= 1))
    assert np.ptp(wall[:, 2]) > 0.9  # times spread over the interval


def test_space_time_interior_is_a_joint_low_discrepancy_draw():
    d = Rectangle((0, 0), (1, 1)) * TimeInterval(0, 1)
    assert qmc.discrepancy(d.sample_interior(256, "sobol", rng())) < 0.5 * qmc.discrepancy(rng().random((256, 3)))


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_samplers_deterministic_given_seed(sampler):
    a, b, c = (sample_unit(100, 3, sampler, rng(s)) for s in (1, 1, 2))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert np.all((a >= 0) & (a < 1))
    p, q, r = (L_SHAPE.sample_interior(50, sampler, rng(s)) for s in (1, 1, 2))
    np.testing.assert_array_equal(p, q)
    assert not np.allclose(p, r)


def test_sobol_has_lower_discrepancy_than_uniform_and_lhs_is_stratified():
    assert qmc.discrepancy(sample_unit(500, 2, "sobol", rng())) < qmc.discrepancy(sample_unit(500, 2, "uniform", rng()))
    strata = np.sort(np.floor(sample_unit(40, 3, "lhs", rng()) * 40), axis=0)
    np.testing.assert_array_equal(strata, np.tile(np.arange(40.0)[:, None], (1, 3)))


@pytest.mark.parametrize("make, message", [
    (lambda: Interval(1, 1), "Interval: need finite lower < upper on every axis, axis 0 has 1.0 and 1.0"),
    (lambda: Rectangle((0, 2), (1, 1)), "axis 1 has 2.0 and 1.0"),
    (lambda: Box((0, 0), (1, 1)), "Box: need 3 lower and 3 upper coordinates"),
    (lambda: Polygon([(0, 0), (1, 1)]), "at least 3 finite vertices"),
    (lambda: Polygon([(0, 0), (1, 1), (2, 2)]), "enclose no area"),
    (lambda: Polygon([(0, 0), (1, 0), (1, 0), (0, 1)]), "edge 1 has zero length"),
    (lambda: Polygon([(0, 0), (3, 0), (0, 1), (1, 2)]), "edges 1 and 3 cross"),
    (lambda: Polygon([(0, 0), (2, 0), (2, 2), (1, 0), (0, 2)]), "vertex 3 [1.0, 0.0] lies on edge 0"),
    (lambda: Polygon([(0, 0), (1, 0), (0, 1)], ["a", "b"]), "3 edges but 2 edge names"),
    (lambda: Polygon([(0, 0), (1, 0), (0, 1)], ["a", "boundary", "c"]), "'boundary' is reserved"),
    (lambda: TimeInterval(1, 0), "need finite t0 < t1, got t0=1, t1=0"),
    (lambda: sample_unit(5, 2, "halton", rng()), "unknown sampler 'halton' (valid: uniform, lhs, sobol)"),
    (lambda: sample_unit(0, 2, "sobol", rng()), "must be positive, got 0"),
    (lambda: Interval(0, 1).sample_interior(-1, "lhs", rng()), "must be positive, got -1"),
    (lambda: L_SHAPE.sample_boundary(0, ("inner",), "lhs", rng()), "must be positive, got 0"),
    (lambda: Rectangle((0, 0), (1, 1)).sample_boundary(5, ("lid",), "sobol", rng()),
     "unknown boundary part 'lid' (valid: boundary, left, right, bottom, top)"),
    (lambda: (L_SHAPE * TimeInterval(0, 1)).on_boundary(np.zeros((1, 3)), ("right", "door")),
     "unknown boundary part 'door' (valid: boundary, bottom, right, inner, top, left)"),
    (lambda: Rectangle((0, 0), (1, 1)).inside(np.zeros((4, 3))), "points must have shape (n, 2), got (4, 3)"),
])
def test_bad_construction_and_names(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()
