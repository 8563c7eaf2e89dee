"""Quantities of interest against closed forms: the force of a known stress field on a circle, point values,
the root of a field along a line, derived numbers; their history columns and summary entries in a solve
with a fixed field; and a failing quantity stopping the build with one line naming it."""
import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import pinnkit
from pinnkit import BoundaryIntegral, Derived, Disk, LineRoot, PointValue, Problem, Rectangle
from pinnkit.pdes.cylinder import CylinderFlow
from pinnkit.problem import ProblemError
from pinnkit.quantities import Quantities

ROOT = Path(__file__).resolve().parents[1]
A, B, C, X_ROOT, NU, R = -1.174, 2.0, 1.0, 0.3349, 1e-3, 0.05  # the field below, the viscosity, the radius


class Field(torch.nn.Module):
    """u = C (x - X_ROOT) + B (y^2 - 0.04), v = 0, p = A x: a network that stays so under training (its one
    weight enters times zero)."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))

    def forward(self, points):
        x, y = points[:, 0], points[:, 1]
        u = C * (x - X_ROOT) + B * (y**2 - 0.04) + 0 * self.weight * x
        return torch.stack([u, 0 * x, A * x], dim=1)


def force_closed_form(center_y=0.2):
    """The force on the disk of radius R: F = int sigma n_body with sigma = -p I + nu (grad u + grad u^T):
    -A pi R^2 from the pressure, 2 nu B pi R^2 from the shear sigma_xy = 2 nu B y; F_y = 0 (odd integrands)."""
    return np.array([-A * math.pi * R**2 + 2 * NU * B * math.pi * R**2, 0.0])


class Channel(Problem):
    coords = ("x", "y")
    fields = ("u", "v", "p")
    parameters = {"nu": NU}

    def domain(self):
        return Rectangle((0, 0), (2.2, 0.41)) - Disk((0.2, 0.2), R)

    def traction(self, d, n):
        """-sigma n on the domain's normals (into the disk): the force density on the disk."""
        shear = d.u_y + d.v_x
        return -torch.stack([-d.p * n[:, 0] + self.nu * (2 * d.u_x * n[:, 0] + shear * n[:, 1]),
                             -d.p * n[:, 1] + self.nu * (shear * n[:, 0] + 2 * d.v_y * n[:, 1])], dim=1)


def values(quantities, problem=None, model=None):
    problem = problem or Channel()
    return Quantities(quantities, problem, problem.domain()).values(model or Field())


def test_force_of_a_known_stress_field_on_a_circle_is_its_closed_form():
    problem = Channel()
    force = BoundaryIntegral("circle", problem.traction, derivatives=("u_x", "u_y", "v_x", "v_y"), points=32)
    got = values({"fx": Derived(lambda f: f[0], force), "fy": Derived(lambda f: f[1], force)}, problem)
    expected = force_closed_form()
    assert got["fx"] == pytest.approx(expected[0], rel=1e-13) and abs(got["fy"]) < 1e-15
    area = BoundaryIntegral("circle", lambda d, n: torch.ones_like(d.x), points=8)   # the circumference
    assert values({"length": area})["length"] == pytest.approx(2 * math.pi * R, rel=1e-14)


def test_point_values_are_exact_for_a_known_field():
    at = (1.3, 0.1)
    got = values({"p": PointValue(at, "p"), "u_y": PointValue(at, "u_y"),
                  "mix": PointValue(at, lambda d: d.u * d.p + d.u_x, derivatives=("u_x",)),
                  "dp": Derived(np.subtract, PointValue((0.15, 0.2), "p"), PointValue((0.25, 0.2), "p"))})
    u = C * (at[0] - X_ROOT) + B * (at[1] ** 2 - 0.04)
    assert got["p"] == pytest.approx(A * 1.3, rel=1e-15) and got["u_y"] == pytest.approx(2 * B * 0.1, rel=1e-15)
    assert got["mix"] == pytest.approx(u * A * 1.3 + C, rel=1e-14)
    assert got["dp"] == pytest.approx(-0.1 * A, rel=1e-13)


def test_line_root_finds_where_the_field_changes_sign():
    """u = C (x - X_ROOT) on y = 0.2: zero at X_ROOT; sin(7 (x - 0.9)) first at 0.9 - pi / 7 (then at 0.9,
    ...); none for p = A x < 0."""
    got = values({"linear": LineRoot((0.25, 0.2), (2.2, 0.2), "u"),
                  "sine": LineRoot((0.25, 0.2), (2.2, 0.2), lambda d: torch.sin(7 * (d.x - 0.9))),
                  "none": LineRoot((0.25, 0.2), (2.2, 0.2), "p")})
    assert got["linear"] == pytest.approx(X_ROOT - 0.25, abs=1e-13)
    assert got["sine"] == pytest.approx(0.9 - math.pi / 7 - 0.25, abs=1e-11)
    assert math.isnan(got["none"])
    ways = values({way: LineRoot((0.25, 0.2), (2.2, 0.2), lambda d: torch.sin(7 * (d.x - 0.9)), crossing=way)
                   for way in ("rising", "falling")})   # sin(7 (x - 0.9)) falls through 0.9 - pi / 7
    assert ways["falling"] == pytest.approx(0.9 - math.pi / 7 - 0.25, abs=1e-11)
    assert ways["rising"] == pytest.approx(0.9 - 0.25, abs=1e-11)
    with pytest.raises(ValueError, match="unknown crossing 'up'"):
        LineRoot((0, 0), (1, 0), "u", crossing="up")


def test_a_shared_quantity_is_evaluated_once():
    calls = []

    def integrand(d, n):
        calls.append(len(d.x))
        return d.p

    total = BoundaryIntegral("circle", integrand, points=16)
    values({"a": Derived(lambda v: v, total), "b": Derived(lambda v: 2 * v, total)})
    assert calls == [16]


def test_report_has_value_reference_error_and_interval():
    problem = Channel()
    quantities = Quantities({"dp": Derived(np.subtract, PointValue((0.15, 0.2), "p"), PointValue((0.25, 0.2), "p"),
                                           reference=0.11752, interval=(0.1172, 0.1176)),
                             "root": LineRoot((0.25, 0.2), (2.2, 0.2), "p", interval=(0, 1))}, problem,
                            problem.domain())
    report = quantities.report(quantities.values(Field()))
    assert report["dp"]["value"] == pytest.approx(0.1174, rel=1e-13)
    assert report["dp"]["error"] == pytest.approx(abs(0.1174 - 0.11752) / 0.11752, rel=1e-9)
    assert report["dp"]["interval"] == [0.1172, 0.1176] and report["dp"]["within"] is True
    assert report["root"] == {"value": None, "reference": None, "error": None, "interval": [0.0, 1.0],
                              "within": False}


def test_history_and_summary_of_a_solve_hold_the_quantities(tmp_path):
    """The DFG quantities of the cylinder case, for a field that training leaves as it is: every history row
    and summary.json against the closed forms (drag = 2 F_x / (U_mean^2 D), U_mean = 0.2, D = 0.1)."""
    short = ["points.interior=64", "points.boundary=16", "phases[0].iterations=2", "phases[1].iterations=1",
             "output.log_every=1"]
    result = pinnkit.solve(ROOT / "problems" / "cylinder.toml", short, out=tmp_path / "run", model=Field())
    assert result.status == "completed", result.summary["message"]
    expected = {"drag": 500 * force_closed_form()[0], "lift": 0.0, "pressure_difference": -0.1 * A,
                "recirculation": X_ROOT - 0.25}
    with open(result.run_dir / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) >= 3
    for row in rows:
        for name, value in expected.items():
            assert float(row[f"q_{name}"]) == pytest.approx(value, rel=1e-12, abs=1e-14), name
    summary = json.loads((result.run_dir / "summary.json").read_text())["quantities"]
    assert set(summary) == set(expected)
    assert summary["drag"]["value"] == pytest.approx(expected["drag"], rel=1e-12)
    assert summary["drag"]["reference"] == 5.5795 and summary["drag"]["within"] is False
    assert summary["drag"]["error"] == pytest.approx(abs(expected["drag"] - 5.5795) / 5.5795, rel=1e-9)
    assert summary["pressure_difference"]["within"] is True
    assert summary["recirculation"]["reference"] is None and summary["recirculation"]["within"] is True


@pytest.mark.parametrize("quantities, message", [
    ({"force": BoundaryIntegral("hole", lambda d, n: d.p)},
     "quantity 'force' failed: ValueError: unknown boundary part 'hole'"),
    ({"force": BoundaryIntegral("circle", lambda d, n: torch.stack([d.p, d.p], 1))},
     "quantity 'force' failed: ValueError: it has 2 values"),
    ({"bad": PointValue((0.2, 0.2), "p")}, "quantity 'bad' failed: ValueError: the point [0.2, 0.2] lies outside"),
    ({"fails": PointValue((1.0, 0.1), lambda d: d.p / undefined)}, "quantity 'fails' failed: NameError"),  # noqa: F821
    ({"slope": PointValue((1.0, 0.1), lambda d: d.p_x)}, "declare it in PointValue.derivatives"),
    ({"two words": PointValue((1.0, 0.1), "p")}, "'two words' is not a valid name"),
    ({"p": 1.0}, "must return a dict of name -> quantity"),
])
def test_a_bad_quantity_stops_the_build_with_one_line_naming_it(quantities, message, tmp_path):
    class Declared(Channel):
        def residuals(self, d):
            return {"pde": d.u}

        def quantities(self):
            return quantities

    config = {"problem": {"name": "declared"}, "points": {"interior": 32, "boundary": 8},
              "phases": [{"optimizer": "adam", "iterations": 1}]}
    with pytest.raises(ProblemError) as error:
        pinnkit.solve(config, problem=Declared, out=tmp_path / "run")
    assert message in str(error.value) and "\n" not in str(error.value) and "Declared" in str(error.value)
    assert not (tmp_path / "run").exists()


def test_cylinder_quantities_of_the_exact_field_need_no_training():
    """The shipped case's quantities on the fixed field directly (no solve): the same closed forms."""
    problem = CylinderFlow()
    got = Quantities(problem.quantities(), problem, problem.domain()).values(Field())
    assert got["drag"] == pytest.approx(500 * force_closed_form()[0], rel=1e-12)
    assert got["recirculation"] == pytest.approx(X_ROOT - 0.25, abs=1e-13)
