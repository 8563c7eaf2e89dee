"""Quadrature rules on boundary parts: lengths, areas and integrals of polynomials and trigonometric
functions against their closed forms, on boxes, polygons, round shapes and constructed shapes, with the
outward normals; and the refusals."""
import numpy as np
import pytest

from pinnkit.geometry import Annulus, Ball, Box, Disk, Interval, Polygon, Rectangle, TimeInterval
from pinnkit.geometry.quadrature import along, gauss, sphere

L_SHAPE = Polygon([(0, 0), (1, 0), (1, 0.5), (0.5, 0.5), (0.5, 1), (0, 1)],
                  edge_names=("bottom", "right", "inner", "inner", "top", "left"))
CHANNEL = (Rectangle((0, 0), (2.2, 0.41)) - Disk((0.2, 0.2), 0.05)).renamed(
    left="inlet", right="outlet", bottom="walls", top="walls", circle="cylinder")
BITTEN = Rectangle((0, 0), (2, 1)) - Disk((1, 0), 0.5)  # the disk cuts the bottom edge: half a circle survives


def integral(domain, parts, f, n=8):
    points, normals, weights = domain.quadrature(parts, n)
    return float(weights @ f(points, normals))


@pytest.mark.parametrize("domain, parts, length", [
    (Rectangle((0, 0), (2, 1)), ("boundary",), 6.0),
    (Rectangle((0, 0), (2, 1)), ("left", "top"), 3.0),
    (L_SHAPE, ("inner",), 1.0),
    (Disk((1, 2), 0.5), ("circle",), np.pi),
    (Annulus((0, 0), 0.5, 2), ("inner", "outer"), 5 * np.pi),
    (CHANNEL, ("cylinder",), 0.1 * np.pi),
    (CHANNEL, ("walls",), 4.4),
    (BITTEN, ("bottom",), 1.0),
    (BITTEN, ("circle",), 0.5 * np.pi),
    (Rectangle((0, 0), (2, 1)) | Rectangle((0, 0), (1, 2)), ("boundary",), 8.0),
    (Interval(-1, 3), ("boundary",), 2.0),
])
def test_weights_sum_to_the_length_of_the_parts(domain, parts, length):
    _, _, weights = domain.quadrature(parts, 5)
    assert weights.sum() == pytest.approx(length, rel=1e-12)


def test_gauss_rules_integrate_polynomials_along_edges_exactly():
    """x^2 over the square's boundary: 0 (left) + 1 (right) + 1/3 (bottom) + 1/3 (top): Gauss with 2 nodes
    is exact to degree 3, so 2 nodes an edge suffice (4 for degree 7)."""
    square = Rectangle((0, 0), (1, 1))
    assert integral(square, ("boundary",), lambda p, n: p[:, 0] ** 2, n=2) == pytest.approx(5 / 3, rel=1e-14)
    assert integral(square, ("boundary",), lambda p, n: p[:, 0] ** 7 * p[:, 1] ** 2, n=4) == pytest.approx(
        1 / 3 + 1 / 8, rel=1e-14)  # right: int y^2 = 1/3, top: int x^7 = 1/8, zero on the others
    s, w = gauss(3)
    assert w.sum() == pytest.approx(1.0) and np.all((s > 0) & (s < 1))


def test_divergence_theorem_on_a_polygon():
    """The flux of (x, y) out of the L-shape is twice its area (0.75): normals and weights together."""
    flux = integral(L_SHAPE, ("boundary",), lambda p, n: np.sum(p * n, axis=1), n=1)
    assert flux == pytest.approx(1.5, rel=1e-14)


def test_trapezoid_in_angle_on_a_circle_is_spectrally_accurate():
    """x^2 over the circle of radius r around (cx, cy): 2 pi r cx^2 + pi r^3; exp(cos theta) to rounding with
    24 nodes (2 pi r I0(1))."""
    disk = Disk((0.7, -0.2), 1.5)
    value = integral(disk, ("circle",), lambda p, n: p[:, 0] ** 2, n=8)
    assert value == pytest.approx(2 * np.pi * 1.5 * 0.49 + np.pi * 1.5**3, rel=1e-14)
    smooth = integral(disk, ("circle",), lambda p, n: np.exp(n[:, 0]), n=24)
    assert smooth == pytest.approx(2 * np.pi * 1.5 * 1.2660658777520082, rel=1e-14)
    assert integral(disk, ("circle",), lambda p, n: n[:, 0] * p[:, 0], n=8) == pytest.approx(np.pi * 1.5**2)


def test_a_hole_keeps_its_exact_rule_with_normals_into_the_hole():
    points, normals, weights = CHANNEL.quadrature(("cylinder",), 64)
    np.testing.assert_allclose(normals, -(points - (0.2, 0.2)) / 0.05, atol=1e-14)
    np.testing.assert_allclose(np.linalg.norm(points - (0.2, 0.2), axis=1), 0.05, rtol=1e-15)
    assert weights @ (points[:, 0] ** 2) == pytest.approx(2 * np.pi * 0.05 * 0.04 + np.pi * 0.05**3, rel=1e-13)


def test_cut_parts_are_integrated_over_what_survives():
    """The disk of radius 1/2 at (1, 0) bites the bottom of [0, 2] x [0, 1]: the bottom keeps [0, 0.5] and
    [1.5, 2], the circle its upper half; the cut points are found by bisection, to about 1e-13."""
    bottom = integral(BITTEN, ("bottom",), lambda p, n: p[:, 0] ** 2, n=2)
    assert bottom == pytest.approx(0.5**3 / 3 + (8 - 1.5**3) / 3, rel=1e-12)
    points, normals, weights = BITTEN.quadrature(("circle",), 12)
    assert np.all(points[:, 1] >= -1e-12)
    assert weights @ points[:, 1] == pytest.approx(2 * 0.5**2, rel=1e-12)  # int of r sin over the upper half
    np.testing.assert_allclose(normals, -(points - (1, 0)) / 0.5, atol=1e-12)


def test_box_faces_and_spheres_in_3d():
    box = Box((0, 0, 0), (1, 2, 3))
    points, normals, weights = box.quadrature(("top",), 16)
    assert len(weights) == 16 and np.all(points[:, 2] == 3) and np.all(normals == (0, 0, 1))
    assert weights @ (points[:, 0] ** 2 * points[:, 1] ** 3) == pytest.approx(1 / 3 * 4, rel=1e-14)
    assert box.quadrature(("boundary",), 1)[2].sum() == pytest.approx(22.0)
    ball = Ball((0, 1, 2), 1.5)
    points, normals, weights = ball.quadrature(("sphere",), 50)
    assert weights.sum() == pytest.approx(4 * np.pi * 1.5**2, rel=1e-14)
    assert weights @ ((points[:, 2] - 2) ** 2) == pytest.approx(4 * np.pi * 1.5**4 / 3, rel=1e-14)
    np.testing.assert_allclose(normals, (points - (0, 1, 2)) / 1.5, atol=1e-14)
    inside = Box((-2, -2, -2), (2, 2, 2)) - Ball((0, 0, 0), 1.0)  # uncut: the sphere keeps its rule
    assert inside.quadrature(("sphere",), 50)[2].sum() == pytest.approx(4 * np.pi, rel=1e-14)
    directions, w = sphere(8)
    assert len(w) == 8 and np.allclose(np.linalg.norm(directions, axis=1), 1)


def test_rules_on_single_pieces():
    disk, square = Disk((0, 0), 2), Rectangle((0, 0), (1, 1))
    points, weights = along(disk.boundary_curves(), 6)
    assert len(points) == 6 and weights.sum() == pytest.approx(4 * np.pi)
    points, weights = along(square.boundary_curves(("left",)), 3)
    assert np.all(points[:, 0] == 0) and weights.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("make, message", [
    (lambda: (Box((0, 0, 0), (1, 1, 1)) - Ball((1, 1, 1), 0.5)).quadrature(("right",)), "another shape cuts it"),
    (lambda: (Rectangle((0, 0), (1, 1)) * TimeInterval(0, 1)).quadrature(), "space-time"),
    (lambda: Rectangle((0, 0), (1, 1)).quadrature(("east",)), "unknown boundary part 'east'"),
    (lambda: Rectangle((0, 0), (1, 1)).quadrature(n=0), "need n > 0"),
])
def test_refusals(make, message):
    with pytest.raises(ValueError, match=message):
        make()
