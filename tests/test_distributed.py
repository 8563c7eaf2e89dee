"""One solve on several processes (torch.distributed, gloo on the CPU): the shares of the points sum to the
whole objective; 2 processes take the steps 1 process takes on all the points, phase kind by phase kind, and
write one run folder; a signal on one process stops all with a checkpoint that resumes on 1 or 2 processes;
an error on one process stops all with its message; phases that cannot share a solve are refused."""
import csv
import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import pinnkit
from pinnkit import Initial, Interval, Periodic, Problem, TimeInterval
from pinnkit.api import configured
from pinnkit.build import build
from pinnkit.config import ConfigError, load
from pinnkit.distributed import Processes, Shard
from pinnkit.optim.gauss_newton import jacobian
from pinnkit.optim.sgn import sketched_jacobian
from pinnkit.usercode import Code

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 120  # seconds a group of processes may take before the test fails (each test takes 5-30)
RELATIVE = 1e-10  # the equivalence the processes keep (float64): summation order only

BURGERS = {  # every phase kind in turn, RAD redraws in the first; ENGD damped to a condition number that
    "seed": 0, "dtype": "float64",  # keeps the summation order's rounding below RELATIVE
    "problem": {"name": "burgers", "parameters": {"nu": 0.01 / 3.141592653589793}},
    "points": {"interior": 101, "boundary": 20, "initial": 21, "evaluation": 100},
    "model": {"width": 10, "depth": 2, "engine": "autograd", "hard_constraints": False},
    "phases": [{"optimizer": "adam", "iterations": 10, "lr": 5e-3, "resample_every": 5, "resample": "rad",
                "rad_pool": 4},
               {"optimizer": "lbfgs", "iterations": 8}, {"optimizer": "ssbroyden", "iterations": 6},
               {"optimizer": "lbfgsb", "iterations": 6}, {"optimizer": "lm", "iterations": 4},
               {"optimizer": "engd", "iterations": 3, "damping": 1e-5}, {"optimizer": "sam", "iterations": 4}],
    "output": {"log_every": 2},
}
KOVASZNAY = {  # the forward-jet engine (per-point Jacobian rows), residual-based attention, and the others;
    "seed": 0, "dtype": "float64",  # sgn's sketch (300 of 445 rows) solved in parameter space (173 weights)
    "problem": {"name": "kovasznay", "parameters": {"re": 20.0}},
    "points": {"interior": 121, "boundary": 41, "evaluation": 100}, "model": {"width": 10, "depth": 2},
    "loss": {"weights": {"bc": 10.0}, "attention": {}},
    "phases": [{"optimizer": "adam", "iterations": 8, "lr": 5e-3, "reweight_every": 4},
               {"optimizer": "lbfgs", "iterations": 6}, {"optimizer": "bfgs", "iterations": 4},
               {"optimizer": "lbfgsb", "iterations": 4}, {"optimizer": "lm", "iterations": 3},
               {"optimizer": "sgn", "iterations": 3, "sketch": 300},
               {"optimizer": "gncg", "iterations": 3, "cg_iterations": 50, "damping": 0.1}],
    "output": {"log_every": 2},
}
FITTED = {**KOVASZNAY, "loss": {"weights": {"bc": 10.0}},  # the warmup's last layer fitted (Levenberg-Marquardt),
          "phases": [{"optimizer": "adam", "iterations": 8, "lr": 5e-3, "last_layer_every": 3,  # damped as ENGD
                      "last_layer_steps": 2, "last_layer_damping": 1e-3}, {"optimizer": "lbfgs", "iterations": 4}]}
LOOSER = {"gncg": 1e-4}  # truncated CG amplifies rounding: reordering its sums in one process moves it as much
RESUMED = {**BURGERS, "phases": [{"optimizer": "adam", "iterations": 12, "lr": 5e-3},
                                 {"optimizer": "lbfgs", "iterations": 8}],
           "output": {"log_every": 3, "checkpoint_every": 4}}
BOOM = '''
import os
from pinnkit.pdes.burgers import Burgers


class Boom(Burgers):
    """Burgers whose residual raises on the second process at its 8th evaluation."""

    calls = 0

    def residuals(self, d):
        Boom.calls += 1
        if os.environ.get("RANK") == "1" and Boom.calls == 8:
            raise RuntimeError("boom on purpose")
        return super().residuals(d)
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _threads() -> list[str]:
    """The names of this process's threads, C++ ones included (Linux; elsewhere none)."""
    tasks = Path("/proc/self/task")
    return sorted((t / "comm").read_text().strip() for t in tasks.iterdir()) if tasks.is_dir() else []


def _worker(rank: int, size: int, port: int, folder: Path, job: dict) -> None:
    """One process of a group: joins it through torchrun's environment variables, then solves or resumes;
    writes what it returned, its final weights and the threads left after it to `folder`."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(size), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if job.get("signal_at") and rank == job["signal_rank"]:
        from pinnkit.optim import Monitor

        done = Monitor.iteration_done

        def iteration_done(self, i, last=False):
            if (self.options.optimizer, i) == job["signal_at"]:
                os.kill(os.getpid(), signal.SIGINT)
            return done(self, i, last)

        Monitor.iteration_done = iteration_done
    if "resume" in job:
        result = pinnkit.resume(job["resume"])
    else:
        result = pinnkit.solve(job["config"], out=job.get("out"))
    torch.save({k: v.detach() for k, v in result.solution.model.state_dict().items()}, folder / f"model{rank}.pt")
    (folder / f"result{rank}.json").write_text(json.dumps({"status": result.status, "main": result.main,
                                                           "run_dir": str(result.run_dir),
                                                           "message": result.summary["message"],
                                                           "threads": _threads()}))


def _group(folder: Path, size: int, **job) -> list[dict]:
    """Run `job` on `size` processes started like torchrun's; what each returned (their weights must agree
    bit for bit: every process takes the same steps)."""
    context, port = multiprocessing.get_context("spawn"), _free_port()
    processes = [context.Process(target=_worker, args=(rank, size, port, folder, job)) for rank in range(size)]
    for p in processes:
        p.start()
    for p in processes:
        p.join(TIMEOUT)
    for p in processes:
        if p.is_alive():
            p.kill()
    assert [p.exitcode for p in processes] == [0] * size
    weights = [torch.load(folder / f"model{rank}.pt") for rank in range(size)]
    assert all(torch.equal(weights[0][k], w[k]) for w in weights[1:] for k in weights[0])
    results = [json.loads((folder / f"result{rank}.json").read_text()) for rank in range(size)]
    # the group is gone once the solve returns: gloo's threads alive at exit can abort the interpreter
    assert not [t for r in results for t in r["threads"] if "gloo" in t]
    return results


def _rows(run_dir) -> list[dict]:
    with open(Path(run_dir) / "history.csv") as f:
        return [{k: v for k, v in r.items() if k != "time"} for r in csv.DictReader(f)]


def _assert_same_history(rows, reference):
    assert len(rows) == len(reference)
    for row, ref in zip(rows, reference):
        assert list(row) == list(ref)
        for key, value in ref.items():
            try:
                expected = float(value)
            except ValueError:
                assert row[key] == value, key
                continue
            tolerance = LOOSER.get(ref["optimizer"], RELATIVE)
            assert float(row[key]) == pytest.approx(expected, rel=tolerance, abs=0), (key, ref["step"])


@pytest.mark.parametrize("config", [BURGERS, KOVASZNAY, FITTED], ids=["burgers", "kovasznay", "last-layer-fits"])
def test_two_processes_take_the_steps_one_takes_on_all_the_points(config, tmp_path):
    one = pinnkit.solve(config, out=tmp_path / "one")
    runs = tmp_path / "runs"
    results = _group(tmp_path, 2, config={**config, "output": {**config["output"], "dir": str(runs)}})
    assert [r["main"] for r in results] == [True, False] and {r["status"] for r in results} == {"completed"}
    assert [p.name for p in runs.iterdir()] == [Path(results[0]["run_dir"]).name]  # one folder, the first's
    folder = runs / Path(results[0]["run_dir"]).name
    assert {"config.toml", "history.csv", "model.pt", "summary.json", "checkpoint.pt", "run.log"} <= \
        {p.name for p in folder.iterdir()}
    _assert_same_history(_rows(folder), _rows(one.run_dir))
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["processes"] == 2
    assert [(p["optimizer"], p["iterations"]) for p in summary["phases"]] == \
        [(p["optimizer"], p["iterations"]) for p in one.summary["phases"]]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    return pinnkit.solve(RESUMED, out=tmp_path_factory.mktemp("whole") / "run")


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """A 2-process run stopped by SIGINT on the second process after L-BFGS iteration 3 (step 15)."""
    folder = tmp_path_factory.mktemp("stopped")
    results = _group(folder, 2, config=RESUMED, out=str(folder / "run"), signal_at=("lbfgs", 3), signal_rank=1)
    assert {r["status"] for r in results} == {"interrupted"}
    assert "interrupted by SIGINT in phase 1 at iteration 3 (step 15)" in results[0]["message"]
    return folder / "run"


def test_a_signal_on_one_process_stops_all_and_resumes_on_one(interrupted, uninterrupted, tmp_path):
    run = shutil.copytree(interrupted, tmp_path / "run")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["signal"] == "SIGINT"
    resumed = pinnkit.resume(run)  # this process alone
    assert resumed.status == "completed" and resumed.summary["resumed"] == [15]
    _assert_same_history(_rows(run), _rows(uninterrupted.run_dir))


def test_a_run_stopped_on_two_processes_resumes_on_two(interrupted, uninterrupted, tmp_path):
    run = shutil.copytree(interrupted, tmp_path / "run")
    results = _group(tmp_path, 2, resume=str(run))
    assert {r["status"] for r in results} == {"completed"}
    assert json.loads((run / "summary.json").read_text())["resumed"] == [15]
    _assert_same_history(_rows(run), _rows(uninterrupted.run_dir))


def test_an_error_on_one_process_stops_the_job_with_its_message(tmp_path):
    (tmp_path / "boom.py").write_text(BOOM)
    sets = ["problem.name=" + str(tmp_path / "boom.py") + ":Boom", "model.hard_constraints=false",
            "points.interior=60", "points.boundary=10", "points.initial=10", "points.evaluation=100",
            "model.depth=2", "model.width=8", "model.engine=autograd", "output.log_every=2",
            "phases[0].iterations=20", "phases[1].optimizer=lbfgs", "phases[1].iterations=5"]
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--standalone",
               "-m", "pinnkit", "solve", str(ROOT / "problems" / "burgers.toml"), "--out", str(tmp_path / "run"),
               "--quiet", "--no-plots", *[arg for s in sets for arg in ("--set", s)]]
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, cwd=tmp_path)
    assert done.returncode != 0
    said = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert said == ["error: phase 0 (adam): process 1: RuntimeError: boom on purpose (traceback in run.log)"]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "failed" and "process 1: RuntimeError: boom on purpose" in summary["message"]
    assert 'raise RuntimeError("boom on purpose")' in (tmp_path / "run" / "run.log").read_text()


def test_a_phase_that_cannot_share_a_solve_is_refused_naming_it():
    config = load(ROOT / "problems" / "burgers.toml", ["phases[1].optimizer=adahessian"])
    with pytest.raises(ConfigError, match=r"^phases\[1\].optimizer: adahessian runs on one process only, and "
                                          r"this solve has 2"):
        build(config, Code(), Processes(0, 2, 0))  # refused before any message passes between processes


@pytest.mark.parametrize("n, size", [(10, 3), (2, 3), (7, 7), (100, 4)])
def test_the_shares_cover_every_point_once(n, size):
    parts = [Shard(rank, size).part(n) for rank in range(size)]
    counted = [rows for rows, counts in parts if counts]
    assert sorted(i for rows in counted for i in range(n)[rows]) == list(range(n))
    assert max(len(range(n)[r]) for r in counted) - min(len(range(n)[r]) for r in counted) <= 1
    assert Shard(1, 2).part(10, pointwise=False) == (slice(0, 10), False)


def _detached(loss):
    total, terms = loss
    return total.detach(), {name: v.detach() for name, v in terms.items()}


class PeriodicHeat(Problem):
    """u_t = k u_xx, periodic in x, u(x, 0) = sin(pi x): its periodic rows pair points (they cannot be shared)."""

    coords, fields, derivatives, parameters = ("x", "t"), ("u",), ("u_t", "u_xx"), {"k": 0.1}

    def domain(self):
        return Interval(-1.0, 1.0) * TimeInterval(0.0, 1.0)

    def residuals(self, d):
        return {"pde": d.u_t - self.k * d.u_xx}

    def conditions(self):
        return [Periodic(("left", "right")), Initial(lambda x: torch.sin(torch.pi * x))]


@pytest.mark.parametrize("engine", ["autograd", "jet"])
def test_the_shares_of_the_objective_sum_to_the_whole(engine):
    """Three shares of an objective with a set too small to share and one whose rows pair points: their
    losses, terms, ||r||^2, J^T J, J^T r and count sketch S J add up to the whole objective's."""
    raw = {"problem": {}, "dtype": "float64", "points": {"interior": 10, "boundary": 4, "initial": 2,
                                                         "evaluation": 100},
           "model": {"width": 6, "depth": 2, "engine": engine}, "phases": [{"optimizer": "lm", "iterations": 1}]}
    setup = build(*configured(raw, (), PeriodicHeat, None))
    objective, params = setup.objective, list(setup.model.parameters())
    whole_loss, whole_terms = _detached(objective.loss())
    r, J = jacobian(setup.view().residuals, params, 1.0)
    SJ = sketched_jacobian(setup.view().residuals, params, 7, torch.Generator().manual_seed(3))[2]
    shares = []
    for rank in range(3):
        objective.shard = Shard(rank, 3)
        objective.to(setup.device, torch.float64)
        loss, terms = _detached(objective.loss())
        r_k, J_k = jacobian(setup.view().residuals, params, 1.0)
        layout = objective.layout()
        SJ_k = sketched_jacobian(setup.view().residuals, params, 7, torch.Generator().manual_seed(3), layout)[2]
        shares.append((loss, terms, r_k.dot(r_k), J_k.T @ J_k, J_k.T @ r_k, SJ_k))
        assert layout[0] == len(r)
    assert float(sum(s[0] for s in shares)) == pytest.approx(float(whole_loss), rel=1e-14)
    for name, value in whole_terms.items():
        assert float(sum(s[1][name] for s in shares)) == pytest.approx(float(value), rel=1e-14)
    assert float(sum(s[2] for s in shares)) == pytest.approx(float(r.dot(r)), rel=1e-14)
    torch.testing.assert_close(sum(s[3] for s in shares), J.T @ J, rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(sum(s[4] for s in shares), J.T @ r, rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(sum(s[5] for s in shares), SJ, rtol=1e-13, atol=1e-15)  # one sketch of the whole r
