"""Hostile and careless input, family by family: configs, user problems, data files, output paths,
checkpoints, planted links, sweeps, opening other people's runs. Each refusal is one line on stderr
starting `error: `, exit 2, no traceback and no run folder; each data case leaves completed runs and
rows as they were."""
import contextlib
import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

import pinnkit
from pinnkit import checkpoint
from pinnkit.cli import main
from pinnkit.run import RunError

ROOT = Path(__file__).resolve().parents[1]
BURGERS = ROOT / "problems" / "burgers.toml"
TINY = ["model.hard_constraints=false", "points.interior=60", "points.boundary=10", "points.initial=10",
        "points.evaluation=64", "model.depth=2", "model.width=6", "output.log_every=5", "output.checkpoint_every=5",
        "phases[0].iterations=10", "phases[1].optimizer=lbfgs", "phases[1].iterations=5"]
HEAT = (ROOT / "examples" / "custom_pde.py").read_text()  # the shipped example of a user's problem
CONDITIONS = ('return [Dirichlet(on=("left", "right"), value=0.0),\n'
              '                Initial(lambda x: torch.sin(torch.pi * x))]')
REFERENCE = 'return {"u": torch.exp(-self.k * torch.pi**2 * t) * torch.sin(torch.pi * x)}'
HEAT_TOML = ('[problem]\nname = "heat.py:Heat"\n[points]\ninterior = 64\nevaluation = 64\n'
             '[[phases]]\noptimizer = "adam"\niterations = 4\n[output]\nlog_every = 2\n')


def refused(capsys, argv, *fragments, code=2):
    """Run the CLI; assert one line `error: ...` holding every fragment, the exit code, and no traceback."""
    got = main([str(a) for a in argv])
    err = capsys.readouterr().err.strip()
    assert got == code and err.startswith("error: ") and "\n" not in err and "Traceback" not in err, (got, err)
    for fragment in fragments:
        assert fragment in err, err
    return err


# Configs ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("override, fragment", [
    ("seed=100000000000000000000", "seed: must be < 9223372036854775808"),
    ("points.interior=1000000000000", "points.interior: must be <= 1000000000"),
    ("model.width=10000000", "model.width: must be <= 65536"),
    ("model.depth=1000000", "model.depth: must be <= 1000"),
    ("model.fourier_features=1000000000", "model.fourier_features: must be <= 65536"),
    ("points.evaluation=3", "points.evaluation: must be >= 16"),
    ("points.interior=900000000", "max_memory_gb: this problem would need about"),
    ("model.width=60000", "GiB (network: 26.8 GiB), over max_memory_gb = 16"),
])
def test_sizes_that_cannot_fit_are_refused_before_allocating(override, fragment, tmp_path, capsys):
    tiny = [a for kv in TINY for a in ("--set", kv)]
    refused(capsys, ["solve", BURGERS, *tiny, "--set", override, "--out", tmp_path / "run", "--quiet"], fragment)
    assert not (tmp_path / "run").exists()


def test_an_evaluation_grid_of_corners_is_refused(tmp_path, capsys):
    refused(capsys, ["solve", ROOT / "problems" / "beltrami.toml", "--set", "points.evaluation=100", "--out",
                     tmp_path / "run"], "points.evaluation: 100 points make a grid of fewer than 4 per axis on this "
                                        "4-dimensional domain; use at least 256")


def test_toml_nested_five_thousand_deep_is_one_line(tmp_path, capsys):
    (tmp_path / "deep.toml").write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    refused(capsys, ["solve", tmp_path / "deep.toml", "--out", tmp_path / "run"], "nested too deeply")


# User problems ---------------------------------------------------------------------------------------------

USER_MISTAKES = {
    "residuals that raise": ("return {\"pde\": d.u_t - self.k * d.u_xx}", "return {\"pde\": 1 / 0}",
                             "evaluating the residuals of Heat failed: ZeroDivisionError"),
    "a domain of None": ("return Interval(0.0, 1.0) * TimeInterval(0.0, 1.0)", "return None",
                         "Heat.domain() must return a domain"),
    "conditions of 5": (CONDITIONS, "return 5", "Heat.conditions() must return a list of conditions"),
    "conditions of None": (CONDITIONS, "return None", "got NoneType"),
    "conditions of strings": (CONDITIONS, "return ['left', 'right']", "got a list holding str"),
    "an initial value that raises": ("Initial(lambda x: torch.sin(torch.pi * x))", "Initial(lambda x: x / undefined)",
                                     "evaluating the residuals of condition 'ic' failed: NameError"),
    "no fields": ('fields = ("u",)', "fields = ()", "Heat.fields must be a non-empty tuple of distinct names"),
    "a parameter that is not a number": ('parameters = {"k": 0.1}', 'parameters = {"k": "fast"}',
                                         "Heat.parameters: 'k' must be a number, got 'fast'"),
    "a parameter named like a method": ('parameters = {"k": 0.1}', 'parameters = {"k": 0.1, "domain": 1.0}',
                                        "'domain' is already an attribute of the problem"),
    "a reference with another field": ('return {"u": torch.exp', 'return {"w": torch.exp',
                                       "Heat.reference() returned 'w', which is not a field"),
    "a reference of NaN": (REFERENCE, 'return {"u": x * float("nan")}', "field 'u' is not finite at 64 points"),
    "a syntax error": ("class Heat(Problem):", "class Heat(Problem) oops:", "error importing"),
    "an exit at import": ("import torch\n", "import sys\nsys.exit(0)\nimport torch\n", "SystemExit: 0"),
    "an import that raises": ("import torch\n", "import torch\nraise RuntimeError('no licence')\n",
                              "RuntimeError: no licence"),
}


@pytest.mark.parametrize("mistake", sorted(USER_MISTAKES))
def test_mistakes_in_a_users_problem_file(mistake, tmp_path, capsys):
    old, new, fragment = USER_MISTAKES[mistake]
    assert old in HEAT
    (tmp_path / "heat.py").write_text(HEAT.replace(old, new, 1))
    (tmp_path / "heat.toml").write_text(HEAT_TOML)
    refused(capsys, ["solve", tmp_path / "heat.toml", "--out", tmp_path / "run"], fragment)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("name, fragment", [(".foo:Heat", "'.foo' is not an absolute module name"),
                                            ("..:Heat", "'..' is not an absolute module name"),
                                            ("json:Heat", "json has no Problem subclass named 'Heat'")])
def test_module_names_that_cannot_be_imported(name, fragment, tmp_path, capsys):
    (tmp_path / "case.toml").write_text(f'[problem]\nname = "{name}"\n[[phases]]\noptimizer = "adam"\niterations = 2\n')
    refused(capsys, ["solve", tmp_path / "case.toml", "--out", tmp_path / "run"], fragment)


# Data files ------------------------------------------------------------------------------------------------

def _observed(tmp_path, name: str, write) -> list:
    """A Burgers config whose [data] is the file `name` written by `write(path)`."""
    write(tmp_path / name)
    return ["solve", BURGERS, *[a for kv in TINY for a in ("--set", kv)], "--set", f'data.file="{tmp_path / name}"',
            "--out", tmp_path / "run"]


@pytest.mark.parametrize("name, write, fragment", [
    ("cut.npz", lambda p: p.write_bytes((ROOT / "problems" / "data" / "burgers_observations.npz").read_bytes()[:300]),
     "cannot read observations"),
    ("shapes.npz", lambda p: np.savez(p, x=np.zeros(4), t=np.zeros(4), u=np.zeros((4, 3))),
     "array 'u' has shape (4, 3), expected one value per row"),
    ("complex.npz", lambda p: np.savez(p, x=np.zeros(4), t=np.zeros(4), u=np.zeros(4) + 1j),
     "array 'u' holds complex128 values"),
    ("twice.csv", lambda p: p.write_text("x,t,u,u\n0.1,0.5,0.2,0.3\n"), "column 'u' appears twice"),
    ("far.csv", lambda p: p.write_text("x,t,u\n5.0,0.5,0.2\n0.1,0.5,0.3\n"),
     "1 of 2 observation points lie outside the domain"),
])
def test_bad_observation_files(name, write, fragment, tmp_path, capsys):
    refused(capsys, _observed(tmp_path, name, write), fragment)
    assert not (tmp_path / "run").exists()


def test_a_csv_with_a_byte_order_mark_reads(tmp_path):
    (tmp_path / "bom.csv").write_bytes("\ufeffx,t,u\n0.1,0.5,0.2\n-0.3,0.25,0.1\n".encode())
    overrides = TINY + [f'data.file="{tmp_path / "bom.csv"}"']
    result = pinnkit.solve(BURGERS, overrides, out=tmp_path / "run")
    assert result.status == "completed" and "data" in result.summary["loss"]


# Output paths ----------------------------------------------------------------------------------------------

def test_output_paths_that_cannot_be_folders(tmp_path, capsys):
    (tmp_path / "file").write_text("not a folder")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    args = ["solve", BURGERS, *[a for kv in TINY for a in ("--set", kv)]]
    refused(capsys, args + ["--out", tmp_path / "file" / "run"], "--out", "cannot create the folder")
    refused(capsys, args + ["--out", tmp_path / "dangling"], "is a dangling symbolic link")
    refused(capsys, args + ["--out", "/proc/pinnkit-run"], "cannot create the folder")
    refused(capsys, args + ["--set", f'output.dir="{tmp_path / "file"}"'], "output.dir", "is a file, not a folder")
    refused(capsys, args + ["--set", f'output.dir="{tmp_path / "dangling"}"'], "is a dangling symbolic link")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dangling", "file"]


# Checkpoints -----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def crashed(tmp_path_factory):
    """A run that stopped mid-way: its checkpoint at Adam iteration 5, no summary."""
    run = tmp_path_factory.mktemp("crashed") / "run"
    result = pinnkit.solve(BURGERS, TINY, out=run)
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    assert result.status == "completed" and state["phase"] == 2
    return run


def _edited(crashed, tmp_path, edit) -> Path:
    run = tmp_path / "run"
    shutil.copytree(crashed, run)
    (run / "summary.json").unlink()
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    edit(state)
    torch.save(state, run / "checkpoint.pt")
    return run


@pytest.mark.parametrize("edit, fragment", [
    (lambda s: s.update(progress={"bogus": 1}), "progress.iterations: Field required"),
    (lambda s: s["rng"].update(torch=torch.zeros(3, dtype=torch.uint8)), "a random generator state"),
    (lambda s: s.update(history_rows=-5), "history_rows: Input should be greater than or equal to 0"),
    (lambda s: s.update(phase=99), "phase 99 of a run with 2 phases"),
    (lambda s: s.update(step=3), "step 3 after 15 iterations"),
])
def test_hand_edited_checkpoints_are_refused(crashed, tmp_path, capsys, edit, fragment):
    run = _edited(crashed, tmp_path, edit)
    before = (run / "history.csv").read_text()
    refused(capsys, ["solve", "--resume", run], "checkpoint.pt", fragment)
    assert (run / "history.csv").read_text() == before and not (run / "summary.json").exists()


def test_planted_links_are_never_written_through(crashed, tmp_path):
    run, outside = tmp_path / "run", tmp_path / "outside.txt"
    shutil.copytree(crashed, run)
    (run / "summary.json").unlink()
    outside.write_text("keep me")
    for name in (".summary.json.tmp", ".history.csv.tmp", ".model.pt.tmp", ".checkpoint.pt.tmp"):
        (run / name).symlink_to(outside)
    result = pinnkit.resume(run)
    assert result.status == "completed" and outside.read_text() == "keep me"
    for name in ("summary.json", "history.csv", "model.pt", "checkpoint.pt"):
        assert (run / name).is_file() and not (run / name).is_symlink()


def test_a_changed_problem_file_is_refused_on_resume_and_the_kept_copy_reopens_a_moved_run(tmp_path, capsys):
    (tmp_path / "heat.py").write_text(HEAT)
    (tmp_path / "heat.toml").write_text(HEAT_TOML.replace("iterations = 4", "iterations = 4\n[[phases]]\n"
                                                          'optimizer = "adam"\niterations = 4'))
    result = pinnkit.solve(tmp_path / "heat.toml", out=tmp_path / "run")
    assert (tmp_path / "run" / "problem.py").read_text() == HEAT
    (tmp_path / "run" / "summary.json").unlink()
    (tmp_path / "heat.py").write_text(HEAT.replace("self.k * d.u_xx", "2 * self.k * d.u_xx"))
    refused(capsys, ["solve", "--resume", tmp_path / "run"], "heat.py: changed since the run started")
    (tmp_path / "heat.py").unlink()
    moved = shutil.move(tmp_path / "run", tmp_path / "elsewhere")
    solution = pinnkit.load(moved, trust_code=True)
    np.testing.assert_allclose(solution.predict(np.array([[0.5, 0.5]]))["u"],
                               result.solution.predict(np.array([[0.5, 0.5]]))["u"])


# Opening other people's runs -------------------------------------------------------------------------------

def test_opening_a_run_with_python_code_needs_trust(tmp_path, capsys):
    (tmp_path / "heat.py").write_text(HEAT)
    (tmp_path / "heat.toml").write_text(HEAT_TOML)
    run = pinnkit.solve(tmp_path / "heat.toml", out=tmp_path / "run").run_dir
    (tmp_path / "heat.py").write_text("raise SystemExit('this code ran')\n")  # what opening must not run
    with pytest.raises(RunError, match=r"its problem Heat \(heat.py\) is Python code .* trust_code=True"):
        pinnkit.load(run)
    refused(capsys, ["plot", run], "--trust-code")
    refused(capsys, ["export", run], "--trust-code")
    assert main(["export", str(run), "--trust-code", "--resolution", "8"]) == 0
    refused(capsys, ["export", run, "--trust-code", "--resolution", "100000"], "--resolution: must be between 2")


def test_shipped_problems_open_without_trust(crashed):
    assert pinnkit.load(crashed).fields == ("u",)


# Sweeps ----------------------------------------------------------------------------------------------------

def test_a_sweep_rerun_with_another_base_config_keeps_the_completed_runs(tmp_path, capsys):
    args = ["sweep", BURGERS, "--grid", "model.width=4,6", "--out", tmp_path / "sweep", "--quiet",
            *[f"--set={o}" for o in TINY]]
    assert main([str(a) for a in args]) == 0
    before = {p: p.read_bytes() for p in (tmp_path / "sweep").rglob("*") if p.is_file()}
    refused(capsys, args + ["--set=phases[0].lr=0.05"], "completed with another config", "phases[0].lr: 0.05, was",
            "--force")
    assert {p: p.read_bytes() for p in (tmp_path / "sweep").rglob("*") if p.is_file()} == before


def test_a_half_written_results_row_is_repaired(tmp_path):
    args = ["sweep", BURGERS, "--grid", "model.width=4,6", "--out", tmp_path / "sweep", "--quiet",
            *[f"--set={o}" for o in TINY]]
    assert main([str(a) for a in args]) == 0
    results = tmp_path / "sweep" / "results.csv"
    rows = list(csv.DictReader(open(results)))
    with open(results, "a") as f:
        f.write("6,0,completed,all pha")  # a crash in the middle of an append
    assert main([str(a) for a in args]) == 0
    assert list(csv.DictReader(open(results))) == rows


def test_sweep_plot_refuses_text_columns_corrupt_descriptions_and_odd_formats(tmp_path, capsys):
    args = ["sweep", BURGERS, "--grid", "model.width=4,6", "--out", tmp_path / "sweep", "--quiet",
            *[f"--set={o}" for o in TINY]]
    assert main([str(a) for a in args]) == 0
    refused(capsys, ["sweep-plot", tmp_path / "sweep", "--x", "model.width", "--y", "message"],
            "--y message: not a number in every completed case")
    refused(capsys, ["sweep-plot", tmp_path / "sweep", "--x", "model.width", "--y", "loss", "--out",
                     tmp_path / "plot.txt"], "a plot is written as .png, .pdf, .svg")
    (tmp_path / "sweep" / "sweep.json").write_text("{not json")
    refused(capsys, ["sweep-plot", tmp_path / "sweep", "--x", "model.width", "--y", "loss"],
            "sweep.json: cannot be read")


# Signals and messages --------------------------------------------------------------------------------------

def test_an_interruption_before_training_says_so(monkeypatch, tmp_path, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pinnkit.api, "build", interrupted)
    assert main(["solve", str(BURGERS), "--out", str(tmp_path / "run")]) == 130
    assert capsys.readouterr().err.strip() == "interrupted: before training started, nothing written"


def test_ctrl_c_while_importing_is_one_line(tmp_path):
    """A SIGINT that lands while `python -m pinnkit` imports torch: exit 130, one line, no traceback."""
    script = ("import signal, os, builtins\n"
              "signal.signal(signal.SIGINT, signal.default_int_handler)\n"  # as from a terminal, even when the
              "real = builtins.__import__\n"
              "def slow(name, *a, **k):\n"
              "    if name == 'torch':\n"
              "        builtins.__import__ = real\n"
              "        os.kill(os.getpid(), signal.SIGINT)\n"
              "    return real(name, *a, **k)\n"
              "builtins.__import__ = slow\n"
              "import runpy, sys\n"
              "sys.argv = ['pinnkit', 'list']\n"
              "runpy.run_module('pinnkit', run_name='__main__')\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 130 and proc.stderr.strip() == "interrupted: while starting, nothing written"


def test_checkpoint_check_accepts_what_the_trainer_writes(crashed):
    config = pinnkit.config.load(crashed / "config.toml")
    checkpoint.check(checkpoint.read(crashed), config, crashed / "checkpoint.pt")
    assert json.loads((crashed / "summary.json").read_text())["status"] == "completed"


def test_a_disk_that_fills_mid_run_ends_in_one_line_with_the_last_checkpoint_whole(monkeypatch, tmp_path, capsys):
    import errno

    from pinnkit import run as run_module

    saved, real = [], torch.save

    def filling(obj, f, *args, **kwargs):
        saved.append(f)
        if len(saved) > 2:  # the first checkpoints fit, then the disk is full
            with open(f, "wb") as half:
                half.write(b"PK\x03\x04 half")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(f))
        return real(obj, f, *args, **kwargs)

    monkeypatch.setattr(run_module.torch, "save", filling)
    code = main(["solve", str(BURGERS), *[a for kv in TINY for a in ("--set", kv)], "--out", str(tmp_path / "run"),
                 "--quiet", "--no-plots"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and err[-1].startswith("error: ") and "No space left on device" in err[-1]
    assert "Traceback" not in "\n".join(err)
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert (state["phase"], state["progress"]["iterations"]) == (0, 5)  # the second checkpoint, whole
    assert [p.name for p in (tmp_path / "run").iterdir() if p.name.endswith(".tmp")] == []


# Property: whatever a user's problem returns, and whatever a checkpoint holds ------------------------------

PROPERTY = settings(max_examples=40, deadline=None, derandomize=True,  # every combination passed when run by hand
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
JUNK = ["None", "5", "'text'", "[]", "{}", "{'pde': None}", "{'pde': 'x'}", "torch.zeros(3)", "float('nan')",
        "{'pde': torch.full_like(d.u_t, float('inf'))}", "{'u': 1}", "[Dirichlet(on='left')]", "(1, 2)",
        "Interval(0.0, 1.0)", "{'u': x[:, None] * 1j}", "1 / 0", "undefined_name", "[[]]", "{'u': t}",
        "torch.ones(2, 2)", "object()", "{'pde': d.u_t.sum()}", "Interval(1.0, 0.0)", "iter([])"]
METHODS = {"residuals": 'return {"pde": d.u_t - self.k * d.u_xx}',
           "domain": "return Interval(0.0, 1.0) * TimeInterval(0.0, 1.0)",
           "conditions": CONDITIONS, "reference": REFERENCE}


@PROPERTY
@given(method=st.sampled_from(sorted(METHODS)), junk=st.sampled_from(JUNK))
def test_whatever_a_users_method_returns_the_cli_answers_in_one_line(method, junk, tmp_path_factory):
    folder = tmp_path_factory.mktemp("junk")
    (folder / "heat.py").write_text(HEAT.replace(METHODS[method], f"return {junk}"))
    (folder / "heat.toml").write_text(HEAT_TOML.replace("iterations = 4", "iterations = 2"))
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["solve", str(folder / "heat.toml"), "--out", str(folder / "run"), "--quiet", "--no-plots"])
    lines = err.getvalue().strip().splitlines()
    assert "Traceback" not in err.getvalue()
    if code == 0:
        assert json.loads((folder / "run" / "summary.json").read_text())["status"] == "completed"
    else:
        assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and not (folder / "run").exists()


POSITION = ["phase", "progress", "step", "results", "history_rows", "seconds", "last", "snapshot", "resumed", "rng",
            "points", "model", "parameters", "config", "format"]
VALUES = st.sampled_from([None, -5, 0, 1, 99, 10**12, 2.5, float("nan"), "x", [], {}, {"bogus": 1}, [1, 2],
                          {"iterations": -1, "evaluations": 0, "seconds": 0.0}, torch.zeros(3, dtype=torch.uint8)])


@PROPERTY
@given(key=st.sampled_from(POSITION), value=VALUES)
def test_whatever_a_checkpoint_field_holds_resume_answers_in_one_line(crashed, key, value, tmp_path_factory):
    run = tmp_path_factory.mktemp("edited") / "run"
    shutil.copytree(crashed, run)
    (run / "summary.json").unlink()
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    state[key] = value
    torch.save(state, run / "checkpoint.pt")
    history = (run / "history.csv").read_text()
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["solve", "--resume", str(run), "--quiet", "--no-plots"])
    lines = err.getvalue().strip().splitlines()
    assert "Traceback" not in err.getvalue()
    if code != 0:
        assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err.getvalue()
        assert (run / "history.csv").read_text() == history and not (run / "summary.json").exists()
