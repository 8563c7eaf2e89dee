"""The shipped problems: residuals against exact solutions, the cavity reference against Ghia et al.,
periodic pairs, every shipped TOML end to end, a user's own PDE, and clear errors in a user's problem."""
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate
import torch

import pinnkit
from pinnkit import Box, Polygon, Rectangle, TimeInterval
from pinnkit.cli import main
from pinnkit.conditions import Initial, Periodic, Robin
from pinnkit.metrics import reference_set
from pinnkit.nets import MLP, Constrained
from pinnkit.operators import AutogradEngine
from pinnkit.pdes import PROBLEMS
from pinnkit.pdes import cavity_reference
from pinnkit.pdes.cavity_reference import converged_cavity, lid_speed, solve_cavity
from pinnkit.pdes.navier_stokes import LID_WIDTH, Cavity
from pinnkit.pdes.time_dependent import corner_rounding
from pinnkit.quantities import Quantities

ROOT = Path(__file__).resolve().parents[1]
ANALYTIC = ["poisson", "poisson_multiscale", "poisson_lshape", "plate_with_holes", "kovasznay", "kovasznay_inverse",
            "taylor_green", "beltrami", "advection", "wave"]


class Exact(torch.nn.Module):
    """The problem's reference as a network, optionally perturbed by eps sin(x + 3y) in every field."""

    def __init__(self, problem, eps=0.0):
        super().__init__()
        self.problem, self.eps = problem, eps

    def forward(self, points):
        columns = [points[:, j] for j in range(points.shape[1])]
        exact = self.problem.reference(*columns)
        bump = self.eps * torch.sin(columns[0] + 3 * columns[1])
        return torch.stack([exact[f] + bump for f in self.problem.fields], dim=1)


def _residuals(problem, model, n=200, seed=0):
    points = torch.as_tensor(problem.domain().sample_interior(n, "uniform", np.random.default_rng(seed)))
    d = AutogradEngine()(model, points, problem.coords, problem.fields, problem.derivatives)
    return {name: r.detach().abs().max().item() for name, r in problem.residuals(d).items()}


@pytest.mark.parametrize("name", ANALYTIC)
def test_residual_vanishes_for_the_exact_solution_only(name):
    problem = PROBLEMS[name]()
    exact, perturbed = _residuals(problem, Exact(problem)), _residuals(problem, Exact(problem, eps=0.01))
    assert max(exact.values()) < 1e-10, exact
    assert min(perturbed.values()) > 1e-3, perturbed


@pytest.mark.parametrize("name", ANALYTIC)
def test_conditions_hold_for_the_exact_solution(name):
    problem = PROBLEMS[name]()
    domain, rng = problem.domain(), np.random.default_rng(1)
    for cond in problem.conditions():
        batch = {k: torch.as_tensor(v) for k, v in cond.sample(domain, 64, "uniform", rng).items()}
        d = AutogradEngine()(Exact(problem), batch["points"], problem.coords, problem.fields,
                             cond.derivatives(problem.coords, problem.fields))
        assert cond.residual(d, batch, problem.coords, problem.fields).abs().max() < 1e-12, cond.name


def test_navier_stokes_parameters_enter_the_residual():
    """Kovasznay's Reynolds number and the inverse problem's lambdas change the residual of the exact flow."""
    assert max(_residuals(PROBLEMS["kovasznay"]({"re": 30.0}), Exact(PROBLEMS["kovasznay"]())).values()) > 1e-2
    truth = PROBLEMS["kovasznay_inverse"]()
    for wrong in ({"lambda1": 1.1}, {"lambda2": 0.06}):
        assert max(_residuals(PROBLEMS["kovasznay_inverse"](wrong), Exact(truth)).values()) > 1e-2


@pytest.mark.parametrize("name", ["poisson", "plate_with_holes", "cylinder", "taylor_green", "beltrami", "advection",
                                  "allen_cahn", "kdv", "kuramoto_sivashinsky", "wave"])
def test_output_transforms_satisfy_their_conditions_exactly(name):
    problem = PROBLEMS[name]()
    domain = problem.domain()
    net = MLP(len(problem.coords), len(problem.fields), 8, 2, "tanh", domain.lower, domain.upper,
              generator=torch.Generator().manual_seed(0))
    model, rng = Constrained(net, problem.output_transform, problem.coords, problem.fields), np.random.default_rng(2)
    constrained = [cond for cond in problem.conditions() if cond.name in problem.hard_constrained]
    assert {cond.name for cond in constrained} == set(problem.hard_constrained)
    for cond in constrained:
        batch = {k: torch.as_tensor(v) for k, v in cond.sample(domain, 64, "uniform", rng).items()}
        d = AutogradEngine()(model, batch["points"], problem.coords, problem.fields,
                             cond.derivatives(problem.coords, problem.fields))
        assert cond.residual(d, batch, problem.coords, problem.fields).abs().max() < 1e-12, cond.name


@pytest.mark.parametrize(("name", "largest"), [("wave", 20), ("advection", 3)])
def test_ramped_transforms_leave_the_network_a_share_of_order_one(name, largest):
    """The transform is affine in the network's output N, so the exact solution asks for N = (u - T(0)) / (T(1) - T(0)).
    With the ramp 1 - exp(-(t / tau)^k) that stays of order one; with t^k in its place it would reach about 2,000
    near t = 0 for the wave and 80 for advection, far from what a freshly initialised network puts out."""
    problem = PROBLEMS[name]()
    (x0, t0), (x1, t1) = problem.domain().lower, problem.domain().upper
    x, t = (g.reshape(-1, 1) for g in torch.meshgrid(torch.linspace(x0 + 0.01, x1 - 0.01, 99, dtype=torch.float64),
                                                     torch.linspace(t0 + 1e-3, t1, 1000, dtype=torch.float64),
                                                     indexing="ij"))
    coords = {"x": x, "t": t}
    zero, one = (problem.output_transform(coords, {"u": torch.full_like(x, v)})["u"] for v in (0.0, 1.0))
    share = (problem.reference(x, t)["u"] - zero) / (one - zero)
    assert 0.5 < share.abs().mean() and share.abs().max() < largest


def test_corner_rounding_is_the_heat_flows_rounding_of_a_corner():
    """E|y + sigma Z| - |y| by adaptive quadrature on each side of the kink (an independent reference)."""
    def mean_abs(y, sigma):
        density = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
        kink = min(max(-y / sigma, -12.0), 12.0)  # beyond 12 the normal density is below 1e-31
        return sum(integrate.quad(lambda z: abs(y + sigma * z) * density(z), a, b, epsabs=1e-15)[0]
                   for a, b in ((-12.0, kink), (kink, 12.0)))

    y = np.linspace(-0.05, 0.05, 21)
    for sigma in (1e-3, 1e-2):
        expected = np.array([mean_abs(v, sigma) for v in y]) - np.abs(y)
        got = corner_rounding(torch.as_tensor(y), torch.tensor(sigma, dtype=torch.float64)).numpy()
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9 * sigma)


def test_the_allen_cahn_transform_leaves_the_network_no_corner():
    """u(x, 0) has a corner at x = +-1; the transform carries its damping and rounding, so the share the exact
    solution asks of the network is smooth there (second differences of order one, against about 300 at
    t = 0.05 for e^(-10 t) u(x, 0) alone) and of order one everywhere."""
    problem = PROBLEMS["allen_cahn"]()
    x = torch.linspace(0.95, 1.0, 501, dtype=torch.float64).reshape(-1, 1)
    for t in (0.01, 0.05, 0.2, 0.8):
        coords = {"x": x, "t": torch.full_like(x, t)}
        zero, one = (problem.output_transform(coords, {"u": torch.full_like(x, v)})["u"] for v in (0.0, 1.0))
        exact = torch.as_tensor(problem.reference(x, coords["t"])["u"]).reshape(-1, 1)
        share = ((exact - zero) / (one - zero)).reshape(-1).numpy()
        curvature = np.abs(np.diff(share, 2)) / float(x[1] - x[0]) ** 2
        assert curvature.max() < 30 and np.abs(share).max() < 3, t


def _condition_residual(cond, problem, model, n=64):
    domain = problem.domain()
    batch = {k: torch.as_tensor(v) for k, v in cond.sample(domain, n, "uniform", np.random.default_rng(3)).items()}
    d = AutogradEngine()(model, batch["points"], problem.coords, problem.fields,
                         cond.derivatives(problem.coords, problem.fields))
    return cond.residual(d, batch, problem.coords, problem.fields).detach().abs().max().item()


def test_an_initial_rate_and_a_robin_condition_hold_for_the_exact_solution_only():
    """u_t(x, 0) = 0 for the wave; 2 u + 3 du/dn = g on Poisson's left edge (u = 0 there, du/dn = -pi sin(pi y))."""
    wave = PROBLEMS["wave"]()
    rate = Initial(0.0, rate=True)
    assert rate.name == "ic_rate" and rate.derivatives(wave.coords, wave.fields) == ("u_t",)
    assert _condition_residual(rate, wave, Exact(wave)) < 1e-12
    assert _condition_residual(rate, wave, Exact(wave, eps=0.01)) > 1e-3  # the bump's t-slope is 0.03 cos x
    poisson = PROBLEMS["poisson"]()
    robin = Robin("left", a=2.0, b=3.0, value=lambda x, y: -3 * math.pi * torch.sin(math.pi * y))
    assert robin.name == "robin_left"
    assert _condition_residual(robin, poisson, Exact(poisson)) < 1e-12
    assert _condition_residual(robin, poisson, Exact(poisson, eps=0.01)) > 1e-3


# Ghia, U., Ghia, K. N. & Shin, C. T. (1982), High-Re solutions for incompressible flow using the
# Navier-Stokes equations and a multigrid method, J. Comput. Phys. 48, 387-411, Re = 100:
# Table I, u on the vertical centre line x = 0.5; Table II, v on the horizontal centre line y = 0.5.
GHIA_U = {0.9766: 0.84123, 0.9531: 0.68717, 0.8516: 0.23151, 0.7344: 0.00332, 0.6172: -0.13641,
          0.5000: -0.20581, 0.4531: -0.21090, 0.2813: -0.15662, 0.1016: -0.06434, 0.0547: -0.03717}
GHIA_V = {0.9688: -0.05906, 0.9453: -0.10313, 0.9063: -0.16914, 0.8594: -0.22445, 0.8047: -0.24533,
          0.5000: 0.05454, 0.2344: 0.17527, 0.1563: 0.16077, 0.0938: 0.12317, 0.0625: 0.09233}


def test_cavity_reference_matches_ghia_ghia_shin():
    flow = solve_cavity(100.0)
    y, x = np.array(list(GHIA_U)), np.array(list(GHIA_V))
    u = flow.at(np.full_like(y, 0.5), y)["u"]
    v = flow.at(x, np.full_like(x, 0.5))["v"]
    assert np.abs(u - np.array(list(GHIA_U.values()))).max() < 0.006   # we measure 0.0044
    assert np.abs(v - np.array(list(GHIA_V.values()))).max() < 0.01    # 0.0084, where Ghia's 129 grid is coarse
    assert flow.newton_steps <= 10


def test_cavity_lid_profile_is_regular_and_close_to_ghias_flat_lid():
    x = np.linspace(0, 1, 21)
    lid = lid_speed(x, 0.05)
    np.testing.assert_allclose(lid[[0, -1]], 0.0, atol=1e-12)
    points = torch.linspace(0, 1, 41, dtype=torch.float64, requires_grad=True)
    (slope,) = torch.autograd.grad(lid_speed(points, 0.05).sum(), points)
    np.testing.assert_allclose(slope[[0, -1]].numpy(), 0.0, atol=1e-12)   # meets the resting walls flat
    assert np.all(lid[3:-3] > 0.99)
    torch.testing.assert_close(lid_speed(torch.as_tensor(x), 0.05), torch.as_tensor(lid))
    flat, smooth = solve_cavity(100.0), solve_cavity(100.0, lid_width=0.05)
    middle = len(flat.axis) // 2
    assert np.abs(flat.u[middle, :-1] - smooth.u[middle, :-1]).max() < 0.004
    assert np.abs(flat.v[:, middle] - smooth.v[:, middle]).max() < 0.002


def test_cavity_extrapolation_converges_faster_than_the_second_order_solves(tmp_path):
    raw = [solve_cavity(100.0, n, 0.05) for n in (33, 65, 129)]
    raw_changes = [cavity_reference._relative_change(fine, coarse)["u"] for coarse, fine in zip(raw, raw[1:])]
    assert 3 < raw_changes[0] / raw_changes[1] < 4.5                      # second order: near 4x a level
    coarse, fine = (converged_cavity(100.0, 0.05, n, tmp_path) for n in (65, 129))
    for f in ("u", "v"):
        assert fine.change[f] < coarse.change[f] / 4 and fine.change[f] < raw_changes[1] / 8
    assert (tmp_path / f"cavity-v{cavity_reference.CACHE_VERSION}-re100-lid0.05-n129.npz").is_file()


def test_cavity_reference_is_read_back_from_the_disk_cache(tmp_path, monkeypatch):
    computed = converged_cavity(100.0, 0.05, 33, tmp_path)
    converged_cavity.cache_clear()
    monkeypatch.setattr(cavity_reference, "_newton", None)                 # reading must not solve anything
    loaded = converged_cavity(100.0, 0.05, 33, tmp_path)
    for f in ("axis", "psi", "omega", "u", "v"):
        np.testing.assert_array_equal(getattr(loaded, f), getattr(computed, f))
    assert loaded.change == computed.change and loaded.newton_steps == computed.newton_steps
    with pytest.raises(ValueError, match="multiple of 4"):
        converged_cavity(100.0, 0.05, 31, tmp_path)


def test_shipped_cavity_reference_changed_by_under_5e_5_at_its_last_refinement():
    flow = converged_cavity(100.0, LID_WIDTH, Cavity.reference_grid)
    assert len(flow.axis) == 257 and max(flow.change.values()) < 5e-5  # 2.7e-5 (u), 4.3e-5 (v) measured


@pytest.mark.parametrize("domain, on, axis", [
    (Rectangle([0, -1], [2, 3]), ("left", "right"), 0),
    (Rectangle([0, -1], [2, 3]), ("top", "bottom"), 1),
    (Box([0, 0, 0], [1, 2, 3]), ("bottom", "top"), 2),
    (Rectangle([0, 0], [6, 6]) * TimeInterval(0, 1), ("bottom", "top"), 1),
])
def test_periodic_pairs_points_with_their_images(domain, on, axis):
    cond = Periodic(on)
    cond.check(domain, ("a",) * domain.dim, ("u",))
    arrays = cond.sample(domain, 50, "sobol", np.random.default_rng(0))
    first, second = np.split(arrays["points"], 2)
    assert domain.on_boundary(first, on[:1]).all() and domain.on_boundary(second, on[1:]).all()
    np.testing.assert_array_equal(np.delete(first, axis, 1), np.delete(second, axis, 1))
    expected = np.zeros(domain.dim)
    expected[axis] = 1.0
    np.testing.assert_array_equal(arrays["direction"], np.tile(expected, (100, 1)))


def test_periodic_residual_is_zero_for_periodic_functions_only():
    domain, coords = Rectangle([0, 0], [2 * np.pi, 1]), ("x", "y")
    cond = Periodic(("left", "right"))
    batch = {k: torch.as_tensor(v) for k, v in cond.sample(domain, 40, "uniform", np.random.default_rng(0)).items()}

    def residual(f):
        class Net(torch.nn.Module):
            def forward(self, p):
                return f(p[:, 0], p[:, 1])[:, None]

        d = AutogradEngine()(Net(), batch["points"], coords, ("u",), cond.derivatives(coords, ("u",)))
        r = cond.residual(d, batch, coords, ("u",))
        assert r.shape == (80, 2)
        return r.detach().abs().amax(dim=0)

    assert residual(lambda x, y: torch.sin(x) * y + torch.cos(3 * x)).max() < 1e-12
    value, slope = residual(lambda x, y: x * (2 * np.pi - x) * y)   # equal ends, unequal slopes
    assert value < 1e-12 and slope > 1e-2
    assert residual(lambda x, y: x + y)[0] > 1


@pytest.mark.parametrize("domain, on", [(Rectangle([0, 0], [1, 1]), ("left", "top")),
                                         (Rectangle([0, 0], [1, 1]), ("left", "left")),
                                         (Rectangle([0, 0], [1, 1]), ("left", "east")),
                                         (Polygon([(0, 0), (1, 0), (0, 1)]), ("edge0", "edge1"))])
def test_periodic_needs_two_opposite_faces(domain, on):
    with pytest.raises(ValueError, match="needs two opposite faces of an axis-aligned domain"):
        Periodic(on).check(domain, ("x", "y"), ("u",))


TINY = ["points.interior=64", "points.boundary=16", "points.initial=16", "points.evaluation=300", "model.width=8",
        "model.depth=2", "model.fourier_features=0", "model.compile=false", "output.log_every=1"]


@pytest.mark.parametrize("toml", sorted(p.name for p in (ROOT / "problems").glob("*.toml")))
def test_every_shipped_problem_loads_and_runs_a_few_iterations(toml, tmp_path):
    phases = len(pinnkit.config.load(ROOT / "problems" / toml).phases)
    short = TINY + [f"phases[{i}].iterations=3" for i in range(phases)]
    result = pinnkit.solve(ROOT / "problems" / toml, short, out=tmp_path / "run")
    assert result.status == "completed", result.summary["message"]
    assert all(np.isfinite(e) for e in result.rel_l2.values())
    assert result.rel_l2 or result.summary["quantities"]  # a case without a reference field has quantities
    if toml == "cavity.toml":
        assert {"u@x=0.5", "v@y=0.5"} <= set(result.rel_l2)
    if toml == "cylinder.toml":
        assert set(result.summary["quantities"]) == {"drag", "lift", "pressure_difference", "recirculation"}


def test_plate_with_holes_solved_with_hard_constraints_is_exactly_zero_on_every_part(tmp_path):
    """The output transform through the plate's bubble and the holes' distance function: the trained network
    vanishes on the edges and on both holes to rounding, whatever training did; its quantities read back equal
    the summary's."""
    short = TINY + ["phases[0].iterations=3", "phases[1].iterations=3"]
    result = pinnkit.solve(ROOT / "problems" / "plate_with_holes.toml", short, out=tmp_path / "run")
    assert result.status == "completed" and "bc" not in result.summary["loss"]
    solution = pinnkit.load(result.run_dir)
    domain = solution.problem.domain()
    assert set(domain.parts) == {"edges", "left_hole", "right_hole"}
    for part in domain.parts:
        points, _ = domain.sample_boundary(200, (part,), "uniform", np.random.default_rng(0))
        assert np.abs(solution.predict(points)["u"]).max() < 1e-14, part
    inside = domain.sample_interior(200, "uniform", np.random.default_rng(1))
    assert np.abs(solution.predict(inside)["u"]).max() > 1e-3
    reported = {name: q["value"] for name, q in result.summary["quantities"].items()}
    assert solution.quantities() == pytest.approx(reported, rel=1e-12)
    assert all(q["reference"] is not None for q in result.summary["quantities"].values())


def test_plate_with_holes_hole_flux_references_are_the_quadrature_of_the_exact_gradient():
    """The references (adaptive quadrature in angle) against the domain's own rule on the exact solution."""
    problem = PROBLEMS["plate_with_holes"]()
    got = Quantities(problem.quantities(), problem, problem.domain()).values(Exact(problem))
    for name, quantity in problem.quantities().items():
        assert got[name] == pytest.approx(quantity.reference, rel=1e-12), name


def test_the_wave_learns_its_initial_rate_as_a_loss_term_without_hard_constraints(tmp_path):
    short = TINY + ["model.hard_constraints=false", "phases[0].iterations=3", "phases[1].iterations=3"]
    result = pinnkit.solve(ROOT / "problems" / "wave.toml", short, out=tmp_path / "run")
    header = (result.run_dir / "history.csv").read_text().splitlines()[0].split(",")
    assert result.status == "completed" and {"pde", "bc", "ic", "ic_rate"} <= set(header)


def test_custom_pde_example_solves_through_the_cli(tmp_path):
    out = tmp_path / "heat"
    proc = subprocess.run([sys.executable, "-m", "pinnkit", "solve", str(ROOT / "examples" / "custom_pde.toml"),
                           "--quiet", "--out", str(out), "--set", "phases[0].iterations=150",
                           "--set", "phases[1].iterations=100", "--set", "points.interior=300"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["problem"].endswith("custom_pde.py:Heat") and summary["rel_l2"]["u"] < 0.05


HEAT = '''
import torch
from pinnkit import Dirichlet, Initial, Interval, Problem, TimeInterval, Rectangle


class Heat(Problem):
    coords = ("x", "t")
    fields = ("u",)
    derivatives = ("u_t", "u_xx")

    def domain(self):
        return Interval(0.0, 1.0) * TimeInterval(0.0, 1.0)

    def residuals(self, d):
        return {"pde": d.u_t - 0.1 * d.u_xx}

    def conditions(self):
        return [Dirichlet(on=("left", "right"), value=0.0), Initial(lambda x: torch.sin(torch.pi * x))]
'''
MISTAKES = {
    "unknown part": ('Dirichlet(on=("left", "top"), value=0.0)', "conditions", "unknown boundary part 'top'"),
    "unknown field in a condition": ('Dirichlet(on="left", value=0.0, field="w")', "conditions",
                                     "condition 'bc_left': unknown field 'w'"),
    "wrong field in the residual": ("d.w", "residual", "'w' is not available here"),
    "undeclared derivative": ("d.u_x", "residual", "declare it in Heat.derivatives"),
    "residual of the wrong shape": ("d.u_t.sum()", "residual", "residual 'pde' has shape (), expected (64,)"),
    "residual of two dimensions too many": ("d.u_t[:, None, None]", "residual", "residual 'pde' has shape (64, 1, 1)"),
    "not a dict": ("RETURN", "residual", "the residuals of Heat must be a dict of term name -> tensor, got Tensor"),
    "non-finite": ("d.u_t / 0.0 * 0.0", "residual", "residual 'pde' is not finite at initialisation"),
    "bad derivative name": ("DERIV", "derivatives", "derivative 'u_q'"),
    "domain fails": ("DOMAIN", "domain", "Heat.domain() failed: ValueError: Polygon"),
    "domain of the wrong dimension": ("DIM", "domain", "domain has 3 dimensions but coords are ('x', 't')"),
    "two terms with one name": ('Dirichlet(on="left", value=0.0, name="pde")', "conditions",
                                "two loss terms are named 'pde'"),
    "a condition's value fails": ('Dirichlet(on="left", value=lambda x: x)', "conditions",
                                  "evaluating the residuals of condition 'bc_left' failed"),
}


def _mistake(source, where, text):
    if where == "conditions":
        return source.replace('Initial(lambda x: torch.sin(torch.pi * x))]', f"{text}]")
    if text == "RETURN":
        return source.replace('return {"pde": d.u_t - 0.1 * d.u_xx}', "return d.u_t")
    if text == "DERIV":
        return source.replace('("u_t", "u_xx")', '("u_t", "u_xx", "u_q")')
    if text == "DOMAIN":
        return source.replace("return Interval(0.0, 1.0) * TimeInterval(0.0, 1.0)", "return Polygon([(0, 0)])")
    if text == "DIM":
        return source.replace("return Interval(0.0, 1.0) * TimeInterval(0.0, 1.0)",
                              "return Rectangle([0, 0], [1, 1]) * TimeInterval(0.0, 1.0)")
    return source.replace('{"pde": d.u_t - 0.1 * d.u_xx}', '{"pde": %s}' % text)


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_mistakes_in_a_users_problem_exit_2_naming_problem_and_term(mistake, tmp_path, capsys):
    snippet, where, message = MISTAKES[mistake]
    (tmp_path / "heat.py").write_text(_mistake(HEAT.replace("Rectangle", "Rectangle, Polygon"), where, snippet))
    (tmp_path / "heat.toml").write_text('[problem]\nname = "heat.py:Heat"\n[points]\ninterior = 64\n'
                                        '[[phases]]\noptimizer = "adam"\niterations = 2\n')
    code = main(["solve", str(tmp_path / "heat.toml"), "--quiet", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: ") and "\n" not in err, err
    assert message in err and "Heat" in err, err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("name, message", [("missing.py:Heat", "does not exist"),
                                           ("heat.py:Cool", "has no Problem subclass named 'Cool'"),
                                           ("no_such_module_xyz:Heat", "cannot import module 'no_such_module_xyz'")])
def test_a_problem_that_cannot_be_found_exits_2(name, message, tmp_path, capsys):
    (tmp_path / "heat.py").write_text(HEAT)
    (tmp_path / "heat.toml").write_text(f'[problem]\nname = "{name}"\n[[phases]]\noptimizer = "adam"\niterations = 2\n')
    assert main(["solve", str(tmp_path / "heat.toml"), "--quiet", "--out", str(tmp_path / "run")]) == 2
    assert message in capsys.readouterr().err


def test_module_path_problem_resolves(tmp_path, monkeypatch):
    (tmp_path / "mypdes.py").write_text(HEAT)
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = pinnkit.config.load({"problem": {"name": "mypdes:Heat"}, "points": {"interior": 32},
                               "phases": [{"optimizer": "adam", "iterations": 2}]})
    assert pinnkit.build.build(cfg).problem.coords == ("x", "t")


def test_unsteady_pressure_is_compared_time_by_time():
    """A pressure off by a function of time only is exact: the grid's time levels are demeaned separately."""
    problem = PROBLEMS["taylor_green"]()
    grid = reference_set(problem, problem.domain(), 2000)

    class Shifted(torch.nn.Module):
        def forward(self, points):
            exact = Exact(problem)(points)
            return exact + torch.stack([0 * points[:, 2], 0 * points[:, 2], 3 * points[:, 2] ** 2], dim=1)

    errors = grid.errors(Shifted(), problem.fields)
    assert max(float(e) for e in errors.values()) < 1e-12
