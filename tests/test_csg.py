"""Round shapes and set operations: areas, lengths and normals against exact values, uniform draws,
part names through union, difference and renaming, and composition with time."""
import re

import numpy as np
import pytest
from scipy.stats import chisquare

from pinnkit.geometry import Annulus, Ball, Box, Difference, Disk, Intersection, Polygon, Rectangle, TimeInterval, Union

LENS = 2 * np.pi / 3 - np.sqrt(3) / 2  # area shared by two unit disks one apart
CHANNEL = Rectangle((0, 0), (4, 2)) - Disk((1, 1), 0.8)
NAMED = (Rectangle((0, 0), (4, 2)) - Disk((1, 1), 0.3)).renamed(
    left="inlet", right="outlet", bottom="walls", top="walls", circle="cylinder")
BITTEN = Rectangle((0, 0), (4, 2)) - Disk((4, 1), 0.5)  # the disk takes a bite out of the right face
L_UNION = Rectangle((0, 0), (2, 1)) | Rectangle((0, 0), (1, 2))
TWO_DISKS = Disk((0, 0), 1) | Disk((1, 0), 1)
LENS_SHAPE = Disk((0, 0), 1) & Disk((1, 0), 1)
CORNER = Box((0, 0, 0), (1, 1, 1)) - Ball((1, 1, 1), 0.5)

# shape, exact area (volume in 3D), exact centroid
SHAPES = {
    "disk": (Disk((0.5, -1), 2), 4 * np.pi, (0.5, -1)),
    "annulus": (Annulus((1, 2), 0.5, 1.5), 2 * np.pi, (1, 2)),
    "ball": (Ball((0, 1, 2), 1.5), 4 / 3 * np.pi * 1.5**3, (0, 1, 2)),
    "channel": (CHANNEL, 8 - 0.64 * np.pi, ((16 - 0.64 * np.pi) / (8 - 0.64 * np.pi), 1)),
    "l_union": (L_UNION, 3.0, (2.5 / 3, 2.5 / 3)),
    "two_disks": (TWO_DISKS, 2 * np.pi - LENS, (0.5, 0)),
    "lens": (LENS_SHAPE, LENS, (0.5, 0)),
    "corner": (CORNER, 1 - np.pi / 48, None),
    "nested": ((Rectangle((0, 0), (3, 3)) - Disk((1.5, 1.5), 1)) | Disk((1.5, 1.5), 0.5), 9 - 0.75 * np.pi,
               (1.5, 1.5)),
}


def rng(seed=0):
    return np.random.default_rng(seed)


def box_volume(domain):
    return float(np.prod(domain.upper - domain.lower))


@pytest.mark.parametrize("name", SHAPES)
def test_area_from_the_share_of_the_bounding_box_inside(name):
    domain, area, _ = SHAPES[name]
    n = 200_000
    share = domain.inside(domain.lower + rng(1).random((n, domain.dim)) * (domain.upper - domain.lower), tol=0.0)
    bound = 4 * box_volume(domain) * np.sqrt(area / box_volume(domain) * (1 - area / box_volume(domain)) / n)
    assert abs(share.mean() * box_volume(domain) - area) < bound
    assert abs(domain.box_fraction() * box_volume(domain) - area) < bound  # its own estimate, from 2^16 points


@pytest.mark.parametrize("name", SHAPES)
def test_interior_draws_inside_and_centered_on_the_centroid(name):
    domain, _, centroid = SHAPES[name]
    pts = domain.sample_interior(20_000, "uniform", rng())
    assert pts.shape == (20_000, domain.dim) and domain.inside(pts).all()
    if centroid is not None:
        error = np.abs(pts.mean(axis=0) - centroid)
        assert np.all(error < 4 * pts.std(axis=0) / np.sqrt(len(pts)))


@pytest.mark.parametrize("domain, radii", [(Disk((0.5, -1), 2), (0, 2)), (Annulus((1, 2), 0.5, 1.5), (0.5, 1.5)),
                                           (Ball((0, 1, 2), 1.5), (0, 1.5))])
def test_round_interior_uniform_in_radius(domain, radii):
    """Uniform in area: radius^dim is uniform between inner^dim and outer^dim."""
    pts = domain.sample_interior(4000, "uniform", rng(2))
    scaled = np.linalg.norm(pts - domain.center, axis=1) ** domain.dim
    lo, hi = radii[0] ** domain.dim, radii[1] ** domain.dim
    counts = np.histogram(scaled, bins=10, range=(lo, hi))[0]
    assert counts.sum() == 4000 and chisquare(counts).pvalue > 1e-3
    assert np.all((scaled >= lo - 1e-9) & (scaled <= hi + 1e-9))


@pytest.mark.parametrize("domain, part, length", [
    (Disk((0.5, -1), 2), "circle", 4 * np.pi),
    (Annulus((1, 2), 0.5, 1.5), "inner", np.pi),
    (Annulus((1, 2), 0.5, 1.5), "outer", 3 * np.pi),
    (Ball((0, 1, 2), 1.5), "sphere", 9 * np.pi),
    (NAMED, "cylinder", 0.6 * np.pi),
    (NAMED, "walls", 8.0),
    (NAMED, "boundary", 12 + 0.6 * np.pi),
])
def test_measure_of_uncut_parts_is_exact(domain, part, length):
    assert domain.measure((part,)) == pytest.approx(length, rel=1e-12)


@pytest.mark.parametrize("domain, part, length", [
    (BITTEN, "right", 1.0),
    (BITTEN, "circle", 0.5 * np.pi),
    (TWO_DISKS, "circle", 8 * np.pi / 3),
    (LENS_SHAPE, "circle", 4 * np.pi / 3),
    (L_UNION, "left", 2.0),  # shared by both rectangles: counted once
    (L_UNION, "bottom", 2.0),
    (L_UNION, "top", 2.0),
    (L_UNION, "right", 2.0),
    (CORNER, "right", 1 - np.pi / 16),
    (CORNER, "sphere", np.pi / 8),
])
def test_measure_of_cut_parts_within_the_survey_error(domain, part, length):
    assert domain.measure((part,)) == pytest.approx(length, rel=2e-3)


@pytest.mark.parametrize("domain, sign", [(Disk((0.5, -1), 2), 1), (Ball((0, 1, 2), 1.5), 1)])
def test_normals_on_round_shapes_are_radial(domain, sign):
    pts, normals = domain.sample_boundary(500, "boundary", "sobol", rng())
    radius = domain.outer
    np.testing.assert_allclose(np.linalg.norm(pts - domain.center, axis=1), radius, atol=1e-12)
    np.testing.assert_allclose(normals, sign * (pts - domain.center) / radius, atol=1e-12)
    np.testing.assert_allclose(domain.boundary_normal(pts), (pts - domain.center) / radius, atol=1e-12)


def test_annulus_and_hole_normals_point_out_of_the_domain():
    ring = Annulus((1, 2), 0.5, 1.5)
    inner, n_inner = ring.sample_boundary(200, "inner", "lhs", rng())
    np.testing.assert_allclose(n_inner, -(inner - ring.center) / 0.5, atol=1e-12)
    np.testing.assert_allclose(ring.boundary_normal(inner), n_inner, atol=1e-12)
    hole, n_hole = NAMED.sample_boundary(200, "cylinder", "sobol", rng())
    np.testing.assert_allclose(n_hole, -(hole - (1, 1)) / 0.3, atol=1e-12)
    np.testing.assert_allclose(NAMED.boundary_normal(hole), n_hole, atol=1e-12)


def angle(points, center):
    return np.arctan2(points[:, 1] - center[1], points[:, 0] - center[0]) % (2 * np.pi)


def test_points_on_a_circle_are_uniform_in_angle():
    pts, _ = NAMED.sample_boundary(4000, "cylinder", "uniform", rng())
    counts = np.histogram(angle(pts, (1, 1)), bins=16, range=(0, 2 * np.pi))[0]
    assert counts.sum() == 4000 and chisquare(counts).pvalue > 1e-3


def test_points_on_cut_arcs_and_faces_are_uniform_on_what_survives():
    arc, _ = BITTEN.sample_boundary(3000, "circle", "uniform", rng())
    a = angle(arc, (4, 1))
    assert np.all((a >= np.pi / 2 - 1e-9) & (a <= 3 * np.pi / 2 + 1e-9))
    assert chisquare(np.histogram(a, bins=12, range=(np.pi / 2, 3 * np.pi / 2))[0]).pvalue > 1e-3
    right, _ = BITTEN.sample_boundary(3000, "right", "uniform", rng())
    assert np.all(right[:, 0] == 4) and not np.any((right[:, 1] > 0.5) & (right[:, 1] < 1.5))
    assert chisquare(np.histogram(right[:, 1], bins=8, range=(0, 2))[0][[0, 1, 6, 7]]).pvalue > 1e-3
    merged, _ = TWO_DISKS.sample_boundary(3000, "circle", "uniform", rng())
    left = merged[:, 0] < 0.5
    assert abs(left.sum() - 1500) <= 1  # two arcs of equal length
    counts = np.histogram(angle(merged[left], (0, 0)), bins=12, range=(np.pi / 3, 5 * np.pi / 3))[0]
    assert counts.sum() == left.sum() and chisquare(counts).pvalue > 1e-3


def test_sphere_points_uniform_in_area():
    pts, _ = Ball((0, 1, 2), 1.5).sample_boundary(4000, "sphere", "uniform", rng())
    rel = (pts - (0, 1, 2)) / 1.5
    assert chisquare(np.histogram(rel[:, 2], bins=10, range=(-1, 1))[0]).pvalue > 1e-3  # Archimedes: z uniform
    assert chisquare(np.histogram(angle(rel, (0, 0)), bins=10, range=(0, 2 * np.pi))[0]).pvalue > 1e-3


def test_parts_keep_their_names_through_set_operations_and_renaming():
    assert (Rectangle((0, 0), (4, 2)) - Disk((1, 1), 0.3)).parts == ("left", "right", "bottom", "top", "circle")
    assert NAMED.parts == ("inlet", "outlet", "walls", "cylinder")
    assert (Rectangle((0, 0), (4, 2)) | Disk((4, 1), 0.5, name="cap")).parts == ("left", "right", "bottom", "top",
                                                                              "cap")
    assert (Rectangle((0, 0), (4, 2)) & Disk((4, 1), 0.5)).parts == ("right", "circle")
    assert TWO_DISKS.parts == ("circle",)  # same names merge
    inside_whole = Rectangle((0, 0), (4, 2)) | Disk((2, 1), 0.5)
    assert inside_whole.parts == ("left", "right", "bottom", "top")  # a part entirely inside the other goes
    assert (NAMED - Disk((3, 1), 0.2, name="probe")).renamed(probe="sensor").parts == (
        "inlet", "outlet", "walls", "cylinder", "sensor")


def test_points_on_each_named_part_lie_on_it_and_only_there():
    counts = {}
    for part in NAMED.parts:
        pts, normals = NAMED.sample_boundary(400, (part,), "sobol", rng())
        assert NAMED.on_boundary(pts, (part,)).all()
        others = tuple(p for p in NAMED.parts if p != part)
        away = np.min(np.linalg.norm(pts[:, None] - np.array([[0, 0], [0, 2], [4, 0], [4, 2]]), axis=2), axis=1) > 1e-6
        assert not NAMED.on_boundary(pts[away], others).any()
        np.testing.assert_allclose(NAMED.boundary_normal(pts, (part,)), normals, atol=1e-12)
        counts[part] = pts
    assert np.all(np.isin(counts["walls"][:, 1], [0, 2])) and np.all(counts["inlet"][:, 0] == 0)
    np.testing.assert_allclose(np.linalg.norm(counts["cylinder"] - 1, axis=1), 0.3, atol=1e-12)
    pts, _ = NAMED.sample_boundary(1000, "boundary", "sobol", rng())
    on_cylinder = np.abs(np.linalg.norm(pts - 1, axis=1) - 0.3) < 1e-9
    assert on_cylinder.sum() == round(1000 * 0.6 * np.pi / (12 + 0.6 * np.pi))  # spread by length


def test_union_and_difference_boundaries_and_normals_against_the_l_shape():
    l_shape = Polygon([(0, 0), (2, 0), (2, 1), (1, 1), (1, 2), (0, 2)])
    pts, normals = L_UNION.sample_boundary(600, "boundary", "sobol", rng())
    assert l_shape.on_boundary(pts).all() and L_UNION.on_boundary(pts).all()
    corners = np.min(np.linalg.norm(pts[:, None] - l_shape.vertices[None], axis=2), axis=1) > 1e-6
    np.testing.assert_allclose(normals[corners], l_shape.boundary_normal(pts[corners]), atol=1e-12)
    seam = np.array([[0.5, 1.0], [1.0, 0.5]])  # where the rectangles' faces lie inside the union
    assert L_UNION.inside(seam).all() and not L_UNION.on_boundary(seam).any()
    notch = Rectangle((0, 0), (2, 2)) - Rectangle((1, 1), (3, 3))
    assert notch.on_boundary(pts).all() and notch.measure() == pytest.approx(8.0, rel=1e-3)
    probe = np.array([[1.5, 1.5], [1.0, 1.5], [0.5, 0.5], [1.5, 1.0 + 1e-12]])
    np.testing.assert_array_equal(notch.inside(probe), [False, True, True, True])


def test_signed_distances_against_brute_force():
    shapes = [Disk((0.5, -1), 2), Annulus((1, 2), 0.5, 1.5), Rectangle((0, 0), (2, 1)),
              Polygon([(0, 0), (2, 0), (2, 1), (1, 1), (1, 2), (0, 2)])]
    for shape in shapes:
        dense, _ = shape.sample_boundary(20_000, "boundary", "sobol", rng())
        probe = shape.lower - 0.5 + rng(3).random((100, 2)) * (shape.upper - shape.lower + 1)
        distance = np.min(np.linalg.norm(probe[:, None] - dense[None], axis=2), axis=1)
        expected = np.where(shape.inside(probe, tol=0.0), -distance, distance)
        np.testing.assert_allclose(shape.signed_distance(probe), expected, atol=2 * shape.measure() / len(dense))
    with pytest.raises(NotImplementedError, match="Union has no exact signed distance"):
        L_UNION.signed_distance(np.zeros((1, 2)))


def test_constructed_shape_times_a_time_interval():
    flow = NAMED * TimeInterval(0, 2)
    assert flow.dim == 3 and flow.parts == NAMED.parts
    pts, normals = flow.sample_boundary(256, ("cylinder",), "sobol", rng())
    np.testing.assert_allclose(np.linalg.norm(pts[:, :2] - 1, axis=1), 0.3, atol=1e-12)
    assert np.all((pts[:, 2] >= 0) & (pts[:, 2] <= 2)) and np.ptp(pts[:, 2]) > 1.8
    np.testing.assert_array_equal(normals[:, 2], 0.0)
    assert flow.on_boundary(pts, ("cylinder",)).all() and not flow.on_boundary(pts, ("walls",)).any()
    initial = flow.sample_initial(300, "lhs", rng())
    assert np.all(initial[:, 2] == 0) and NAMED.inside(initial[:, :2]).all()
    assert np.all(np.linalg.norm(initial[:, :2] - 1, axis=1) >= 0.3)
    interior = flow.sample_interior(300, "sobol", rng())
    assert flow.inside(interior).all() and np.all(np.linalg.norm(interior[:, :2] - 1, axis=1) >= 0.3)
    assert (Rectangle((0, 0), (1, 1)) * TimeInterval(0, 1)).renamed(left="inlet").parts[0] == "inlet"


def test_draws_are_deterministic_given_the_seed():
    a, b, c = (NAMED.sample_boundary(50, "boundary", "sobol", rng(s))[0] for s in (1, 1, 2))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize("make, error, message", [
    (lambda: Disk((0, 0), -1), ValueError, "Disk: need a finite radius > 0, got -1"),
    (lambda: Disk((0, 0, 0), 1), ValueError, "Disk: need a finite center of 2 coordinates"),
    (lambda: Annulus((0, 0), 2, 1), ValueError, "Annulus: need finite radii 0 < inner < outer, got 2 and 1"),
    (lambda: Annulus((0, 0), 0, 1), ValueError, "Annulus: need an inner radius > 0"),
    (lambda: Disk((0, 0), 1, name="boundary"), ValueError, "'boundary' is reserved"),
    (lambda: Rectangle((0, 0), (1, 1)) | Ball((0, 0, 0), 1), ValueError, "Union: operands of dimensions 2 and 3"),
    (lambda: Rectangle((0, 0), (1, 1)) & Rectangle((2, 2), (3, 3)), ValueError, "Intersection: the result is empty"),
    (lambda: Disk((0, 0), 1) - Rectangle((-2, -2), (2, 2)), ValueError, "Difference: the result is empty"),
    (lambda: Difference(Rectangle((0, 0), (1, 1)) * TimeInterval(0, 1), Disk((0, 0), 1)), ValueError,
     "operands must be 2D or 3D spatial domains"),
    (lambda: Intersection(Disk((0, 0), 1), "disk"), ValueError, "got str"),
    (lambda: NAMED.renamed(left="inlet"), ValueError,
     "renamed: unknown boundary part 'left' (valid: inlet, outlet, walls, cylinder)"),
    (lambda: NAMED.renamed(walls="boundary"), ValueError, "'boundary' is reserved"),
    (lambda: NAMED.sample_boundary(10, ("circle",), "sobol", rng()), ValueError,
     "unknown boundary part 'circle' (valid: boundary, inlet, outlet, walls, cylinder)"),
    (lambda: Union(Disk((0, 0), 1), Disk((3, 0), 1)).sample_interior(0, "sobol", rng()), ValueError,
     "must be positive, got 0"),
])
def test_bad_shapes_and_names(make, error, message):
    with pytest.raises(error, match=re.escape(message)):
        make()
