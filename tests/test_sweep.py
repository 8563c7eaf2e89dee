"""Sweeps: case expansion and names, the results table, local processes and Dask, failures, resume, the plot."""
import json
import shutil
from pathlib import Path

import pytest

import pinnkit
from pinnkit.cli import main
from pinnkit.config import ConfigError, load
from pinnkit.sweeps import expand, parse_grid, read_results
from pinnkit.sweeps import table

ROOT = Path(__file__).resolve().parents[1]
BURGERS = ROOT / "problems" / "burgers.toml"
TINY = ["model.hard_constraints=false", "points.interior=100", "points.boundary=20", "points.initial=20",
        "points.evaluation=100", "model.depth=2", "output.log_every=5",
        "phases[0].iterations=10", "phases[0].lr=5e-3", "phases[1].iterations=5"]
GRID = {"problem.parameters.nu": [0.0032, 0.0064], "model.width": [6, 8]}
NAMES = ["nu=0.0032_width=6", "nu=0.0032_width=8", "nu=0.0064_width=6", "nu=0.0064_width=8"]


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    """The 2x2 grid on two local worker processes."""
    out = tmp_path_factory.mktemp("sweep") / "local"
    return out, pinnkit.sweep(BURGERS, GRID, workers=2, out=out, overrides=TINY, quiet=True)


def _stamps(folder):
    return {p.parent.name: p.stat().st_mtime_ns for p in folder.glob("*/summary.json")}


def test_expand_is_cases_times_grid_times_seeds():
    cases = expand({"model.width": [20, 40], "model.depth": [2, 4]}, seeds=[0, 1])
    assert [(c.values["model.width"], c.values["model.depth"], c.seed) for c in cases][:5] == \
        [(20, 2, 0), (20, 2, 1), (20, 4, 0), (20, 4, 1), (40, 2, 0)]
    assert len(cases) == 8 and cases[0].name == "width=20_depth=2_seed=0"
    zipped = expand(cases=[{"problem.parameters.nu": 0.01, "phases[0].lr": 1e-3},
                           {"problem.parameters.nu": 0.02, "phases[0].lr": 2e-3}], grid={"model.width": [8, 16]})
    assert [c.name for c in zipped] == ["nu=0.01_lr=0.001_width=8", "nu=0.01_lr=0.001_width=16",
                                        "nu=0.02_lr=0.002_width=8", "nu=0.02_lr=0.002_width=16"]
    assert zipped[1].overrides() == ["problem.parameters.nu=0.01", "phases[0].lr=0.001", "model.width=16"]
    assert [c.name for c in expand(seeds=[3, 4])] == ["seed=3", "seed=4"]
    assert expand(seeds=[3])[0].overrides() == ["seed=3"]


def test_case_names_are_short_unique_and_filesystem_safe():
    nus = [0.01 / 3.14159, 0.0031831, 0.02 / 3.14159]
    names = [c.name for c in expand({"problem.parameters.nu": nus})]
    assert names == ["nu=0.003183102", "nu=0.0031831", "nu=0.006366203"]  # digits that keep them apart
    names = [c.name for c in expand({"phases[0].iterations": [5], "phases[1].iterations": [7],
                                     "model.activation": ["tanh"], "model.width": [-1]})]
    assert names == ["phases0.iterations=5_phases1.iterations=7_activation=tanh_width=-1"]
    assert [c.name for c in expand({"loss.weights.bc": [[1, 2]], "x": [True]})] == ["bc=1-2_x=true"]
    assert expand({"model.width": [20]}) == expand({"model.width": [20]})  # deterministic


@pytest.mark.parametrize("grid, cases, seeds, message", [
    ({}, None, None, "nothing to sweep"),
    ({"model.width": []}, None, None, "non-empty list"),
    ({"seed": [1, 2]}, None, None, "seeds="),
    ({"model.width": [8]}, [{"model.width": 4}], None, "both in the grid and in the cases"),
    (None, [{"model.width": 4}, {"model.width": 4}], None, "cases repeat"),
])
def test_bad_sweeps_are_config_errors(grid, cases, seeds, message):
    with pytest.raises(ConfigError, match=message):
        expand(grid, cases, seeds)


def test_parse_grid_and_bad_cli_grid_exit_2(tmp_path, capsys):
    assert parse_grid(["a.b=0.1,2", "c=tanh,sin", "d=true", 'e="x y"']) == \
        {"a.b": [0.1, 2], "c": ["tanh", "sin"], "d": [True], "e": ["x y"]}
    for bad in (["model.width"], ["model.width="], ["model.width=1,,2"], ["=1"], ["a=1", "a=2"]):
        with pytest.raises(ConfigError, match="--grid"):
            parse_grid(bad)
    assert main(["sweep", str(BURGERS), "--grid", "model.width", "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: --grid model.width: expected KEY=V1,V2")
    assert main(["sweep", str(BURGERS), "--seeds", "0,x", "--out", str(tmp_path / "s")]) == 2
    assert not (tmp_path / "s").exists()


def test_results_table_appends_widens_and_reads_back_values(tmp_path):
    path, case = tmp_path / "results.csv", expand({"model.width": [8, 16]})
    table.append(path, table.row(case[0], "invalid", "model.width: bad, really", 0.0), ["model.width"])
    table.append(path, {**table.row(case[1], "completed", "ok", 1.5), "loss": 0.1 + 0.2, "rel_l2_u": 1e-3},
                 ["model.width"])
    assert path.read_text().splitlines()[0] == "model.width,seed,status,message,loss,rel_l2_u,seconds,run_dir"
    rows = read_results(path)
    assert rows[0]["loss"] is None and rows[0]["message"] == "model.width: bad, really"
    assert rows[1] == {"model.width": 16, "seed": None, "status": "completed", "message": "ok",
                       "loss": 0.1 + 0.2, "rel_l2_u": 1e-3, "seconds": 1.5, "run_dir": "width=16"}


def test_local_sweep_writes_run_folders_and_one_row_per_case(local):
    out, rows = local
    assert [r["run_dir"] for r in rows] == NAMES
    for r in rows:
        assert r["status"] == "completed" and r["seed"] == 0 and 0 < r["rel_l2_u"] < 2
        assert r["loss"] == pytest.approx(r["pde"] + r["bc"] + r["ic"]) and r["seconds"] > 0
        summary = json.loads((out / r["run_dir"] / "summary.json").read_text())
        assert summary["loss"]["loss"] == r["loss"] and summary["rel_l2"]["u"] == r["rel_l2_u"]
        assert pinnkit.load(out / r["run_dir"]).config.problem.parameters["nu"].init == r["problem.parameters.nu"]
    assert {r["model.width"] for r in rows} == {6, 8}
    assert sorted(r["run_dir"] for r in read_results(out / "results.csv")) == NAMES
    assert list(rows[0])[:5] == ["problem.parameters.nu", "model.width", "seed", "status", "message"]


def test_failing_cases_are_recorded_and_the_rest_finish(tmp_path, capsys):
    out = tmp_path / "fail"
    code = main(["sweep", str(BURGERS), "--grid", "phases[0].lr=5e-3,1e30", "--grid", "model.width=6,-1",
                 "--out", str(out), "--quiet"] + [f"--set={o}" for o in TINY])
    assert code == 1
    rows = {r["run_dir"]: r for r in read_results(out / "results.csv")}
    assert rows["lr=0.005_width=6"]["status"] == "completed"
    assert rows["lr=1e+30_width=6"]["status"] == "diverged"
    assert "non-finite loss" in rows["lr=1e+30_width=6"]["message"]
    for name in ("lr=0.005_width=-1", "lr=1e+30_width=-1"):
        assert rows[name]["status"] == "invalid" and "model.width: must be > 0, got -1" in rows[name]["message"]
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["lr=0.005_width=6", "lr=1e+30_width=6"]
    assert "4 cases: 1 completed, 2 invalid, 1 diverged" in capsys.readouterr().out


def test_rerun_resumes_runs_only_unfinished_cases(local, tmp_path):
    out = tmp_path / "resume"
    shutil.copytree(local[0], out)
    (out / NAMES[0] / "summary.json").unlink()  # killed mid-case
    rows = [line for line in (out / "results.csv").read_text().splitlines() if not line.endswith(NAMES[1])]
    (out / "results.csv").write_text("\n".join(rows) + "\n")  # killed between the run folder and its row
    before = _stamps(out)
    again = pinnkit.sweep(BURGERS, GRID, workers=2, out=out, overrides=TINY, quiet=True)  # same threads per case
    after = _stamps(out)
    assert [n for n in NAMES if after[n] != before.get(n)] == [NAMES[0]]  # one case ran, one row restored
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in again] == \
        [{k: v for k, v in r.items() if k != "seconds"} for r in local[1]]
    assert sorted(r["run_dir"] for r in read_results(out / "results.csv")) == NAMES

    pinnkit.sweep(BURGERS, GRID, out=out, overrides=TINY, quiet=True)
    assert _stamps(out) == after  # all finished: nothing runs


@pytest.mark.parametrize("extra, force, left", [([], False, []), ([], True, NAMES),
                                                (["phases[1].iterations=4"], True, NAMES)])
def test_force_runs_cases_again(local, extra, force, left):
    from pinnkit.sweeps.runner import _plan
    from pinnkit.sweeps.worker import Task

    out = local[0]
    tasks = [Task(str(BURGERS), tuple(TINY + extra), c, str(out / c.name)) for c in expand(GRID)]
    assert [t.case.name for t in _plan(tasks, out / "results.csv", force)[2]] == left


def test_a_changed_config_without_force_is_refused_naming_the_key(local):
    from pinnkit.sweeps.runner import _plan
    from pinnkit.sweeps.worker import Task

    out = local[0]
    tasks = [Task(str(BURGERS), tuple(TINY + ["phases[1].iterations=4"]), c, str(out / c.name)) for c in expand(GRID)]
    with pytest.raises(ConfigError, match=r"completed with another config \(phases\[1\]\.iterations: 4, was "):
        _plan(tasks, out / "results.csv", False)


def test_dask_gives_the_same_table(local, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=2,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        rows = pinnkit.sweep(BURGERS, GRID, out=tmp_path / "dask", overrides=TINY, client=client, quiet=True)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert strip(rows) == strip(local[1])


def test_toml_sweep_section(tmp_path):
    text = BURGERS.read_text() + '\n[sweep]\ncases = [{"model.width" = -1}, {"model.width" = -2}]\nseeds = [3]\n'
    (tmp_path / "burgers.toml").write_text(text)
    assert load(tmp_path / "burgers.toml").sweep.seeds == [3]
    rows = pinnkit.sweep(tmp_path / "burgers.toml", out=tmp_path / "s", quiet=True)  # both invalid: nothing spawns
    assert [(r["run_dir"], r["status"], r["seed"]) for r in rows] == \
        [("width=-1_seed=3", "invalid", 3), ("width=-2_seed=3", "invalid", 3)]
    (tmp_path / "bad.toml").write_text(BURGERS.read_text() + "\n[sweep]\ngrid = {\"model.width\" = []}\n")
    with pytest.raises(ConfigError, match="sweep.grid.model.width"):
        load(tmp_path / "bad.toml")


def test_sweep_plot(local, tmp_path, capsys):
    out = local[0]
    assert main(["sweep-plot", str(out), "--x", "problem.parameters.nu", "--y", "rel_l2_u",
                 "--out", str(tmp_path / "p.png")]) == 0
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    path = pinnkit.plot_sweep(out, "model.width", "loss")
    assert path == out / "plots" / "loss_vs_width.png" and path.stat().st_size > 0
    assert main(["sweep-plot", str(out), "--x", "problem.parameters.nu", "--y", "rel_l2_v"]) == 2
    assert "--y rel_l2_v: no such column" in capsys.readouterr().err
