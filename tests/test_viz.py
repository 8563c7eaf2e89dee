"""Plots, VTK export and offscreen renders of tiny runs: every figure is a PNG with content, the VTK files
read back with the predicted values at their points, and the CLI commands work in a subprocess."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import pyvista as pv
from PIL import Image

import pinnkit
from pinnkit.cli import main
from pinnkit.pdes.burgers_exact import burgers_exact
from pinnkit.viz import animate, fields, flow, grids, history, lines, render3d

ROOT = Path(__file__).resolve().parents[1]
COMMON = ["points.interior=100", "points.boundary=40", "points.evaluation=100", "model.depth=2", "model.width=8",
          "output.log_every=5"]
TINY = COMMON + ["points.initial=20", "phases[0].iterations=10", "phases[0].lr=5e-3", "phases[1].iterations=5"]


def _solve(tmp_path_factory, case, overrides, out=None):
    out = out or tmp_path_factory.mktemp(case) / "run"
    return pinnkit.solve(ROOT / "problems" / f"{case}.toml", overrides, out=out)


@pytest.fixture(scope="module")
def burgers(tmp_path_factory):
    return _solve(tmp_path_factory, "burgers", TINY)


@pytest.fixture(scope="module")
def cavity(tmp_path_factory):
    return _solve(tmp_path_factory, "cavity", TINY)


@pytest.fixture(scope="module")
def beltrami(tmp_path_factory):
    return _solve(tmp_path_factory, "beltrami", TINY + ["points.evaluation=300"])  # 4 axes: at least 4^4


@pytest.fixture(scope="module")
def inverse(tmp_path_factory):
    return _solve(tmp_path_factory, "burgers_inverse", COMMON + ["phases[0].iterations=10"])


def _assert_picture(path):
    """A non-empty image file whose pixels are not all the same."""
    assert path.is_file() and path.stat().st_size > 0
    pixels = np.asarray(Image.open(path).convert("RGB"))
    assert pixels.shape[0] > 100 and pixels.shape[1] > 100 and pixels.std() > 5


def test_plot_burgers_writes_maps_profiles_and_history(burgers, tmp_path):
    paths = pinnkit.plot(burgers.run_dir, out_dir=tmp_path)
    assert sorted(p.name for p in paths) == ["field_u.png", "history.png", "profiles.png"]
    for p in paths:
        _assert_picture(p)


def test_figures_are_written_as_vector_files_on_request(burgers, tmp_path, capsys):
    paths = pinnkit.plot(burgers.run_dir, out_dir=tmp_path, formats=("pdf", "svg"))
    assert sorted(p.name for p in paths) == ["field_u.pdf", "field_u.svg", "history.pdf", "history.svg",
                                             "profiles.pdf", "profiles.svg"]
    assert all(p.read_bytes().startswith(b"%PDF") for p in paths if p.suffix == ".pdf")
    assert all(b"<svg" in p.read_bytes()[:2000] for p in paths if p.suffix == ".svg")
    assert main(["plot", str(burgers.run_dir), "--format", "png,pdf"]) == 0
    assert (burgers.run_dir / "plots" / "history.pdf").is_file()
    assert main(["plot", str(burgers.run_dir), "--format", "jpeg"]) == 2
    assert "--format jpeg: each of png, pdf, svg" in capsys.readouterr().err


def test_history_labels_weights_and_shows_a_schedule(tmp_path):
    overrides = COMMON + ["points.initial=20", "phases[0].iterations=20", "phases[0].schedule=cosine",
                          "phases[1].iterations=5", "loss.weights.ic=5.0", "model.hard_constraints=false"]
    run = _solve(tmp_path_factory=None, case="burgers", overrides=overrides, out=tmp_path / "run")
    path = pinnkit.plot(run.run_dir, out_dir=tmp_path / "plots")
    figure = [p for p in path if p.name == "history.png"][0]
    _assert_picture(figure)
    from pinnkit.viz.history import _label

    assert _label(run.solution, "ic") == "ic (weight 5)" and _label(run.solution, "loss") == "total (weighted sum)"
    assert _label(run.solution, "pde") == "pde"


def test_plot_cavity_writes_field_maps_flow_and_centre_lines(cavity):
    paths = pinnkit.plot(cavity.run_dir)
    assert {p.parent for p in paths} == {cavity.run_dir / "plots"}
    assert sorted(p.name for p in paths) == ["field_p.png", "field_u.png", "field_v.png", "flow.png", "history.png",
                                            "probes.png"]
    for p in paths:
        _assert_picture(p)


def test_history_of_an_inverse_run_and_views_that_do_not_apply(burgers, cavity, inverse, tmp_path):
    _assert_picture(history.history_plot(inverse.solution, tmp_path))  # with the trajectory of nu
    assert flow.flow_map(burgers.solution, tmp_path) is None and lines.probe_lines(burgers.solution, tmp_path) is None
    assert lines.profiles(cavity.solution, tmp_path) is None
    assert fields.field_maps(cavity.solution, tmp_path, n=20)[0].name == "field_u.png"


def test_history_reads_losses_errors_and_trained_parameters(inverse):
    table = history.read_history(inverse.run_dir / "history.csv")
    assert {"loss", "pde", "data", "rel_l2_u", "nu"} <= set(table) and table["optimizer"][0] == "ssbroyden"
    assert table["nu"][0] == pytest.approx(0.01)


def test_sample_matches_predict_and_removes_the_mean_of_pressure(cavity):
    sol = cavity.solution
    grid = grids.lattice(sol, ("x", "y"), 9)
    s = grids.sample(sol, grid)
    predicted = sol.predict(grid.points())
    assert s.prediction["u"].shape == (9, 9)
    np.testing.assert_allclose(s.prediction["u"].ravel(), predicted["u"], rtol=1e-12)
    np.testing.assert_allclose(s.prediction["p"].ravel(), predicted["p"] - predicted["p"].mean(), atol=1e-12)
    assert set(s.reference) == {"u", "v"}  # the cavity's reference has no pressure


def test_export_steady_reads_back_with_predicted_values(cavity, tmp_path):
    (path,) = pinnkit.export(cavity.run_dir, resolution=11, out_dir=tmp_path)
    mesh = pv.read(path)
    assert path.name == "fields.vti" and mesh.dimensions == (11, 11, 1)
    assert set(mesh.array_names) == {"u", "v", "p", "u_reference", "u_error", "v_reference", "v_error", "velocity"}
    points = mesh.points[:, :2]
    predicted = cavity.solution.predict(points)
    np.testing.assert_array_equal(mesh["velocity"], np.stack([mesh["u"], mesh["v"], 0 * mesh["u"]], axis=1))
    np.testing.assert_allclose(points[1], [0.1, 0.0], atol=1e-6)  # x varies fastest, as VTK reads it
    np.testing.assert_allclose(mesh["u"], predicted["u"], atol=1e-6)
    np.testing.assert_allclose(mesh["p"], predicted["p"] - predicted["p"].mean(), atol=1e-6)
    np.testing.assert_allclose(mesh["u_error"], mesh["u"] - mesh["u_reference"], atol=1e-12)


def test_export_unsteady_writes_a_time_series(burgers, tmp_path):
    paths = pinnkit.export(burgers.run_dir, resolution=21, times=3, out_dir=tmp_path)
    assert [p.name for p in paths] == ["fields_000.vti", "fields_001.vti", "fields_002.vti", "fields.pvd"]
    reader = pv.get_reader(paths[-1])
    assert reader.time_values == pytest.approx([0.0, 0.5, 1.0])
    reader.set_active_time_value(0.5)
    mesh = reader.read()[0]
    assert mesh.dimensions == (21, 1, 1) and set(mesh.array_names) == {"u", "u_reference", "u_error"}
    x = mesh.points[:, 0]
    expected = burgers.solution.predict(np.stack([x, np.full_like(x, 0.5)], axis=1))["u"]
    np.testing.assert_allclose(mesh["u"], expected, atol=1e-6)
    np.testing.assert_allclose(mesh["u_reference"], burgers_exact(x.astype(float), np.full_like(x, 0.5, dtype=float),
                                                                  0.01 / np.pi), atol=1e-6)


def test_3d_render_and_animation(beltrami, tmp_path):
    sol = beltrami.solution
    s = grids.sample(sol, grids.lattice(sol, ("x", "y", "z"), 12, {"t": 1.0}))
    picture = render3d.slices(s, "u", "beltrami", path=tmp_path / "slices.png")
    assert picture.ndim == 3 and picture.shape[2] == 3
    _assert_picture(tmp_path / "slices.png")
    gif = animate.animate(sol, tmp_path, field="p", frames=2, n=10)
    assert gif.name == "animation_p.gif" and Image.open(gif).n_frames == 2


def test_1d_animation_and_none_for_a_steady_run(burgers, cavity, tmp_path):
    gif = animate.animate(burgers.solution, tmp_path, frames=3, n=50)
    assert gif.name == "animation_u.gif" and Image.open(gif).n_frames == 3
    assert animate.animate(cavity.solution, tmp_path) is None


def test_a_failing_plot_keeps_the_run(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no fonts\nsecond line")

    monkeypatch.setattr(pinnkit.viz, "plot", broken)
    result = pinnkit.solve(ROOT / "problems" / "burgers.toml", TINY, out=tmp_path / "run", plots=True)
    assert result.status == "completed" and result.plot_error == "RuntimeError: no fonts"
    assert (tmp_path / "run" / "summary.json").is_file()


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "pinnkit", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


def test_cli_plot_and_export(burgers):
    done = _cli("plot", burgers.run_dir)
    assert done.returncode == 0, done.stderr
    assert {"field_u.png", "profiles.png", "history.png"} <= {p.name for p in (burgers.run_dir / "plots").iterdir()}
    done = _cli("export", burgers.run_dir, "--resolution", "8")
    assert done.returncode == 0, done.stderr
    assert (burgers.run_dir / "vtk" / "fields.pvd").is_file() and pv.read(burgers.run_dir / "vtk" / "fields_000.vti")


def test_cli_bad_run_folder_is_one_line_and_exit_2(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    for args in (["plot", tmp_path / "missing"], ["export", tmp_path / "empty"], ["export", tmp_path, "--resolution", "1"]):
        assert main([str(a) for a in args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1
