"""The phase contract and the one loop: what happens after each step and in which order, the declarations
every phase makes, bounds on every option, SciPy's statuses and redraws, failures kept in run.log."""
import math
import re
from pathlib import Path
from typing import Optional

import pytest
import scipy.optimize
import torch
from pydantic import ValidationError

import pinnkit
from pinnkit.config import ConfigError, load
from pinnkit.optim import PHASES, Monitor, ObjectiveView, Phase, PhaseOptions, minimize, run_phase
from pinnkit.optim.adam import AdamPhase
from pinnkit.optim.phase import Step
from pinnkit.optim.scipy_lbfgsb import FLOOR, status_of

ROOT = Path(__file__).resolve().parents[1]
BURGERS = ROOT / "problems" / "burgers.toml"
TINY = ("model.hard_constraints=false", "points.interior=100", "points.boundary=20", "points.initial=20",
        "points.evaluation=100", "model.depth=2", "model.width=8", "output.log_every=5", "phases[0].iterations=10",
        "phases[1].iterations=10")


class Scripted(Phase):
    """A phase whose steps write down what happens around them; it stops converged at `stop_at`."""

    def __init__(self, options: PhaseOptions, events: list, stop_at: int = 0):
        super().__init__(options)
        self.events, self.stop_at = events, stop_at

    def start(self, groups, objective):
        self.objective = objective

    def step(self, k: int) -> Step:
        self.events.append(("step", k + 1))
        self.objective.loss()
        return Step(torch.tensor(1.0), "converged" if k + 1 == self.stop_at else None, "scripted stop")

    def redrawn(self):
        self.events.append(("redrawn", None))


def scripted_run(stop_at: int = 0, **budget):
    events = []
    options = PhaseOptions(optimizer="scripted", resample_every=2, **budget)
    monitor = Monitor(options, after=lambda k, last: events.append(("after", k, last)) or None,
                      redraw=lambda: events.append(("redraw", None)))
    view = ObjectiveView(lambda: torch.tensor(0.0))
    return run_phase(Scripted(options, events, stop_at), [{"params": []}], view, monitor), events


def test_after_each_step_the_loop_counts_redraws_hands_over_and_checks_the_budget():
    result, events = scripted_run(iterations=3)
    assert events == [("step", 1), ("after", 1, False),
                      ("step", 2), ("redraw", None), ("redrawn", None), ("after", 2, False),
                      ("step", 3), ("after", 3, True)]
    assert (result.status, result.iterations, result.evaluations) == ("completed", 3, 3)


def test_a_phase_that_stops_itself_is_handed_over_once_more_and_ends_with_its_own_status():
    result, events = scripted_run(stop_at=2, iterations=10)
    assert events[-1] == ("after", 2, True) and result.status == "converged"
    assert result.message == "scripted stop (budget left: 8 of 10 iterations)"


def test_the_trainers_stop_reason_wins_over_the_budget():
    events = []
    options = PhaseOptions(optimizer="scripted", iterations=5)
    monitor = Monitor(options, after=lambda k, last: "interrupted" if k == 2 else None)
    result = run_phase(Scripted(options, events), [{"params": []}], ObjectiveView(lambda: torch.tensor(0.0)), monitor)
    assert (result.status, result.iterations) == ("interrupted", 2)


def test_a_residual_phase_refuses_a_view_without_residuals():
    x = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    options = PHASES["lm"].Options(optimizer="lm", iterations=3)
    with pytest.raises(ValueError, match="lm needs the residual vector, and this objective has only a loss"):
        run_phase(PHASES["lm"](options), [{"params": [x]}], ObjectiveView(lambda: x.square().sum()), Monitor(options))


def test_minimize_needs_one_objective_and_a_known_optimizer():
    x = torch.zeros(1, requires_grad=True)
    with pytest.raises(ValueError, match="give either loss or residuals"):
        minimize([x], "adam", iterations=1)
    with pytest.raises(ValueError, match="unknown optimizer 'nadam' \\(valid: adam, sgd"):
        minimize([x], "nadam", loss=lambda: x.sum(), iterations=1)


def test_every_numeric_option_of_every_phase_is_bounded():
    numeric = (int, float, Optional[int], Optional[float])
    unbounded = [f"{name}.{field}" for name, cls in PHASES.items() for field, info in cls.Options.model_fields.items()
                 if info.annotation in numeric
                 and not any(hasattr(m, k) for m in info.metadata for k in ("gt", "ge", "lt", "le"))]
    assert unbounded == []


@pytest.mark.parametrize("key, value, message", [
    ("beta2", 1.5, "phases[0].beta2: must be < 1.0, got 1.5"), ("beta1", -0.1, "phases[0].beta1: must be >= 0"),
    ("eps", 0.0, "phases[0].eps: must be > 0.0, got 0.0"), ("min_lr", 0.5, "min_lr (0.5) must not exceed lr")])
def test_adam_keys_torch_would_refuse_are_refused_at_config_time(key, value, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load(BURGERS, (f"phases[0].{key}={value}", "phases[0].lr=0.1"))


def test_declarations_are_data_on_every_phase():
    for name, cls in PHASES.items():
        assert issubclass(cls, Phase) and issubclass(cls.Options, PhaseOptions)
        assert cls.closure in ("loss", "residuals") and cls.redraws in ("keep", "restart")
        assert isinstance(cls.compilable, bool) and isinstance(cls.restorable, bool)
        assert name in cls.Options.model_fields["optimizer"].annotation.__args__


def test_a_phase_that_fails_ends_the_run_failed_with_its_traceback_in_run_log(tmp_path, monkeypatch):
    step = AdamPhase.step

    def failing(self, k):
        if k == 6:
            raise ArithmeticError("the step broke")
        return step(self, k)

    monkeypatch.setattr(AdamPhase, "step", failing)
    result = pinnkit.solve(BURGERS, TINY, out=tmp_path / "run")
    assert result.status == "failed" and "ArithmeticError: the step broke (traceback in run.log)" in \
        result.summary["message"]
    log = (result.run_dir / "run.log").read_text()
    assert "phase 0 (adam) failed" in log and "Traceback (most recent call last)" in log
    assert ", in failing\n" in log and "ArithmeticError: the step broke\n" in log


def test_scipy_abnormal_line_search_is_converged_at_the_floor_not_failed():
    """At the minimum of sum x^2, a gradient off by 1e-3 (slightly inconsistent with the loss, as rounding
    makes it at a PINN's loss floor) points nowhere the loss goes down: SciPy's line search ends abnormally."""
    x = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    result = minimize([x], "lbfgsb", loss=lambda: x.square().sum() + 1e-3 * (x - x.detach()).sum(), iterations=200)
    assert result.status == "converged" and "ABNORMAL" in result.message and FLOOR in result.message
    assert result.iterations == 0 and torch.equal(x.detach(), torch.zeros(2, dtype=torch.float64))


@pytest.mark.parametrize("status, nit, nfev, fun, expected", [
    (0, 5, 9, 1.0, "converged"), (1, 10, 12, 1.0, "completed"), (1, 4, 21, 1.0, "max_evaluations"),
    (2, 4, 9, 1.0, "converged"), (2, 4, 9, math.nan, "diverged")])
def test_scipy_statuses_map_on_status_nit_and_nfev(status, nit, nfev, fun, expected):
    res = scipy.optimize.OptimizeResult(status=status, nit=nit, nfev=nfev, fun=fun, message="SOME TEXT")
    assert status_of(res, maxiter=10, maxfun=20)[0] == expected


def test_scipy_restarts_at_each_redraw_and_says_so(tmp_path):
    result = pinnkit.solve(BURGERS, TINY + ("phases[1].resample_every=4",), out=tmp_path / "run")
    phase = result.summary["phases"][1]
    assert result.status == "completed" and phase["iterations"] == 10
    assert "restarted at each of 2 point redraws: its state does not carry over" in phase["message"]


def test_scipy_in_its_thread_stops_cleanly_and_leaves_no_thread(tmp_path):
    import threading

    x = torch.tensor([3.0, -1.0], dtype=torch.float64, requires_grad=True)
    result = minimize([x], "lbfgsb", loss=lambda: (x - 1).pow(4).sum(), iterations=3)
    assert result.status == "completed" and result.iterations == 3
    assert not any(t.name == "pinnkit-lbfgsb" for t in threading.enumerate())


def test_scipy_errors_in_the_evaluation_reach_the_caller():
    x = torch.tensor([3.0], dtype=torch.float64, requires_grad=True)
    calls = []

    def loss():
        calls.append(1)
        if len(calls) == 3:
            raise ArithmeticError("evaluation 3 broke")
        return (x - 1).square().sum()

    with pytest.raises(ArithmeticError, match="evaluation 3 broke"):
        minimize([x], "lbfgsb", loss=loss, iterations=10)


def test_options_of_an_unknown_phase_key_are_refused():
    with pytest.raises(ValidationError):
        PHASES["gncg"].Options(optimizer="gncg", iterations=1, space="sample")  # a dense-Jacobian key
