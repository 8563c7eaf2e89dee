"""Time-marching: window edges, the hand-off from one window to the next (exact under hard constraints, as
targets otherwise), one run folder for all windows, resume inside a window, and the configs it refuses."""
import csv
import math
import os
import signal
from pathlib import Path

import numpy as np
import pytest
import torch

import pinnkit
from pinnkit.build import build
from pinnkit.config import ConfigError, load
from pinnkit.marching import solution_at, window_edges
from pinnkit.metrics import rel_l2
from pinnkit.operators import AutogradEngine
from pinnkit.optim import Monitor
from pinnkit.pdes.time_dependent import Advection

SMALL = ["points.interior=200", "points.initial=64", "points.boundary=32", "points.evaluation=400",
         "model.width=12", "model.depth=2", "output.log_every=5", "output.checkpoint_every=4",
         "phases[0].iterations=12", "phases[1].optimizer=lbfgs", "phases[1].iterations=6"]


@pytest.fixture(autouse=True)
def default_signal_handlers():
    """Python's own SIGINT handler, whatever the test runner inherited."""
    saved = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, saved)


def _rows(run_dir):
    with open(Path(run_dir) / "history.csv") as f:
        return [{k: v for k, v in r.items() if k != "time"} for r in csv.DictReader(f)]


def test_edges_come_from_slabs_or_boundaries_and_bad_ones_are_named():
    assert window_edges(load("wave", ("time.slabs=4",)), 0.0, 1.0) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert window_edges(load("wave", ("time.boundaries=[0, 0.1, 1]",)), 0.0, 1.0) == [0.0, 0.1, 1.0]
    with pytest.raises(ConfigError, match=r"time.boundaries: must run from the domain's t0 = 0 to its t1 = 1, "
                                          r"got 0 to 0.9"):
        window_edges(load("wave", ("time.boundaries=[0, 0.5, 0.9]",)), 0.0, 1.0)
    with pytest.raises(ConfigError, match=r"time: give either slabs .* or boundaries"):
        load("wave", ("time.slabs=2", "time.boundaries=[0, 1]"))
    with pytest.raises(ConfigError, match=r"time: boundaries must increase, got \[0.0, 0.5, 0.5, 1.0\]"):
        load("wave", ("time.boundaries=[0, 0.5, 0.5, 1]",))


def test_a_steady_problem_refuses_time_marching():
    with pytest.raises(ConfigError, match="time: time-marching needs a space-time domain, and Poisson"):
        build(load("poisson", ("time.slabs=2",)))


class Drifting(Advection):
    """An output transform whose network share does not vanish at t0."""

    def output_transform(self, coords, raw):
        return {"u": torch.sin(coords["x"]) + (coords["t"] + 0.1) * raw["u"]}


def test_a_transform_that_does_not_keep_the_initial_values_is_refused():
    config = load("advection", ("time.slabs=2", "model.hard_constraints=true"))
    with pytest.raises(ConfigError, match=r"time: Drifting.output_transform does not leave its initial values "
                                          r"independent of the network"):
        pinnkit.solve(config, problem=Drifting)


def _at(model, x, t):
    """u and u_t of a model at points (x, t)."""
    points = torch.as_tensor(np.stack([x, np.full(len(x), t)], axis=1))
    d = AutogradEngine()(model, points, ("x", "t"), ("u",), ("u_t",))
    return d["u"].detach().numpy(), d["u_t"].detach().numpy()


@pytest.fixture(scope="module")
def wave(tmp_path_factory):
    """The wave equation (both initial conditions and the fixed ends exact) marched over 3 windows."""
    return pinnkit.solve("wave", SMALL + ["time.slabs=3", "phases[0].lr=1e-2"],
                         out=tmp_path_factory.mktemp("wave") / "run")


def test_under_hard_constraints_each_window_starts_exactly_where_the_last_ended(wave):
    solution = pinnkit.load(wave.run_dir)
    windows, edges = solution.model.windows, wave.summary["windows"]
    x = np.linspace(0.0, 1.0, 33)
    for i in (1, 2):
        u_end, rate_end = _at(windows[i - 1], x, edges[i])
        u_start, rate_start = _at(windows[i], x, edges[i])
        np.testing.assert_allclose(u_start, u_end, rtol=0, atol=1e-12)
        np.testing.assert_allclose(rate_start, rate_end, rtol=0, atol=1e-10)
        inside, _ = _at(windows[i], np.array([0.0, 1.0]), 0.5 * (edges[i] + edges[i + 1]))
        np.testing.assert_allclose(inside, 0.0, atol=1e-12)  # the fixed ends hold in every window
        moved, _ = _at(windows[i], x, 0.5 * (edges[i] + edges[i + 1]))
        assert np.abs(moved - _at(windows[i - 1], x, 0.5 * (edges[i] + edges[i + 1]))[0]).max() > 1e-6
    # the solution sends each time to its window: the previous one just before an edge, the next from it on
    before = solution.predict(np.stack([x, np.full(33, edges[1] - 0.01)], axis=1))["u"]
    np.testing.assert_allclose(before, _at(windows[0], x, edges[1] - 0.01)[0], rtol=0, atol=1e-14)
    at = solution.predict(np.stack([x, np.full(33, edges[2])], axis=1))["u"]
    np.testing.assert_allclose(at, _at(windows[2], x, edges[2])[0], rtol=0, atol=1e-14)


def test_one_folder_holds_every_window_and_the_final_error_covers_the_whole_range(wave):
    rows = _rows(wave.run_dir)
    assert [(int(r["window"]), int(r["phase"])) for r in rows if r["iteration"] == "0"] == \
        [(w, p) for w in range(3) for p in range(2)]
    assert [int(r["step"]) for r in rows] == sorted(int(r["step"]) for r in rows)
    assert wave.summary["iterations"] == 3 * (12 + 6) and len(wave.summary["phases"]) == 6
    solution = pinnkit.load(wave.run_dir)
    grid = np.stack([g.reshape(-1) for g in np.meshgrid(np.linspace(0, 1, 20), np.linspace(0, 1, 20))], axis=1)
    u = solution.predict(grid)["u"]
    exact = np.sin(math.pi * grid[:, 0]) * np.cos(2 * math.pi * grid[:, 1]) \
        + 0.5 * np.sin(4 * math.pi * grid[:, 0]) * np.cos(8 * math.pi * grid[:, 1])
    error = float(rel_l2(torch.as_tensor(u), torch.as_tensor(exact)))
    assert wave.summary["rel_l2"]["u"] == pytest.approx(error, rel=1e-9)


def test_without_hard_constraints_the_next_window_fits_the_last_windows_final_values():
    setup = build(load("allen_cahn", tuple(SMALL + ["time.slabs=2"])))
    windows = setup.model.windows
    assert all(p.requires_grad for p in windows[0].parameters())
    setup.enter(1)
    assert not any(p.requires_grad for p in windows[0].parameters())
    assert [p for g in setup.parameter_groups() for p in g["params"]] == list(windows[1].parameters())
    for mine, theirs in zip(windows[1].parameters(), windows[0].parameters()):  # warm start
        torch.testing.assert_close(mine, theirs, rtol=0, atol=0)
    assert float(windows[1].center[1]) == 0.75  # its own input scaling: t in [0.5, 1]
    ic = next(g for g in setup.objective.groups if g.owner == "condition 'ic'")
    points = ic.arrays["points"]
    assert np.all(points[:, 1] == 0.5) and points[:, 0].min() < -0.9 and points[:, 0].max() > 0.9
    with torch.no_grad():
        final = windows[0](torch.as_tensor(points)).numpy()
    np.testing.assert_allclose(ic.arrays["target"], final, rtol=0, atol=1e-15)
    with torch.enable_grad():
        residual = setup.objective.group_terms(ic, ic.batch)["ic"]
    with torch.no_grad():
        start = windows[1](torch.as_tensor(points)).numpy()
    np.testing.assert_allclose(residual.detach().numpy(), start - final, rtol=0, atol=1e-14)
    interior = setup.objective.groups[0].arrays["points"]
    assert interior[:, 1].min() >= 0.5 and interior[:, 1].max() <= 1.0


def test_a_marched_run_stopped_in_its_second_window_resumes_to_the_same_history(monkeypatch, tmp_path):
    """With residual-based attention, whose multipliers travel with the points, updated every 3 iterations."""
    overrides = SMALL + ["time.slabs=2", "loss.attention={gamma = 0.9, eta = 0.1}", "phases[0].reweight_every=3"]
    reference = pinnkit.solve("allen_cahn", overrides, out=tmp_path / "reference")
    done, seen = Monitor.iteration_done, []

    def iteration_done(self, i, last=False):
        if (self.options.optimizer, i) == ("adam", 7):
            seen.append(i)
            if len(seen) == 2:  # the second window's Adam phase
                os.kill(os.getpid(), signal.SIGINT)
        return done(self, i, last)

    with monkeypatch.context() as m:
        m.setattr(Monitor, "iteration_done", iteration_done)
        stopped = pinnkit.solve("allen_cahn", overrides, out=tmp_path / "run")
    assert stopped.status == "interrupted" and "window 1, phase 0" in stopped.summary["message"]
    resumed = pinnkit.resume(stopped.run_dir)
    assert resumed.status == "completed" and resumed.summary["resumed"] == [12 + 6 + 7]
    rows = _rows(resumed.run_dir)
    assert rows == _rows(reference.run_dir) and 0.9 < float(rows[-1]["attention_max_pde"]) < 1.0  # updated
    assert resumed.summary["loss"] == reference.summary["loss"]


def test_under_hard_constraints_a_window_trains_its_share_on_the_frozen_past_at_its_points():
    setup = build(load("wave", tuple(SMALL + ["time.slabs=3"])))
    setup.enter(1)
    pde = setup.objective.groups[0]
    assert {"base:u", "base:u_tt", "base:u_xx"} <= set(pde.arrays)
    assert [p for g in setup.parameter_groups() for p in g["params"]] == list(setup.model.windows[1].parameters())
    with torch.enable_grad():
        trained = setup.objective.group_terms(pde, pde.batch)["pde"].detach()
        d = AutogradEngine()(setup.model.windows[1], torch.as_tensor(pde.arrays["points"]), ("x", "t"), ("u",),
                             ("u_tt", "u_xx"))
    whole = (d["u_tt"] - 4 * d["u_xx"]).detach()  # the same residual of the solution window, evaluated whole
    torch.testing.assert_close(trained, whole, rtol=1e-9, atol=1e-9 * float(whole.abs().max()))


def test_the_frozen_past_is_evaluated_in_chunks_to_the_same_columns():
    """A RAD pool is many times the points: the frozen windows' high derivatives go through autograd in
    chunks, which must not change them."""
    setup = build(load("wave", tuple(SMALL + ["time.slabs=3"])))
    for i in (1, 2):
        setup.enter(i)
    rng = np.random.default_rng(3)
    points = np.stack([rng.random(50), 2 / 3 + rng.random(50) / 3], axis=1)
    chained = setup.model.windows[1]  # window 1 continues window 0: the derivatives go through both
    whole = solution_at(chained, points, ("x", "t"), ("u",), ("u_tt", "u_xx"), chunk=50)
    chunked = solution_at(chained, points, ("x", "t"), ("u",), ("u_tt", "u_xx"), chunk=7)
    assert set(chunked) == {"u", "u_tt", "u_xx"} and all(v.shape == (50,) for v in chunked.values())
    for name in whole:
        np.testing.assert_allclose(chunked[name], whole[name], rtol=1e-13, atol=1e-13)
    empty = solution_at(chained, points[:0], ("x", "t"), ("u",), ("u_tt",))
    assert {k: v.shape for k, v in empty.items()} == {"u": (0,), "u_tt": (0,)}
