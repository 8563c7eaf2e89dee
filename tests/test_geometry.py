"""Domains: sampled points where they belong, normals unit and outward, deterministic samplers."""
import numpy as np
import pytest
from scipy.stats import qmc

from pinnkit.geometry import SAMPLERS, Box, Interval, Polygon, Rectangle, TimeInterval, sample_unit

L_SHAPE = Polygon([(0, 0), (2, 0), (2, 1), (1, 1), (1, 2), (0, 2)], edge_names=["bottom", "right", "inner", "inner", "top", "left"])
DOMAINS = [Interval(-1, 1), Rectangle((0, 0), (2, 1)), Box((0, 0, 0), (1, 2, 3)), L_SHAPE,
           Rectangle((0, 0), (1, 1)) * TimeInterval(0, 2)]


def rng(seed=0):
    return np.random.default_rng(seed)


@pytest.mark.parametrize("domain", DOMAINS, ids=lambda d: type(d).__name__)
@pytest.mark.parametrize("sampler", SAMPLERS)
def test_interior_points_inside_with_right_shape(domain, sampler):
    pts = domain.sample_interior(257, sampler, rng())
    assert pts.shape == (257, domain.dim)
    assert domain.inside(pts).all()
    assert np.all(pts >= domain.lower) and np.all(pts <= domain.upper)


@pytest.mark.parametrize("domain", DOMAINS, ids=lambda d: type(d).__name__)
def test_boundary_points_on_boundary_and_normals_outward(domain):
    pts, normals = domain.sample_boundary(200, ("boundary",), "sobol", rng())
    assert pts.shape == normals.shape == (200, domain.dim)
    assert domain.on_boundary(pts).all()
    spatial = normals[:, : (domain.dim - 1 if hasattr(domain, "time") else domain.dim)]
    np.testing.assert_allclose(np.linalg.norm(spatial, axis=1), 1.0)
    eps = 1e-4
    corner = np.isclose(pts[:, :, None], np.stack([domain.lower, domain.upper], -1)).sum(axis=(1, 2)) > 1
    ok = ~corner
    if isinstance(domain, Polygon):
        ok &= np.min(np.linalg.norm(pts[:, None] - domain.vertices[None], axis=2), axis=1) > 2 * eps
    assert not domain.inside(pts[ok] + eps * normals[ok], tol=0).any()
    assert domain.inside(pts[ok] - eps * normals[ok], tol=0).all()


def test_rectangle_parts_exact_and_split_by_length():
    r = Rectangle((0, 0), (2, 1))
    pts, normals = r.sample_boundary(600, ("boundary",), "uniform", rng())
    left = pts[:, 0] == 0
    assert left.sum() == 100 and (pts[:, 0] == 2).sum() == 100 and (pts[:, 1] == 1).sum() == 200
    np.testing.assert_array_equal(normals[left], [[-1.0, 0.0]] * 100)
    top, _ = r.sample_boundary(10, ("top",), "lhs", rng())
    assert np.all(top[:, 1] == 1)
    np.testing.assert_allclose(r.boundary_normal(np.array([[1.0, 1.0], [2.0, 0.5]])), [[0, 1], [1, 0]])


def test_box_faces_named_by_axis():
    b = Box((0, 0, 0), (1, 2, 3))
    for part, axis, value in [("left", 0, 0), ("back", 1, 2), ("top", 2, 3)]:
        pts, _ = b.sample_boundary(20, (part,), "sobol", rng())
        assert np.all(pts[:, axis] == value)


def test_l_shape_never_samples_the_removed_square_and_has_right_area():
    pts = L_SHAPE.sample_interior(5000, "uniform", rng())
    assert not np.any((pts[:, 0] > 1) & (pts[:, 1] > 1))
    test = rng(3).uniform(0, 2, size=(200000, 2))
    assert L_SHAPE.inside(test).mean() == pytest.approx(0.75, abs=0.005)
    inner, normals = L_SHAPE.sample_boundary(100, ("inner",), "sobol", rng())
    on_vertical = np.isclose(inner[:, 0], 1) & (inner[:, 1] >= 1)
    on_horizontal = np.isclose(inner[:, 1], 1) & (inner[:, 0] >= 1)
    assert np.all(on_vertical | on_horizontal)
    assert on_vertical.sum() == 50
    np.testing.assert_allclose(normals[on_vertical & ~on_horizontal], [[1.0, 0.0]] * (on_vertical & ~on_horizontal).sum())


def test_clockwise_polygon_gets_outward_normals():
    square = Polygon([(0, 0), (0, 1), (1, 1), (1, 0)], edge_names=["left", "top", "right", "bottom"])
    pts, normals = square.sample_boundary(40, ("top",), "uniform", rng())
    assert np.all(pts[:, 1] == 1)
    np.testing.assert_allclose(normals, [[0.0, 1.0]] * 40)


def test_space_time_initial_and_boundary():
    d = Interval(-1, 1) * TimeInterval(0, 1)
    ic = d.sample_initial(50, "sobol", rng())
    assert np.all(ic[:, 1] == 0) and np.all(np.abs(ic[:, 0]) <= 1)
    bc, normals = d.sample_boundary(50, ("left", "right"), "sobol", rng())
    assert np.all(np.abs(bc[:, 0]) == 1) and np.all((bc[:, 1] >= 0) & (bc[:, 1] <= 1))
    np.testing.assert_array_equal(normals[:, 1], 0)
    np.testing.assert_array_equal(normals[:, 0], np.sign(bc[:, 0]))


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_samplers_deterministic_given_seed(sampler):
    a, b, c = (sample_unit(100, 3, sampler, rng(s)) for s in (1, 1, 2))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_sobol_has_lower_discrepancy_than_uniform():
    assert qmc.discrepancy(sample_unit(512, 2, "sobol", rng())) < qmc.discrepancy(sample_unit(512, 2, "uniform", rng()))


@pytest.mark.parametrize("make, message", [
    (lambda: Interval(1, 1), "need lower < upper"),
    (lambda: Rectangle((0, 2), (1, 1)), "need lower < upper"),
    (lambda: Polygon([(0, 0), (1, 1)]), "at least 3 vertices"),
    (lambda: Polygon([(0, 0), (1, 1), (2, 2)]), "no area"),
    (lambda: TimeInterval(1, 0), "need t0 < t1"),
    (lambda: sample_unit(5, 2, "halton", rng()), "unknown sampler 'halton' (valid: uniform, lhs, sobol)"),
    (lambda: sample_unit(0, 2, "sobol", rng()), "must be positive"),
    (lambda: Rectangle((0, 0), (1, 1)).sample_boundary(5, ("lid",), "sobol", rng()), "unknown boundary part 'lid'"),
])
def test_bad_construction_and_names(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()
