"""Checkpoints and resume: a run stopped at any iteration (signal, crash, kill) continues to the very history the
uninterrupted run writes; bad run folders and files are one clear line and exit 2."""
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import pinnkit
from pinnkit import checkpoint
from pinnkit.cli import main
from pinnkit.interrupt import Signals
from pinnkit.optim import Monitor
from pinnkit.run import RunError, save_torch

ROOT = Path(__file__).resolve().parents[1]
BURGERS = ROOT / "problems" / "burgers.toml"
TINY = ["model.hard_constraints=false", "points.interior=100", "points.boundary=20", "points.initial=20",
        "points.evaluation=100", "model.depth=2", "model.engine=autograd", "output.log_every=5",
        "output.checkpoint_every=7", "phases[0].iterations=30", "phases[0].lr=5e-3",
        "phases[1].optimizer=lbfgs", "phases[1].iterations=20"]
LONG = TINY[:-3] + ["phases[0].iterations=200", "phases[1].optimizer=lbfgs", "phases[1].iterations=30"]


@pytest.fixture(autouse=True)
def default_signal_handlers():
    """Python's own SIGINT/SIGTERM handlers, whatever the test runner inherited (nohup ignores SIGINT)."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)


def _rows(run_dir):
    """history.csv without its wall-time column."""
    with open(Path(run_dir) / "history.csv") as f:
        return [{k: v for k, v in r.items() if k != "time"} for r in csv.DictReader(f)]


def _summary(run_dir):
    return json.loads((Path(run_dir) / "summary.json").read_text())


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return pinnkit.solve(BURGERS, TINY, out=tmp_path_factory.mktemp("ref") / "run")


@pytest.fixture(scope="module")
def long_reference(tmp_path_factory):
    return pinnkit.solve(BURGERS, LONG, out=tmp_path_factory.mktemp("ref") / "long")


def _solve_interrupted(monkeypatch, out, overrides, optimizer, k, signum=signal.SIGINT):
    """Solve, delivering a real signal to this process right after iteration `k` of the `optimizer` phase."""
    done = Monitor.iteration_done

    def iteration_done(self, i, last=False):
        if (self.options.optimizer, i) == (optimizer, k):
            os.kill(os.getpid(), signum)
        return done(self, i, last)

    with monkeypatch.context() as m:
        m.setattr(Monitor, "iteration_done", iteration_done)
        return pinnkit.solve(BURGERS, overrides, out=out)


@pytest.mark.parametrize("optimizer, k, step", [("adam", 13, 13), ("adam", 30, 30), ("lbfgs", 8, 38)],
                         ids=["adam-mid-phase", "phase-boundary", "lbfgs-mid-phase"])
def test_interrupted_run_resumes_to_the_uninterrupted_history(reference, monkeypatch, tmp_path, optimizer, k, step):
    stopped = _solve_interrupted(monkeypatch, tmp_path / "run", TINY, optimizer, k)
    assert stopped.status == "interrupted" and stopped.summary["signal"] == "SIGINT"
    assert stopped.summary["iterations"] == step and _summary(stopped.run_dir)["status"] == "interrupted"
    assert f"solve --resume {stopped.run_dir}" in stopped.summary["message"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # our handler is gone again
    before = _rows(stopped.run_dir)
    assert before == _rows(reference.run_dir)[:len(before)] and step - 5 < int(before[-1]["step"]) <= step

    resumed = pinnkit.resume(stopped.run_dir)
    assert resumed.status == "completed" and resumed.summary["resumed"] == [step]
    assert _rows(resumed.run_dir) == _rows(reference.run_dir)  # same losses, errors, counts; no duplicate rows
    assert [(p["iterations"], p["status"]) for p in resumed.summary["phases"]] == \
        [(p["iterations"], p["status"]) for p in reference.summary["phases"]]
    assert resumed.summary["loss"] == reference.summary["loss"]


def test_adahessian_with_resampling_resumes_exactly(monkeypatch, tmp_path):
    overrides = TINY[:-3] + ["phases[0].optimizer=adahessian", "phases[0].iterations=12", "phases[0].lr=0.05",
                             "phases[0].resample_every=4", "phases[1].optimizer=lbfgs", "phases[1].iterations=6",
                             "phases[1].resample_every=3"]
    whole = pinnkit.solve(BURGERS, overrides, out=tmp_path / "whole")
    stopped = _solve_interrupted(monkeypatch, tmp_path / "run", overrides, "adahessian", 9, signal.SIGTERM)
    assert stopped.status == "interrupted" and stopped.summary["signal"] == "SIGTERM"
    assert _rows(pinnkit.resume(stopped.run_dir).run_dir) == _rows(whole.run_dir)


def test_gncg_resumes_exactly(monkeypatch, tmp_path):
    """The matrix-free Gauss-Newton phase's state (damping and its growth factor) is all an exact resume needs."""
    overrides = TINY[:-2] + ["phases[1].optimizer=gncg", "phases[1].iterations=12", "phases[1].cg_iterations=5"]
    whole = pinnkit.solve(BURGERS, overrides, out=tmp_path / "whole")
    stopped = _solve_interrupted(monkeypatch, tmp_path / "run", overrides, "gncg", 8)
    assert stopped.status == "interrupted"
    assert _rows(pinnkit.resume(stopped.run_dir).run_dir) == _rows(whole.run_dir)


def test_a_run_with_fits_resumes_exactly(monkeypatch, tmp_path):
    """The last-layer fits of the Adam phase (`last_layer_every`) hold no state: a resume repeats them exactly."""
    overrides = [o for o in TINY if o != "model.engine=autograd"] + [  # the fits need the jets' layer taps
        "model.compile=false", "phases[0].last_layer_every=4", "phases[0].last_layer_steps=2"]
    whole = pinnkit.solve(BURGERS, overrides, out=tmp_path / "whole")
    stopped = _solve_interrupted(monkeypatch, tmp_path / "run", overrides, "adam", 13)
    assert stopped.status == "interrupted"
    assert _rows(pinnkit.resume(stopped.run_dir).run_dir) == _rows(whole.run_dir)


def test_scipy_phase_restarts_from_the_checkpointed_weights_and_says_so(monkeypatch, tmp_path):
    overrides = TINY[:-2] + ["phases[1].optimizer=lbfgsb", "phases[1].iterations=20"]
    stopped = _solve_interrupted(monkeypatch, tmp_path / "run", overrides, "lbfgsb", 9)
    assert stopped.status == "interrupted" and stopped.summary["phases"][1]["iterations"] == 9
    resumed = pinnkit.resume(stopped.run_dir)
    assert "lbfgsb restarted at iteration 9 from the checkpointed weights" in (stopped.run_dir / "run.log").read_text()
    phase = resumed.summary["phases"][1]
    assert resumed.status == "completed" and "restarted at iteration 9" in phase["message"]
    assert phase["iterations"] <= 20
    steps = [(r["phase"], r["iteration"]) for r in _rows(resumed.run_dir)]
    assert len(steps) == len(set(steps))


def test_a_crash_after_the_checkpoint_loses_nothing_and_duplicates_nothing(reference, monkeypatch, tmp_path):
    stopped = _solve_interrupted(monkeypatch, tmp_path / "run", TINY, "lbfgs", 3)
    (stopped.run_dir / "summary.json").unlink()  # killed before any summary: rows written after the checkpoint
    with open(stopped.run_dir / "history.csv", "a") as f:
        f.write("1,lbfgs,5,35,9,0.1,0.5,0.1,0.2,0.2,0.9\r\n1,lbfgs,10,40,1")  # the last one half-written
    (stopped.run_dir / ".checkpoint.pt.tmp").write_bytes(b"PK\x03\x04 half a checkpoint")  # a write cut short
    assert _rows(pinnkit.resume(stopped.run_dir).run_dir) == _rows(reference.run_dir)


def test_same_config_and_seed_give_the_same_history(reference, tmp_path):
    again = pinnkit.solve(BURGERS, TINY, out=tmp_path / "again")
    assert _rows(again.run_dir) == _rows(reference.run_dir)


def test_checkpoint_holds_plain_data_and_the_run_state(reference):
    state = torch.load(reference.run_dir / "checkpoint.pt", weights_only=True)
    assert state["phase"] == 2 and state["step"] == 50 and state["history_rows"] == len(_rows(reference.run_dir))
    assert state["rng"]["torch"].dtype == torch.uint8 and state["rng"]["numpy"]["bit_generator"] == "PCG64"
    assert [p["optimizer"] for p in state["results"]] == ["adam", "lbfgs"]
    assert state["points"][0]["points"].shape == (100, 2)


def _wait_for_rows(proc, history, rows):
    while proc.poll() is None and (not history.is_file() or len(history.read_text().splitlines()) <= rows):
        time.sleep(0.02)
    assert proc.poll() is None, "training ended before it could be stopped"


def _cli(*args):
    return [sys.executable, "-m", "pinnkit", "solve", *args, "--quiet"]


def test_sigint_in_a_subprocess_leaves_a_folder_that_resumes(long_reference, tmp_path, capsys):
    out = tmp_path / "run"
    proc = subprocess.Popen(_cli(str(BURGERS), "--out", str(out), *[a for kv in LONG for a in ("--set", kv)]),
                            stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    _wait_for_rows(proc, out / "history.csv", 6)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].endswith(f"continue with: python -m pinnkit solve --resume {out}")
    assert _summary(out)["status"] == "interrupted"
    assert main(["solve", "--resume", str(out), "--quiet", "--no-plots"]) == 0, capsys.readouterr().err
    assert _summary(out)["status"] == "completed" and _rows(out) == _rows(long_reference.run_dir)


def test_sigkill_during_training_keeps_a_checkpoint_that_resumes(long_reference, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen(_cli(str(BURGERS), "--out", str(out), *[a for kv in LONG for a in ("--set", kv)]),
                            stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    _wait_for_rows(proc, out / "history.csv", 10)
    proc.kill()
    proc.wait()
    assert not (out / "summary.json").exists()
    assert _rows(pinnkit.resume(out).run_dir) == _rows(long_reference.run_dir)


WRITER = """
import sys, torch
from pathlib import Path
from pinnkit.run import save_torch
i = 0
while True:
    save_torch(Path(sys.argv[1]), {"i": i, "w": torch.full((200_000,), float(i))})
    if i == 0:
        print("writing", flush=True)
    i += 1
"""


def test_sigkill_in_the_middle_of_checkpoint_writes_leaves_the_previous_one_whole(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_torch(path, {"i": -1, "w": torch.full((200_000,), -1.0)})
    for wait in (0.2, 0.37):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline() == "writing\n"
        time.sleep(wait)  # some hundred writes later, most likely in the middle of one
        proc.kill()
        proc.wait()
        state = torch.load(path, weights_only=True)
        assert state["w"].shape == (200_000,) and bool((state["w"] == state["i"]).all())


def test_second_signal_stops_at_once_and_handlers_are_restored():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt, match="second SIGTERM"):
        with Signals() as signals:
            os.kill(os.getpid(), signal.SIGTERM)
            assert signals.received == signal.SIGTERM and signals.name == "SIGTERM"
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
    assert signal.getsignal(signal.SIGTERM) is before and signal.getsignal(signal.SIGINT) is signal.default_int_handler


def _cli_error(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_resume_refuses_completed_missing_foreign_and_changed_runs(reference, tmp_path, capsys):
    assert "the run is completed" in _cli_error(capsys, ["solve", "--resume", str(reference.run_dir)])
    assert "no such run folder" in _cli_error(capsys, ["solve", "--resume", str(tmp_path / "nowhere")])
    (tmp_path / "empty").mkdir()
    assert "config.toml is missing" in _cli_error(capsys, ["solve", "--resume", str(tmp_path / "empty")])
    assert "--resume RUN_DIR alone" in _cli_error(capsys, ["solve", str(BURGERS), "--resume", str(reference.run_dir)])
    run = tmp_path / "run"
    shutil.copytree(reference.run_dir, run)
    (run / "summary.json").unlink()
    (run / "checkpoint.pt").write_bytes((run / "checkpoint.pt").read_bytes()[:1000])
    assert "checkpoint.pt: cannot be read" in _cli_error(capsys, ["solve", "--resume", str(run)])
    torch.save([1, 2, 3], run / "checkpoint.pt")
    assert "not a file pinnkit wrote" in _cli_error(capsys, ["solve", "--resume", str(run)])
    (run / "checkpoint.pt").unlink()
    assert "checkpoint.pt: no such file" in _cli_error(capsys, ["solve", "--resume", str(run)])
    shutil.copy(reference.run_dir / "checkpoint.pt", run)
    (run / "config.toml").write_text((run / "config.toml").read_text().replace("seed = 0", "seed = 1"))
    assert "differs from the config the checkpoint was written with" in \
        _cli_error(capsys, ["solve", "--resume", str(run)])


class Foreign:
    pass


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.write_bytes(p.read_bytes()[:500]), "model.pt: cannot be read"),
    (lambda p: torch.save({"weights": torch.zeros(3)}, p), "not a file pinnkit wrote"),
    (lambda p: torch.save({"model": Foreign(), "parameters": {}}, p), "model.pt: cannot be read"),
    (lambda p: torch.save({"model": {"w": torch.zeros(3)}, "parameters": {}}, p), "does not fit config.toml"),
    (lambda p: p.unlink(), "not a complete run folder (model.pt is missing)"),
])
def test_bad_model_files_are_one_clear_line(reference, tmp_path, damage, message):
    run = tmp_path / "run"
    shutil.copytree(reference.run_dir, run)
    damage(run / "model.pt")
    with pytest.raises(RunError) as err:
        pinnkit.load(run)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_checkpoint_read_names_the_format(tmp_path):
    save_torch(tmp_path / checkpoint.FILE, {k: 0 for k in checkpoint.KEYS} | {"format": 99})
    with pytest.raises(RunError, match="checkpoint format 99"):
        checkpoint.read(tmp_path)


def _resumable_copy(reference, tmp_path) -> Path:
    """The reference run as if it had crashed: no summary, so it can be resumed."""
    run = tmp_path / "run"
    shutil.copytree(reference.run_dir, run)
    (run / "summary.json").unlink()
    return run


def test_a_reformatted_config_still_resumes_and_a_changed_value_names_its_key(reference, tmp_path):
    run = _resumable_copy(reference, tmp_path)
    lines = (run / "config.toml").read_text().splitlines()
    top = [line for line in lines if line and not line.startswith("[") and "=" in line and lines.index(line) < 5]
    rest = [line for line in lines if line not in top]
    (run / "config.toml").write_text("# edited by hand\n" + "\n".join(reversed(top)).replace(" = ", "=") + "\n\n"
                                     + "\n".join(rest) + "\n")
    config, _, _ = checkpoint.open_run(run)
    assert config == pinnkit.load(reference.run_dir).config
    text = (run / "config.toml").read_text()
    (run / "config.toml").write_text(text.replace("iterations = 20", "iterations = 25"))
    with pytest.raises(RunError, match=r"differs from the config the checkpoint was written with "
                                       r"\(phases\[1\]\.iterations: 25, was 20\)"):
        checkpoint.open_run(run)


def test_a_checkpoint_is_streamed_to_disk_not_copied_through_a_buffer(tmp_path):
    """A dense inverse Hessian of 5,000 parameters is 200 MB: writing it must not hold another copy in memory."""
    import tracemalloc

    state = {"H": torch.zeros(2_000, 2_000, dtype=torch.float64)}  # 32 MB
    tracemalloc.start()
    save_torch(tmp_path / "big.pt", state)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 4 * 2**20, f"{peak / 2**20:.0f} MiB held in Python while writing 32 MiB"
    assert torch.equal(torch.load(tmp_path / "big.pt", weights_only=True)["H"], state["H"])


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_torch(path, {"i": 1})
    with pytest.raises(Exception):
        save_torch(path, {"w": torch.zeros(10), "i": lambda: 0})  # a lambda cannot be pickled: fails halfway
    assert torch.load(path, weights_only=True) == {"i": 1} and sorted(p.name for p in tmp_path.iterdir()) == \
        ["checkpoint.pt"]


def test_the_first_signal_is_answered_at_once(caplog):
    """A Ctrl-C during a long first iteration (compiling) says what will happen, without waiting for it."""
    with caplog.at_level("WARNING", logger="pinnkit"), Signals() as signals:
        os.kill(os.getpid(), signal.SIGINT)
        assert signals.received == signal.SIGINT
    assert "SIGINT received: stopping after the current iteration with a checkpoint" in caplog.text


def test_a_parametric_run_with_redrawn_points_resumes_exactly(monkeypatch, tmp_path):
    overrides = TINY + ["problem.parameters.nu={range = [0.005, 0.05]}", "phases[0].resample_every=4"]
    whole = pinnkit.solve(BURGERS, overrides, out=tmp_path / "whole")
    assert whole.run_dir.joinpath("checkpoint.pt").is_file() and "u@nu=0.005" in whole.rel_l2
    stopped = _solve_interrupted(monkeypatch, tmp_path / "run", overrides, "adam", 17)
    assert stopped.status == "interrupted"
    resumed = pinnkit.resume(stopped.run_dir)
    assert resumed.status == "completed" and _rows(resumed.run_dir) == _rows(whole.run_dir)


def test_a_causally_weighted_run_resumes_exactly(monkeypatch, tmp_path):
    """The causal weights (the points' weight column, eps and its stage) travel in the checkpoint."""
    overrides = TINY + ["loss.causal={chunks = 4}", "phases[0].reweight_every=3", "phases[0].resample_every=10",
                        "phases[1].reweight_every=4"]
    whole = pinnkit.solve(BURGERS, overrides, out=tmp_path / "whole")
    stopped = _solve_interrupted(monkeypatch, tmp_path / "run", overrides, "adam", 17)
    assert stopped.status == "interrupted"
    resumed = pinnkit.resume(stopped.run_dir)
    assert resumed.status == "completed" and _rows(resumed.run_dir) == _rows(whole.run_dir)
    assert "causal_w03" in _rows(whole.run_dir)[-1]
