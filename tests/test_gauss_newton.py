"""Levenberg-Marquardt and energy natural gradient: known minimizers, SciPy's `least_squares(method="lm")`,
both spaces of the damped solve, the residual vector of a PINN loss, the memory guard, a tiny Poisson solve."""
import csv
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.fft
import scipy.optimize
import torch

import pinnkit
from pinnkit.build import build
from pinnkit.cli import main
from pinnkit.affine import AffineJets
from pinnkit.config import load
from pinnkit.distributed import Shard
from pinnkit.optim import (EnergyNaturalGradient, GaussNewtonCG, LevenbergMarquardt, MemoryBudgetError, Residuals,
                           SketchedGaussNewton, minimize)
from pinnkit.optim.gauss_newton import DampedSystem, check_memory, jacobian
from pinnkit.optim.gncg import JacobianProducts, cgls
from pinnkit.optim.cosine import dct, idct
from pinnkit.optim.sgn import ColumnSketch, SubspaceSystem, sketched_jacobian

ROOT = Path(__file__).resolve().parents[1]
T = np.linspace(0.0, 1.0, 25)
Y = 2.5 * np.exp(-1.3 * T) + 0.02 * np.sin(9 * T)  # not an exact fit: a nonzero-residual minimum


def exponential(a: torch.Tensor) -> torch.Tensor:
    t, y = torch.from_numpy(T), torch.from_numpy(Y)
    return a[0] * torch.exp(a[1] * t) - y


def rosenbrock(z: torch.Tensor) -> torch.Tensor:
    """Rosenbrock in n dimensions as residuals: sum 100 (z_{i+1} - z_i^2)^2 + (1 - z_i)^2, minimum at 1."""
    return torch.cat([10 * (z[1:] - z[:-1] ** 2), 1 - z[:-1]])


def fit(optimizer, residual, x, steps=100):
    for _ in range(steps):
        optimizer.step(lambda: residual(x))
        if optimizer.stalled():
            break
    return x.detach().numpy()


@pytest.mark.parametrize("residual, x0", [(exponential, [1.0, 0.0]), (rosenbrock, [-1.2, 1.0])])
def test_lm_agrees_with_scipy_least_squares(residual, x0):
    x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    found = fit(LevenbergMarquardt([x]), residual, x)
    ref = scipy.optimize.least_squares(lambda p: residual(torch.from_numpy(p)).numpy(), x0, method="lm",
                                       xtol=1e-15, ftol=1e-15, gtol=1e-15)
    np.testing.assert_allclose(found, ref.x, atol=1e-8)
    if residual is rosenbrock:
        np.testing.assert_allclose(found, 1.0, atol=1e-10)


def test_engd_reaches_the_exponential_fit():
    x = torch.tensor([1.0, 0.0], dtype=torch.float64, requires_grad=True)
    found = fit(EnergyNaturalGradient([x]), exponential, x)
    ref = scipy.optimize.least_squares(lambda p: exponential(torch.from_numpy(p)).numpy(), [1.0, 0.0], method="lm")
    np.testing.assert_allclose(found, ref.x, atol=1e-8)


@pytest.mark.parametrize("shape", [(6, 9), (9, 6)])
def test_parameter_and_sample_space_steps_agree(shape):
    gen = torch.Generator().manual_seed(0)
    J = torch.randn(*shape, generator=gen, dtype=torch.float64)
    r = torch.randn(shape[0], generator=gen, dtype=torch.float64)
    damping = torch.tensor(0.3, dtype=torch.float64)
    d_param = DampedSystem(J, r, "parameter").step(damping)
    d_sample = DampedSystem(J, r, "sample").step(damping)
    expected = -torch.linalg.solve(J.T @ J + damping * torch.eye(shape[1], dtype=torch.float64), J.T @ r)
    torch.testing.assert_close(d_param, expected)
    torch.testing.assert_close(d_sample, expected)


def test_lm_keeps_a_bound_and_agrees_with_scipy_bounded():
    """The decay rate bounded above -1.5 (its free optimum is -1.3): it ends exactly on the bound."""
    x = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    bounds = {"lower": torch.tensor([-10.0, -10.0]), "upper": torch.tensor([10.0, -1.5])}
    opt = LevenbergMarquardt([{"params": [x], **bounds}])
    found = fit(opt, exponential, x)
    ref = scipy.optimize.least_squares(lambda p: exponential(torch.from_numpy(p)).numpy(), [1.0, -2.0],
                                       bounds=([-10, -10], [10, -1.5]), xtol=1e-15, ftol=1e-15, gtol=1e-15)
    assert found[1] == -1.5
    np.testing.assert_allclose(found, ref.x, atol=1e-7)


def test_lm_continues_identically_from_its_state_dict():
    """What a checkpoint relies on: the damping and its growth factor survive a state-dict round trip."""
    x, y = (torch.tensor([1.0, 0.0], dtype=torch.float64, requires_grad=True) for _ in range(2))
    fit(LevenbergMarquardt([x]), exponential, x, steps=6)
    first = LevenbergMarquardt([y])
    fit(first, exponential, y, steps=3)
    second = LevenbergMarquardt([y], damping=0.5)
    second.load_state_dict(first.state_dict())
    fit(second, exponential, y, steps=3)
    torch.testing.assert_close(y, x, rtol=0, atol=0)


def test_lm_phase_stops_converged_at_an_exact_solution():
    A = torch.tensor([[2.0, 1.0], [1.0, 3.0], [0.0, 1.0]], dtype=torch.float64)
    x = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    b = A @ torch.tensor([1.0, -1.0], dtype=torch.float64)
    result = minimize([x], "lm", residuals=lambda: A @ x - b, iterations=200)
    assert result.status == "converged" and "numerical floor" in result.message
    assert result.iterations < 200 and result.loss < 1e-28
    np.testing.assert_allclose(x.detach().numpy(), [1.0, -1.0], atol=1e-14)



@pytest.fixture(scope="module")
def burgers():
    return build(load(ROOT / "problems" / "burgers.toml", ("model.hard_constraints=false", "points.interior=100",
                                                             "points.boundary=30", "points.initial=30",
                                                             "loss.weights.ic=5.0", "model.depth=2", "model.width=6",
                                                             "points.evaluation=100", "model.compile=false")))


def test_residual_vector_squares_to_the_loss_term_by_term(burgers):
    objective = burgers.objective
    r, slices = objective.residual_vector()
    loss, terms = objective.loss()
    assert set(slices) == set(terms) == {"pde", "bc", "ic"}
    for name, part in slices.items():
        weight = objective.weights.get(name, 1.0)
        torch.testing.assert_close(r[part].square().sum(), weight * terms[name])
    torch.testing.assert_close(r.square().sum(), loss)


def test_jacobian_from_blocks_equals_the_whole_vectors(burgers):
    objective, params = burgers.objective, list(burgers.model.parameters())
    r_whole, J_whole = jacobian(Residuals(lambda: objective.residual_vector()[0]), params, 1.0)
    r_blocks, J_blocks = jacobian(Residuals(lambda: objective.residual_vector()[0],
                                            lambda: objective.residual_blocks(7)), params, 1.0)
    torch.testing.assert_close(r_blocks, r_whole)
    torch.testing.assert_close(J_blocks, J_whole)


def test_memory_guard_refuses_in_one_line():
    with pytest.raises(MemoryBudgetError, match=r"\(200000 residuals x 5000 parameters\) .* 7\.64 GiB, over "
                                                r"max_memory_gb = 2; use fewer collocation points, a smaller network"):
        check_memory(200_000, 5_000, 8, 2.0)
    check_memory(2_000, 500, 8, 2.0)


def test_cli_exits_2_when_the_jacobian_would_not_fit(tmp_path, capsys):
    code = main(["solve", str(ROOT / "problems" / "poisson_accurate.toml"), "--quiet", "--out", str(tmp_path / "run"),
                 "--set", 'phases[1]={optimizer = "lm", iterations = 10}', "--set", "phases[1].max_memory_gb=0.001"])
    err = capsys.readouterr().err
    assert code == 2 and not (tmp_path / "run").exists()
    assert err.count("\n") == 1 and "phases[1] (lm)" in err and "over max_memory_gb = 0.001" in err


def _errors(run_dir):
    with open(run_dir / "history.csv") as f:
        rows = list(csv.DictReader(f))
    warm = [float(r["rel_l2_u"]) for r in rows if r["optimizer"] == "adam"][-1]
    return warm, float(rows[-1]["rel_l2_u"])


@pytest.mark.parametrize("optimizer", ["lm", "engd", "gncg", "sgn"])
def test_tiny_poisson_solve_goes_far_below_the_adam_start(optimizer, tmp_path):
    overrides = ("points.interior=150", "model.depth=1", "model.width=10", "points.evaluation=400",
                 "phases[0].iterations=100", f'phases[1]={{optimizer = "{optimizer}", iterations = 25}}',
                 "output.log_every=25")
    result = pinnkit.solve(ROOT / "problems" / "poisson_accurate.toml", overrides, out=tmp_path / "run")
    warm, final = _errors(result.run_dir)
    assert result.status == "completed" and result.summary["dtype"] == "float64"
    assert final < 1e-2 * warm


@pytest.mark.parametrize("optimizer", ["lm", "sgn"])
def test_jacobian_phases_run_where_several_terms_share_one_graph(optimizer, tmp_path):
    """Kovasznay's momentum and continuity residuals come from one derivative pass over the same points."""
    overrides = ["points.interior=60", "points.boundary=20", "model.width=8", "model.depth=2", "points.evaluation=100",
                 "phases[0].iterations=20", f'phases[1]={{optimizer = "{optimizer}", iterations = 5, sketch = 64}}'
                 if optimizer == "sgn" else 'phases[1]={optimizer = "lm", iterations = 5}', "model.compile=false"]
    result = pinnkit.solve("kovasznay", overrides, out=tmp_path / "run")
    assert result.status == "completed" and result.summary["phases"][1]["iterations"] == 5
    rows = list(csv.DictReader(open(result.run_dir / "history.csv")))
    assert float(rows[-1]["loss"]) < 0.9 * float([r for r in rows if r["optimizer"] == "adam"][-1]["loss"])


def test_a_singular_gramian_falls_back_to_least_squares_and_says_so(caplog):
    """r = x0 + x1 - 1: J^T J = [[1, 1], [1, 1]] is singular; without damping Cholesky fails."""
    x = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    optimizer = EnergyNaturalGradient([x], damping=0.0, space="parameter")
    with caplog.at_level("WARNING", logger="pinnkit"):
        optimizer.step(lambda: (x.sum() - 1)[None])
    assert optimizer.state[x]["fallbacks"] == 1 and "solved by least squares instead of Cholesky" in caplog.text
    torch.testing.assert_close(x.detach(), torch.tensor([0.5, 0.5], dtype=torch.float64))  # the minimum-norm step


def test_jacobian_products_match_the_dense_jacobian():
    gen = torch.Generator().manual_seed(3)
    a = torch.randn(3, generator=gen, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, generator=gen, dtype=torch.float64, requires_grad=True)
    t = torch.linspace(0, 1, 7, dtype=torch.float64)
    r_of = lambda: torch.cat([a[0] * torch.exp(a[1] * t) + a[2] * b[0], torch.sin(b)])  # noqa: E731
    _, J = jacobian(Residuals(r_of), [a, b], 1.0)
    products = JacobianProducts(r_of(), [a, b])
    v, u = torch.randn(5, generator=gen, dtype=torch.float64), torch.randn(9, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(products.forward(v), J @ v)
    torch.testing.assert_close(products.transposed(u), J.T @ u)


@pytest.mark.parametrize("damping", [1e-6, 0.3])
def test_cgls_solves_the_damped_system_the_dense_solve_solves(damping):
    gen = torch.Generator().manual_seed(4)
    A = torch.randn(12, 5, generator=gen, dtype=torch.float64)
    x = torch.randn(5, generator=gen, dtype=torch.float64, requires_grad=True)
    c = torch.randn(12, generator=gen, dtype=torch.float64)
    r = A @ x - c
    d, Jd = cgls(JacobianProducts(r, [x]), r.detach(), damping, torch.ones(5, dtype=torch.bool), 50, 1e-14)
    expected = DampedSystem(A, r.detach(), "parameter").step(torch.tensor(damping, dtype=torch.float64))
    torch.testing.assert_close(d, expected)
    torch.testing.assert_close(Jd, A @ expected)


@pytest.mark.parametrize("residual, x0", [(exponential, [1.0, 0.0]), (rosenbrock, [-1.2, 1.0])])
def test_gncg_agrees_with_scipy_least_squares(residual, x0):
    x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    found = fit(GaussNewtonCG([x], cg_iterations=10, cg_tol=1e-14), residual, x, steps=200)
    ref = scipy.optimize.least_squares(lambda p: residual(torch.from_numpy(p)).numpy(), x0, method="lm",
                                       xtol=1e-15, ftol=1e-15, gtol=1e-15)
    np.testing.assert_allclose(found, ref.x, atol=1e-8)


def test_gncg_keeps_a_bound_and_continues_identically_from_its_state_dict():
    """Rosenbrock with z0 <= 0.5: the constrained minimum (0.5, 0.25), reached with the bound active; a state-dict
    round trip half-way gives the same iterates."""
    def run(z, optimizer, steps):
        return fit(optimizer, rosenbrock, z, steps)

    z = torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)
    bounded = lambda p: [{"params": [p], "upper": torch.tensor([0.5, 5.0], dtype=torch.float64)}]  # noqa: E731
    run(z, GaussNewtonCG(bounded(z), cg_iterations=10, cg_tol=1e-14), 300)
    np.testing.assert_allclose(z.detach().numpy(), [0.5, 0.25], atol=1e-8)
    assert z[0].item() == 0.5
    p, q = (torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True) for _ in range(2))
    run(p, GaussNewtonCG([p], cg_iterations=2), 8)
    first = GaussNewtonCG([q], cg_iterations=2)
    run(q, first, 4)
    second = GaussNewtonCG([q], cg_iterations=2)
    second.load_state_dict(first.state_dict())
    run(q, second, 4)
    torch.testing.assert_close(q, p, rtol=0, atol=0)


def test_gncg_damping_grows_on_rejected_steps_and_shrinks_on_good_ones():
    """r = sin(x) from x = 1.2: the undamped Gauss-Newton step -tan(1.2) overshoots to where |sin| is larger, so
    the damping must grow before a step is taken; near the root the steps are good and it shrinks by 3 each."""
    x = torch.tensor([1.2], dtype=torch.float64, requires_grad=True)
    optimizer = GaussNewtonCG([x], damping=1e-8, cg_iterations=5, cg_tol=0)
    losses, dampings = [], []
    for _ in range(6):
        losses.append(float(optimizer.step(lambda: torch.sin(x))))
        dampings.append(optimizer.state[x]["damping"])
    start = 1e-8 * math.cos(1.2) ** 2  # damping times the (exact, one-parameter) Hutchinson scale
    assert dampings[0] > 1e3 * start and losses[0] < math.sin(1.2) ** 2
    assert all(later == pytest.approx(earlier / 3) for earlier, later in zip(dampings[1:], dampings[2:]))
    assert all(b < a for a, b in zip(losses, losses[1:])) and abs(x.item()) < 1e-8


def test_cli_exits_2_when_gncg_graphs_would_not_fit(tmp_path, capsys):
    code = main(["solve", str(ROOT / "problems" / "poisson_accurate.toml"), "--quiet", "--out", str(tmp_path / "run"),
                 "--set", 'phases[1]={optimizer = "gncg", iterations = 10}', "--set", "phases[1].max_memory_gb=0.0001"])
    err = capsys.readouterr().err
    assert code == 2 and not (tmp_path / "run").exists()
    assert err.count("\n") == 1 and "phases[1] (gncg): gncg keeps the graph of the residual" in err
    assert "over max_memory_gb = 0.0001" in err


def test_gncg_runs_in_float32(tmp_path):
    overrides = ("points.interior=150", "model.depth=1", "model.width=10", "points.evaluation=400",
                 "phases[0].iterations=100", 'phases[1]={optimizer = "gncg", iterations = 10, dtype = "float32"}',
                 "output.log_every=5")
    result = pinnkit.solve(ROOT / "problems" / "poisson_accurate.toml", overrides, out=tmp_path / "run")
    warm, final = _errors(result.run_dir)
    assert result.status == "completed" and result.summary["dtype"] == "float32" and final < 0.1 * warm


def test_a_count_sketch_of_the_jacobian_sums_signed_rows_into_buckets(burgers):
    """S J as the sketch defines it (each row into its bucket with its sign), from chunks of J."""
    params = list(burgers.model.parameters())
    r, J = jacobian(burgers.view().residuals, params, 1.0)
    gen = torch.Generator().manual_seed(7)
    buckets, signs = torch.randint(40, (len(r),), generator=gen), torch.randint(2, (len(r),), generator=gen) * 2 - 1
    S = torch.zeros(40, len(r), dtype=torch.float64)
    S[buckets, torch.arange(len(r))] = signs.double()
    r_all, gradient, SJ = sketched_jacobian(burgers.view().residuals, params, 40, torch.Generator().manual_seed(7))
    torch.testing.assert_close(r_all, r)
    torch.testing.assert_close(gradient, J.T @ r)
    torch.testing.assert_close(SJ, S @ J)


@pytest.mark.parametrize("residual, x0", [(exponential, [1.0, 0.0]), (rosenbrock, [-1.2, 1.0])])
def test_sgn_without_a_sketch_takes_the_lm_steps(residual, x0):
    """A sketch at least as large as the residual is none: the iterates are Levenberg-Marquardt's."""
    x, y = (torch.tensor(x0, dtype=torch.float64, requires_grad=True) for _ in range(2))
    lm, sgn = LevenbergMarquardt([x]), SketchedGaussNewton([y], sketch=100)
    for _ in range(15):
        lm.step(lambda: residual(x))
        sgn.step(lambda: residual(y))
        torch.testing.assert_close(y, x, rtol=1e-12, atol=1e-14)


def test_sgn_confined_to_sketched_subspaces_solves_a_consistent_problem_exactly():
    """200 linear residuals in 30 unknowns sketched to 20 rows: each step moves in a 20-dimensional subspace (the
    sample-space solve), and the exact gradient still takes the iterates to the solution."""
    gen = torch.Generator().manual_seed(0)
    M = torch.randn(200, 30, generator=gen, dtype=torch.float64)
    solution = torch.randn(30, generator=gen, dtype=torch.float64)
    x = torch.zeros(30, dtype=torch.float64, requires_grad=True)
    optimizer = SketchedGaussNewton([x], sketch=20)
    for _ in range(300):
        if optimizer.step(lambda: M @ x - M @ solution) < 1e-26:
            break
    torch.testing.assert_close(x.detach(), solution, rtol=0, atol=1e-12)


def test_sgn_with_a_sketch_reaches_the_least_squares_minimum():
    """The exponential fit (25 residuals, not zero at the minimum) sketched to 10 rows: SciPy's minimizer."""
    x = torch.tensor([1.0, 0.0], dtype=torch.float64, requires_grad=True)
    found = fit(SketchedGaussNewton([x], sketch=10), exponential, x, steps=300)
    ref = scipy.optimize.least_squares(lambda p: exponential(torch.from_numpy(p)).numpy(), [1.0, 0.0], method="lm",
                                       xtol=1e-15, ftol=1e-15, gtol=1e-15)
    np.testing.assert_allclose(found, ref.x, atol=1e-8)


def test_sgn_damping_grows_on_rejected_steps_and_shrinks_on_good_ones():
    """r = sin(x) from x = 1.2: the undamped step overshoots, so the damping grows before one is taken; near
    the root each good step (gain ratio near 1) divides it by 3."""
    x = torch.tensor([1.2], dtype=torch.float64, requires_grad=True)
    optimizer = SketchedGaussNewton([x], damping=1e-8)
    losses, dampings = [], []
    for _ in range(6):
        losses.append(float(optimizer.step(lambda: torch.sin(x))))
        dampings.append(optimizer.state[x]["damping"])
    assert dampings[0] > 1e3 * 1e-8 * math.cos(1.2) ** 2 and losses[0] < math.sin(1.2) ** 2
    assert all(later == pytest.approx(earlier / 3) for earlier, later in zip(dampings[1:], dampings[2:]))
    assert all(b < a for a, b in zip(losses, losses[1:])) and abs(x.item()) < 1e-8


def test_sgn_keeps_a_bound_and_continues_identically_from_its_state_dict():
    """The exponential fit with the rate bounded above -1.5 ends on the bound; a state-dict round trip half-way
    draws the same sketches and gives the same iterates."""
    x = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    fit(SketchedGaussNewton([{"params": [x], "upper": torch.tensor([10.0, -1.5])}], sketch=10), exponential, x, 300)
    assert x[1].item() == -1.5
    p, q = (torch.tensor([1.0, 0.0], dtype=torch.float64, requires_grad=True) for _ in range(2))
    fit(SketchedGaussNewton([p], sketch=10, seed=3), exponential, p, steps=8)
    first = SketchedGaussNewton([q], sketch=10, seed=3)
    fit(first, exponential, q, steps=4)
    second = SketchedGaussNewton([q], sketch=10, seed=3)
    second.load_state_dict(first.state_dict())
    fit(second, exponential, q, steps=4)
    torch.testing.assert_close(q, p, rtol=0, atol=0)


@pytest.mark.parametrize("n", [1, 2, 7, 64, 513])
def test_cosine_transform_is_scipys_orthonormal_dct_and_idct_inverts_it(n):
    x = torch.randn(3, n, dtype=torch.float64, generator=torch.Generator().manual_seed(n))
    np.testing.assert_allclose(dct(x).numpy(), scipy.fft.dct(x.numpy(), norm="ortho"), rtol=0, atol=1e-13)
    np.testing.assert_allclose(idct(x).numpy(), scipy.fft.idct(x.numpy(), norm="ortho"), rtol=0, atol=1e-13)
    torch.testing.assert_close(idct(dct(x)), x, rtol=0, atol=1e-13)


def test_column_sketch_step_is_the_damped_step_within_its_subspace():
    """The subspace step equals W z with z = -(W^T A^T A W + lam I)^{-1} W^T g for W built column by column
    (orthonormal), and parameters held at a bound do not move."""
    gen = torch.Generator().manual_seed(1)
    A, g = torch.randn(12, 40, generator=gen, dtype=torch.float64), torch.randn(40, generator=gen, dtype=torch.float64)
    sketch = ColumnSketch(40, 9, torch.Generator().manual_seed(2), g)
    W = torch.stack([sketch.expand(e) for e in torch.eye(9, dtype=torch.float64)], dim=1)
    torch.testing.assert_close(W.T @ W, torch.eye(9, dtype=torch.float64), rtol=0, atol=1e-13)
    torch.testing.assert_close(sketch.reduce(A), A @ W, rtol=0, atol=1e-12)
    torch.testing.assert_close(sketch.reduce(g), W.T @ g, rtol=0, atol=1e-12)
    B = A @ W
    z = -torch.linalg.solve(B.T @ B + 0.3 * torch.eye(9, dtype=torch.float64), W.T @ g)
    none_held = torch.zeros(40, dtype=torch.bool)
    torch.testing.assert_close(SubspaceSystem(A, g, sketch, none_held).step(0.3), W @ z, rtol=0, atol=1e-12)
    held = none_held.clone()
    held[:5] = True
    assert SubspaceSystem(A, g, sketch, held).step(0.3)[:5].abs().max() == 0


def test_sgn_in_random_subspaces_solves_a_consistent_problem_and_resumes_exactly():
    """200 linear residuals in 30 unknowns, rows sketched to 20 and each step sought in 8 random directions:
    the iterates still reach the solution, and a state-dict round trip draws the same subspaces."""
    gen = torch.Generator().manual_seed(0)
    M = torch.randn(200, 30, generator=gen, dtype=torch.float64)
    solution = torch.randn(30, generator=gen, dtype=torch.float64)
    x = torch.zeros(30, dtype=torch.float64, requires_grad=True)
    optimizer = SketchedGaussNewton([x], sketch=20, columns=8)
    steps = next(k for k in range(2000) if optimizer.step(lambda: M @ x - M @ solution) < 1e-26)
    torch.testing.assert_close(x.detach(), solution, rtol=0, atol=1e-12)
    assert steps > 30  # 8 of 30 directions a step: more steps than the full-dimension solve needs
    p, q = (torch.zeros(30, dtype=torch.float64, requires_grad=True) for _ in range(2))
    fit(SketchedGaussNewton([p], sketch=20, columns=8, seed=4), lambda v: M @ v - M @ solution, p, steps=10)
    first = SketchedGaussNewton([q], sketch=20, columns=8, seed=4)
    fit(first, lambda v: M @ v - M @ solution, q, steps=5)
    second = SketchedGaussNewton([q], sketch=20, columns=8, seed=4)
    second.load_state_dict(first.state_dict())
    fit(second, lambda v: M @ v - M @ solution, q, steps=5)
    torch.testing.assert_close(q, p, rtol=0, atol=0)


def test_cli_exits_2_when_the_sketch_would_not_fit(tmp_path, capsys):
    code = main(["solve", str(ROOT / "problems" / "poisson_accurate.toml"), "--quiet", "--out", str(tmp_path / "run"),
                 "--set", 'phases[1]={optimizer = "sgn", iterations = 10, sketch = 500}',
                 "--set", "phases[1].max_memory_gb=0.001"])
    err = capsys.readouterr().err
    assert code == 2 and not (tmp_path / "run").exists() and err.count("\n") == 1
    assert "phases[1] (sgn): sgn needs about" in err and "a 500 x 501 sketch" in err
    assert "over max_memory_gb = 0.001" in err


def test_sgn_sketched_in_float32_with_redraws(tmp_path):
    overrides = ("points.interior=150", "model.depth=1", "model.width=10", "points.evaluation=400",
                 "phases[0].iterations=100", 'phases[1]={optimizer = "sgn", iterations = 20, dtype = "float32", '
                 'sketch = 60, resample_every = 5, resample = "rad"}', "output.log_every=5")
    result = pinnkit.solve(ROOT / "problems" / "poisson_accurate.toml", overrides, out=tmp_path / "run")
    warm, final = _errors(result.run_dir)
    assert result.status == "completed" and result.summary["dtype"] == "float32" and final < 0.1 * warm


@pytest.mark.parametrize("case, overrides", [
    ("kovasznay", ("model.width=12", "points.interior=80", "points.boundary=30")),  # vector terms, one graph
    ("poisson_lshape", ("points.interior=80", "points.boundary=20")),  # Neumann: normals ride with each point
    ("poisson_accurate", ("points.interior=80",)),  # an affine output transform: its jets ride with each point
    ("burgers", ("points.interior=80",)),  # the same in (x, t), u_xx among the rows
])
def test_point_by_point_jacobian_equals_the_batched_backward_one(case, overrides):
    setup = build(load(case, ("model.compile=false", "model.width=12", "model.depth=2", *overrides)))
    params, residuals = list(setup.model.parameters()), setup.view().residuals
    assert residuals.jacobian(params) is not None  # the MLP (transformed or not) through jets: per point
    ticks = []
    counted = setup.view().counted(lambda: ticks.append(1)).residuals  # what a phase is handed
    assert counted.jacobian(params) is not None and ticks == [1]
    r, J = jacobian(residuals, params, 1.0)
    r_batched, J_batched = jacobian(Residuals(residuals.vector, residuals.blocks), params, 1.0)
    torch.testing.assert_close(r, r_batched, rtol=0, atol=1e-14)
    torch.testing.assert_close(J, J_batched, rtol=0, atol=1e-14)


def test_a_process_share_keeps_the_transform_jets_of_its_points(monkeypatch):
    """On a process's share of the points the engine keeps the output transform's coefficient jets as on all of
    them (the share's tensor is not seen as a view): two losses and two per-point Jacobians differentiate it once."""
    setup = build(load("burgers", ("model.compile=false", "model.width=12", "model.depth=2", "points.interior=80")))
    objective, params = setup.objective, list(setup.model.parameters())
    objective.shard = Shard(1, 2)
    objective.to(setup.device, torch.float64)
    of, calls = AffineJets.of.__func__, []
    monkeypatch.setattr(AffineJets, "of", classmethod(lambda cls, *args: calls.append(1) or of(cls, *args)))
    residuals = setup.view().residuals
    assert residuals.jacobian(params) is not None and len(objective.groups[0].batch["points"]) == 40
    for _ in range(2):
        objective.loss()
        r, J = jacobian(residuals, params, 1.0)
    r_batched, J_batched = jacobian(Residuals(residuals.vector, residuals.blocks), params, 1.0)
    torch.testing.assert_close(J, J_batched, rtol=0, atol=1e-14)
    assert len(calls) == 1


def test_the_per_point_route_stands_aside_where_it_cannot_apply(burgers, caplog):
    """An output transform not affine in the network's outputs and trainable PDE parameters keep the batched
    backward passes; so does a residual torch.func cannot transform; each said once in the log."""
    constrained = build(load(ROOT / "problems" / "poisson_accurate.toml", ("points.interior=50",)))
    constrained.model.transform = lambda c, raw: {"u": c["x"] * (1 - c["x"]) * torch.tanh(raw["u"])}
    with caplog.at_level("INFO", logger="pinnkit"):
        assert constrained.view().residuals.jacobian(list(constrained.model.parameters())) is None
    assert "unavailable (ValueError: the output transform is not affine in the network's outputs)" in caplog.text
    caplog.clear()
    inverse = build(load(ROOT / "problems" / "burgers_inverse.toml", ("points.interior=50", "model.compile=false")))
    assert inverse.view().residuals.jacobian([*inverse.model.parameters(), *inverse.problem.trainable.values()]) is None
    params, view = list(burgers.model.parameters()), burgers.view()
    group = burgers.objective.groups[0]
    plain = group.residuals
    group.residuals = lambda d, batch: {"pde": d.u_t * float(d.u.detach().sum())}  # a Python number: no vmap
    try:
        with caplog.at_level("INFO", logger="pinnkit"):
            assert view.residuals.jacobian(params) is None and view.residuals.jacobian(params) is None
    finally:
        group.residuals = plain
    assert caplog.text.count("per-point Jacobian rows unavailable") == 1
