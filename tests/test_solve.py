"""End to end: a short Burgers solve from Python and from the CLI, and the trained run read back."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import pinnkit
from pinnkit.pdes.burgers_exact import burgers_exact

ROOT = Path(__file__).resolve().parents[1]
BURGERS = ROOT / "problems" / "burgers.toml"
TINY = ("model.hard_constraints=false", "points.interior=300", "points.boundary=40", "points.initial=40", "points.evaluation=400",
        "model.depth=3", "model.width=16", "output.log_every=10",
        "phases[0].iterations=60", "phases[0].lr=5e-3", "phases[1].iterations=40")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    return pinnkit.solve(BURGERS, TINY, out=tmp_path_factory.mktemp("run") / "burgers")


def _history(run_dir):
    with open(run_dir / "history.csv") as f:
        return list(csv.DictReader(f))


def test_solve_writes_every_run_file(tiny_run):
    for name in ("config.toml", "model.pt", "history.csv", "summary.json"):
        assert (tiny_run.run_dir / name).stat().st_size > 0
    summary = json.loads((tiny_run.run_dir / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert [p["optimizer"] for p in summary["phases"]] == ["adam", "lbfgsb"]
    assert summary["phases"][0]["iterations"] == 60 and summary["phases"][0]["status"] == "completed"
    assert summary["phases"][1]["message"].startswith("SciPy") or summary["phases"][1]["status"] == "completed"
    assert summary["dtype"] == "float64" and summary["seed"] == 0 and summary["device"] == "cpu"
    assert set(summary["versions"]) >= {"pinnkit", "torch"}
    assert set(summary["loss"]) == {"loss", "pde", "bc", "ic"}
    assert 0 < summary["rel_l2"]["u"] < 1.5


def test_history_has_terms_error_and_falling_loss(tiny_run):
    rows = _history(tiny_run.run_dir)
    assert list(rows[0])[:8] == ["phase", "optimizer", "iteration", "step", "evaluations", "time", "lr", "loss"]
    assert {"pde", "bc", "ic", "rel_l2_u"} <= set(rows[0])
    assert [int(r["step"]) for r in rows] == sorted(int(r["step"]) for r in rows)
    assert {r["phase"] for r in rows} == {"0", "1"}
    first, last = float(rows[0]["loss"]), float(rows[-1]["loss"])
    assert last < 0.5 * first
    for r in rows:
        total = sum(float(r[t]) for t in ("pde", "bc", "ic"))
        assert float(r["loss"]) == pytest.approx(total, rel=1e-5)


def test_resolved_config_reproduces_the_run_config(tiny_run):
    cfg = pinnkit.config.load(tiny_run.run_dir / "config.toml")
    assert cfg == pinnkit.config.load(BURGERS, TINY)


def test_load_predict_matches_in_memory_model(tiny_run):
    solution = pinnkit.load(tiny_run.run_dir)
    points = np.random.default_rng(1).uniform([-1, 0], [1, 1], size=(100, 2))
    loaded = solution.predict(points)["u"]
    assert loaded.shape == (100,)
    with torch.no_grad():
        model = tiny_run.solution.model
        p = next(model.parameters())
        direct = model(torch.as_tensor(points, dtype=p.dtype)).double().numpy()[:, 0]
    np.testing.assert_allclose(loaded, direct, rtol=0, atol=1e-12)
    np.testing.assert_allclose(tiny_run.solution.predict(points)["u"], direct, rtol=0, atol=1e-12)


def test_predict_rejects_wrong_shape(tiny_run):
    with pytest.raises(ValueError, match=r"points must have shape \(N, 2\) in the order \('x', 't'\)"):
        pinnkit.load(tiny_run.run_dir).predict(np.zeros((5, 3)))


def test_rel_l2_in_summary_is_the_error_against_the_exact_solution(tiny_run):
    solution = pinnkit.load(tiny_run.run_dir)
    x, t = np.meshgrid(np.linspace(-1, 1, 20), np.linspace(0, 1, 20), indexing="ij")
    pts = np.stack([x.ravel(), t.ravel()], axis=1)
    exact = burgers_exact(pts[:, 0], pts[:, 1], 0.01 / np.pi)
    err = np.linalg.norm(solution.predict(pts)["u"] - exact) / np.linalg.norm(exact)
    assert err == pytest.approx(tiny_run.rel_l2["u"], rel=0.05)


def test_same_seed_same_history(tiny_run, tmp_path):
    again = pinnkit.solve(BURGERS, TINY, out=tmp_path / "again")
    a, b = _history(tiny_run.run_dir), _history(again.run_dir)
    assert [{k: v for k, v in r.items() if k != "time"} for r in a] == \
        [{k: v for k, v in r.items() if k != "time"} for r in b]  # every loss, error and count, to the last digit


def test_hard_constraints_satisfy_initial_and_boundary_conditions_exactly(tmp_path):
    result = pinnkit.solve(BURGERS, TINY + ("model.hard_constraints=true", "phases[1].iterations=5"),
                           out=tmp_path / "hard")
    assert set(result.summary["loss"]) == {"loss", "pde"}
    x = np.linspace(-1, 1, 11)
    u0 = result.solution.predict(np.stack([x, np.zeros_like(x)], 1))["u"]
    np.testing.assert_allclose(u0, -np.sin(np.pi * x), atol=1e-12)
    ub = result.solution.predict(np.array([[-1.0, 0.3], [1.0, 0.7]]))["u"]
    np.testing.assert_allclose(ub, 0, atol=1e-12)


def test_cli_solve_and_list(tmp_path):
    out = tmp_path / "cli"
    args = [sys.executable, "-m", "pinnkit", "solve", str(BURGERS), "--out", str(out), "--quiet"]
    args += [a for kv in TINY for a in ("--set", kv)]
    proc = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    result, last = proc.stdout.strip().splitlines()[-2:]
    assert result.startswith("completed: rel_l2 u = ") and result.endswith(f"run folder: {out}")
    assert last == "more accurate, and slower: python -m pinnkit solve burgers_accurate"
    assert {p.name for p in out.iterdir()} >= {"config.toml", "model.pt", "history.csv", "summary.json"}


def test_list_names_every_shipped_case_and_solve_and_init_take_them(tmp_path):
    listing = subprocess.run([sys.executable, "-m", "pinnkit", "list"], capture_output=True, text=True, cwd=tmp_path)
    listed = [line.split()[0] for line in listing.stdout.splitlines() if line and not line.startswith("problem ")]
    assert listing.returncode == 0 and listed == sorted(p.stem for p in (ROOT / "problems").glob("*.toml"))
    assert "burgers_inverse  " in listing.stdout and "Viscous Burgers (Raissi et al. 2019)" in listing.stdout
    small = ("points.interior=100", "points.evaluation=64", "model.depth=2", "phases[0].iterations=5")
    proc = subprocess.run([sys.executable, "-m", "pinnkit", "solve", "burgers_inverse", "--out", "run", "--quiet",
                           "--no-plots", *[a for kv in small for a in ("--set", kv)]],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0 and "completed" in proc.stdout, proc.stderr
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["identified"]["nu"]["true"] is not None
    init = subprocess.run([sys.executable, "-m", "pinnkit", "init", "burgers_inverse", "mine/case.toml"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert init.returncode == 0 and (tmp_path / "mine" / "case.toml").read_text() == \
        (ROOT / "problems" / "burgers_inverse.toml").read_text()
    assert (tmp_path / "mine" / "data" / "burgers_observations.npz").is_file()
    again = subprocess.run([sys.executable, "-m", "pinnkit", "init", "burgers_inverse", "mine/case.toml"],
                           capture_output=True, text=True, cwd=tmp_path)
    assert again.returncode == 2 and again.stderr.strip().endswith("case.toml exists already; choose another file")


def test_non_finite_loss_stops_with_message_and_keeps_last_finite_model(tmp_path):
    result = pinnkit.solve(BURGERS, TINY + ("phases[0].lr=1e30", "phases[0].iterations=40"), out=tmp_path / "nan")
    assert result.status == "diverged"
    assert "phase 0 (adam)" in result.summary["message"] and "non-finite" in result.summary["message"]
    assert len(result.summary["phases"]) == 1
    state = torch.load(result.run_dir / "model.pt", weights_only=True)
    assert all(torch.isfinite(v).all() for v in state["model"].values())
    assert json.loads((result.run_dir / "summary.json").read_text())["status"] == "diverged"


def test_history_has_the_learning_rate_of_each_step(tmp_path):
    overrides = TINY + ("phases[0].schedule=exponential", "phases[0].decay_rate=0.5", "phases[0].decay_steps=20")
    rows = _history(pinnkit.solve(BURGERS, overrides, out=tmp_path / "run").run_dir)
    adam = {int(r["iteration"]): float(r["lr"]) for r in rows if r["optimizer"] == "adam"}
    assert adam[0] == adam[1 if 1 in adam else 0] == 5e-3 and adam[20] == pytest.approx(5e-3 * 0.5 ** (19 / 20))
    assert adam[60] == pytest.approx(5e-3 * 0.5 ** (59 / 20))
    assert {r["lr"] for r in rows if r["optimizer"] == "lbfgsb"} == {""}  # no learning rate: an empty cell


def test_a_callback_stops_the_run_at_an_error_target(tmp_path):
    seen = []

    def target(row):
        seen.append(row)
        return row["rel_l2_u"] < 0.8 and "rel L2 u below 0.8"

    result = pinnkit.solve(BURGERS, TINY, out=tmp_path / "run", callbacks=[target])
    assert result.status == "stopped" and result.summary["message"] == \
        "stopped by a callback in phase 0 at iteration 50: rel L2 u below 0.8"
    assert seen[-1]["rel_l2_u"] < 0.8 and all(r["rel_l2_u"] >= 0.8 for r in seen[:-1])
    rows = _history(result.run_dir)
    assert float(rows[-1]["rel_l2_u"]) == pytest.approx(seen[-1]["rel_l2_u"]) and len(rows) == len(seen)
    assert pinnkit.load(result.run_dir).predict(np.zeros((1, 2)))["u"].shape == (1,)  # the model was written


def test_predict_gives_derivatives_and_residuals_that_match_autograd_in_any_batches(tiny_run):
    sol = pinnkit.load(tiny_run.run_dir)
    pts = np.random.default_rng(3).uniform([-1, 0], [1, 1], size=(50, 2))
    got = sol.predict(pts, derivatives=["u_x", "u_t", "u_xx"], residuals=True, batch=7)
    x = torch.as_tensor(pts).requires_grad_(True)
    u = sol.model(x)[:, 0]
    (du,) = torch.autograd.grad(u.sum(), x, create_graph=True)
    (du_x,) = torch.autograd.grad(du[:, 0].sum(), x)
    nu = sol.problem.nu.item()
    expected = {"u": u, "u_x": du[:, 0], "u_t": du[:, 1], "u_xx": du_x[:, 0],
                "pde": du[:, 1] + u * du[:, 0] - nu * du_x[:, 0]}
    assert set(got) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(got[name].reshape(-1), value.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sol.predict(pts, batch=7)["u"], sol.predict(pts)["u"], rtol=1e-13, atol=1e-15)
    with pytest.raises(ValueError, match="derivative 'w_x': expected FIELD_COORDS"):
        sol.predict(pts, derivatives=["w_x"])


def test_a_case_name_is_located_wherever_a_config_file_is_taken(tmp_path, monkeypatch):
    from pinnkit import catalog

    monkeypatch.chdir(tmp_path)
    assert catalog.locate("burgers") == ROOT / "problems" / "burgers.toml"
    assert catalog.locate("no_such_case") == Path("no_such_case")
    (tmp_path / "burgers").write_text("a file of that name wins")
    assert catalog.locate("burgers") == Path("burgers")


def test_a_default_case_names_its_accurate_configuration():
    from pinnkit import catalog

    assert catalog.accurate("burgers") == "burgers_accurate"
    assert catalog.accurate(ROOT / "problems" / "poisson_lshape.toml") == "poisson_lshape_accurate"
    assert catalog.accurate("burgers_accurate") is None and catalog.accurate("burgers_inverse") is None
