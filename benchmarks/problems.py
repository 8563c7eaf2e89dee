"""Accuracy, wall time and size of every shipped problem (its TOML defaults), against the goals of the issues.

    python benchmarks/problems.py [--cases poisson cavity ...] [--seeds 0 1] [--quick]
    python benchmarks/problems.py --merge seed0.json seed1.json --json all.json   # seeds run side by side
    python benchmarks/problems.py --cases wave_accurate --runs runs/w0 runs/w1 --json wave.json  # solved by the CLI

By default the cases of the problem library; `--cases kovasznay_accurate` (or `poisson_accurate`)
measures a high-accuracy setup.

Per case and seed: relative L2 error per field (pressure mean-removed), the largest error along the
problem's probe lines (the cavity's centre lines, in units of the lid speed), identified parameters
and their relative errors, wall time, network size and point counts. Prints a table and writes
benchmarks/results/problems.json (`--quick`: a tenth of the iterations, problems_quick.json), and the
error against wall time of every run beside it (.png).
"""
from __future__ import annotations

import argparse
import csv
import json
import tempfile
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import torch

import pinnkit
from common import machine, spread, write_json

ROOT = Path(__file__).resolve().parents[1]
CASES = ("poisson", "poisson_multiscale", "poisson_lshape", "kovasznay", "cavity", "taylor_green", "beltrami",
         "burgers_inverse", "navier_stokes_inverse")
ACCURATE = ("poisson_accurate", "kovasznay_accurate", "poisson_lshape_accurate", "taylor_green_accurate",
            "poisson_multiscale_accurate", "cavity_accurate", "beltrami_accurate", "wave_accurate", "kdv_accurate",
            "burgers_accurate", "plate_with_holes_accurate", "advection_accurate", "allen_cahn_accurate",
            "kuramoto_sivashinsky_accurate")
TIME_DEPENDENT = ("allen_cahn", "advection", "kdv", "kuramoto_sivashinsky", "wave")
OTHERS = ("burgers", "burgers_parametric", "plate_with_holes")  # measurable here too (Burgers: also benchmarks/burgers.py)
GOALS = {  # case -> (figure, at most): the issues' goals for the shipped defaults on 2 CPU cores
    "poisson": ("rel_l2_u", 1e-4),
    "kovasznay": ("rel_l2_uv", 1e-3),
    "taylor_green": ("rel_l2_uv", 1e-3),
    "cavity": ("probe_max_abs", 0.02),
    "burgers_inverse": ("parameter_rel_error", 0.01),
    "poisson_accurate": ("rel_l2_u", 1e-10),
    "kovasznay_accurate": ("rel_l2_uv", 1e-7),  # issue 17
    "poisson_lshape_accurate": ("rel_l2_u", 1e-5),
    "taylor_green_accurate": ("rel_l2_uv", 1e-5),
    "poisson_multiscale_accurate": ("rel_l2_u", 1e-6),
    "cavity_accurate": ("rel_l2_uv", 1e-3),
    "beltrami_accurate": ("rel_l2_uvw", 5e-4),
    "burgers_accurate": ("rel_l2_u", 1e-7),  # issue 17: within 30 minutes
    "plate_with_holes_accurate": ("rel_l2_u", 1e-5),  # issue 21
    "allen_cahn": ("rel_l2_u", 5e-5),  # issue 20: jaxpi's figures, and 1e-5 for KdV and the wave
    "advection": ("rel_l2_u", 6.9e-4),
    "kdv": ("rel_l2_u", 1e-5),
    "wave": ("rel_l2_u", 1e-5),
    "kuramoto_sivashinsky": ("rel_l2_u", 1.6e-1),
    "wave_accurate": ("rel_l2_u", 1e-5),
    "kdv_accurate": ("rel_l2_u", 1e-5),
    "advection_accurate": ("rel_l2_u", 6.9e-4),  # issue 20: jaxpi's figure
    "allen_cahn_accurate": ("rel_l2_u", 5e-5),  # issue 20: jaxpi's figure, within 30 minutes
    "kuramoto_sivashinsky_accurate": ("rel_l2_u", 1.6e-1),  # issue 20: jaxpi's figure over t in [0, 1]
}


def probe_errors(solution: pinnkit.Solution) -> dict[str, float]:
    """Largest |prediction - reference| of each probed field along each probe (`field@probe`)."""
    problem = solution.problem
    if not problem.has("probes"):
        return {}
    out = {}
    for name, (points, fields) in problem.probes().items():
        predicted = solution.predict(points)
        exact = problem.truth().reference(*(torch.as_tensor(c) for c in points.T))
        out.update({f"{f}@{name}": float(np.abs(predicted[f] - np.asarray(exact[f])).max()) for f in fields})
    return out


def worst(errors: dict[str, float], fields: str = "uvw") -> float:
    """The largest relative L2 error among `fields` (nan where none is reported)."""
    found = [errors[f] for f in fields if f in errors]
    return max(found) if found else np.nan


def trace(run_dir: Path) -> list[list[float]]:
    """[wall time, worst velocity error] at every history row of a run: how soon it got where."""
    with open(run_dir / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return [[float(r["time"]), worst({k.removeprefix("rel_l2_"): float(v) for k, v in r.items()
                                      if k.startswith("rel_l2_") and v})] for r in rows]


def figures(summary: dict[str, Any], probes: dict[str, float]) -> dict[str, float]:
    """The figures the goals are stated in, from a run's summary."""
    errors = summary["rel_l2"]
    found = [p["rel_error"] for p in summary["identified"].values() if p["rel_error"] is not None]
    return {"rel_l2_u": errors.get("u", np.nan), "rel_l2_uv": worst(errors, "uv"), "rel_l2_uvw": worst(errors),
            "probe_max_abs": max(probes.values(), default=np.nan), "parameter_rel_error": max(found, default=np.nan)}


def run(case: str, seed: int, quick: bool, out: Path, extra: list[str]) -> dict[str, Any]:
    config = pinnkit.config.load(ROOT / "problems" / f"{case}.toml")
    overrides = [f"seed={seed}", *extra] + ([f"phases[{i}].iterations={max(1, p.iterations // 10)}"
                                             for i, p in enumerate(config.phases)] if quick else [])
    result = pinnkit.solve(ROOT / "problems" / f"{case}.toml", overrides, out=out / f"{case}-{seed}")
    return measured(case, result.summary, result.solution, result.run_dir)


def measured(case: str, s: dict[str, Any], solution: pinnkit.Solution, run_dir: Path) -> dict[str, Any]:
    """One results row from a finished run's summary, solution and folder."""
    probes = probe_errors(solution)
    return {"case": case, "seed": s["seed"], "status": s["status"], "seconds": s["seconds"], "rel_l2": s["rel_l2"],
            "probe_max_abs": probes, "identified": s["identified"], "figures": figures(s, probes),
            "iterations": s["iterations"], "trace": trace(run_dir)}


def from_runs(case: str, folders: list[Path], path: Path, extra: list[str]) -> None:
    """One results file from run folders of `case` solved elsewhere (`python -m pinnkit solve`, one per seed, side
    by side); `extra` are the overrides they were solved with besides their seeds."""
    rows = [measured(case, json.loads((d / "summary.json").read_text()), pinnkit.load(d), d) for d in folders]
    write_json(path, {"machine": machine(), "quick": False, "overrides": extra, "runs_from": [str(d) for d in folders],
                      "cases": report(rows, extra), "runs": rows})
    plot(rows, path.with_suffix(".png"))
    conclude(rows, extra)


def default_runs(case: str) -> list[tuple[float, float]]:
    """(final error of the worst field, wall seconds) of each measured run of a shipped default: from
    problems.json, else for Burgers burgers.json (benchmarks/burgers.py, the seeds of that default), else the
    `default` variant of ablation_<case>.json."""
    results = ROOT / "benchmarks" / "results"

    def runs(name: str) -> list[dict[str, Any]]:
        path = results / name
        return json.loads(path.read_text())["runs"] if path.exists() else []

    sources = [[(worst(r["rel_l2"]), r["seconds"]) for r in runs("problems.json") if r["case"] == case],
               [(r["rel_l2_u"], r["seconds"]) for r in runs("burgers.json")] if case == "burgers" else [],
               [(worst(r["rel_l2"]), r["seconds"]) for r in runs(f"ablation_{case}.json") if r["variant"] == "default"]]
    return next((found for found in sources if found), [])


def marched(case: str) -> bool:
    """Whether a shipped case trains its time range window by window (`[time]`)."""
    return pinnkit.config.load(ROOT / "problems" / f"{case}.toml", ()).time is not None


def sooner(case: str, runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """For an accurate configuration: when its runs first reached the shipped default's final error (the
    median of the default's measured runs, `default_runs`), against the default's wall time (median). Not for
    a time-marched one, whose error covers the whole time range only in its last window."""
    default = case.removesuffix("_accurate")
    base = default_runs(default)
    if default == case or not base or any("trace" not in r for r in runs) or marched(case):
        return None
    target = float(np.median([error for error, _ in base]))
    reached = [next((t for t, e in r["trace"] if e <= target), np.nan) for r in runs]
    seconds = float(np.median([s for _, s in base]))
    return {"default": default, "default_error": target, "default_seconds": seconds,
            "seconds_to_default_error": spread(reached), "times_sooner": seconds / float(np.median(reached))}


def setup_of(case: str, extra: list[str]) -> dict[str, Any]:
    """Network and points of a case's shipped TOML, with the benchmark's overrides."""
    config = pinnkit.config.load(ROOT / "problems" / f"{case}.toml", tuple(extra))
    m = config.model
    build = pinnkit.build.build(config)
    return {"network": f"{m.name} {m.depth}x{m.width} {m.activation}" + (f" +{m.fourier_features} Fourier" if
                                                                          m.fourier_features else ""),
            "weights": sum(w.numel() for w in build.model.parameters()),
            "points": {g.owner: len(g.arrays["points"]) for g in build.objective.groups},
            "phases": [f"{ph.optimizer} {ph.iterations}" for ph in config.phases]}


def report(rows: list[dict[str, Any]], extra: list[str]) -> dict[str, Any]:
    """Per case: its setup, wall time over seeds and, where the issue sets one, the goal's figure."""
    out = {}
    for case in dict.fromkeys(r["case"] for r in rows):
        runs = [r for r in rows if r["case"] == case]
        out[case] = {"setup": setup_of(case, extra), "seconds": spread([r["seconds"] for r in runs])}
        if case in GOALS:
            figure, limit = GOALS[case]
            values = spread([r["figures"][figure] for r in runs])
            out[case]["goal"] = {"figure": figure, "at_most": limit, **values, "met": values["median"] <= limit}
        if (faster := sooner(case, runs)) is not None:
            out[case]["sooner"] = faster
    return out


def show(r: dict[str, Any]) -> None:
    shown = [f"{f}={e:.2e}" for f, e in r["rel_l2"].items()]
    shown += [f"max|err {f}|={e:.2e}" for f, e in r["probe_max_abs"].items()]
    shown += [f"{k}={v['value']:.5g} ({v['rel_error']:.2%})" for k, v in r["identified"].items()]
    print(f"{r['case']:<22} {r['seed']:>4} {r['seconds']:>8.1f}  {'  '.join(shown)}", flush=True)


def conclude(rows: list[dict[str, Any]], extra: list[str]) -> None:
    """Print each case's goal and how much sooner than its default it got there."""
    for case, entry in report(rows, extra).items():
        if "goal" in entry:
            g = entry["goal"]
            print(f"goal {case}: {g['figure']} median {g['median']:.2e} (range {g['min']:.2e}-{g['max']:.2e}) "
                  f"<= {g['at_most']:.2g}: {'met' if g['met'] else 'MISSED'}")
        if "sooner" in entry:
            f = entry["sooner"]
            print(f"{case} reached {f['default']}'s final error {f['default_error']:.2e} after "
                  f"{f['seconds_to_default_error']['median']:.0f} s (median), {f['times_sooner']:.1f}x sooner than "
                  f"{f['default']}'s {f['default_seconds']:.0f} s")


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """The worst field's error against wall time, one panel per case, one line per seed, the goal dashed."""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = list(dict.fromkeys(r["case"] for r in rows if r.get("trace")))
    if not cases:
        return
    fig, axes = plt.subplots(1, len(cases), figsize=(5.2 * len(cases), 3.8), squeeze=False)
    for ax, case in zip(axes[0], cases):
        for r in (r for r in rows if r["case"] == case):
            times, errors = zip(*[(t, e) for t, e in r["trace"] if np.isfinite(e)])
            ax.loglog(times, errors, lw=1.2, label=f"seed {r['seed']}")
        if case in GOALS:
            ax.axhline(GOALS[case][1], color="k", ls="--", lw=0.8, label="goal")
        ax.set(xlabel="wall time (s)", ylabel="rel L2 error (worst field)", title=case)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"wrote {path}")


def merge(sources: list[Path], path: Path) -> None:
    """One results file from several written by separate runs of this script (seeds measured side by side)."""
    loaded = [json.loads(p.read_text()) for p in sources]
    if len({(d["quick"], tuple(d["overrides"])) for d in loaded}) > 1:
        raise SystemExit("--merge: the files were measured with different --quick or --set")
    rows = [r for d in loaded for r in d["runs"]]
    extra = loaded[0]["overrides"]
    folders = [folder for d in loaded for folder in d.get("runs_from", [])]
    write_json(path, {"machine": loaded[0]["machine"], "quick": loaded[0]["quick"], "overrides": extra,
                      "merged": [str(p) for p in sources], **({"runs_from": folders} if folders else {}),
                      "cases": report(rows, extra), "runs": rows})
    plot(rows, path.with_suffix(".png"))
    conclude(rows, extra)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES + ACCURATE + TIME_DEPENDENT + OTHERS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of every phase's iterations")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every run")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--merge", type=Path, nargs="+", metavar="JSON",
                        help="run nothing: combine results files of this script into --json")
    parser.add_argument("--runs", type=Path, nargs="+", metavar="RUN_DIR",
                        help="run nothing: report on run folders of the one case in --cases, solved elsewhere")
    args = parser.parse_args()
    path = args.json or ROOT / "benchmarks" / "results" / ("problems_quick.json" if args.quick else "problems.json")
    if args.merge:
        return merge(args.merge, path)
    if args.runs:
        if len(args.cases) != 1:
            parser.error("--runs: name the one case the folders solved with --cases")
        return from_runs(args.cases[0], args.runs, path, args.set)
    rows: list[dict[str, Any]] = []
    print(f"{'case':<22} {'seed':>4} {'seconds':>8}  errors")
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases:
            for seed in args.seeds:
                rows.append(run(case, seed, args.quick, Path(tmp), args.set))
                show(rows[-1])
                write_json(path, {"machine": machine(), "quick": args.quick, "overrides": args.set,
                                  "cases": report(rows, args.set), "runs": rows})  # after every run: nothing measured is lost
    plot(rows, path.with_suffix(".png"))
    conclude(rows, args.set)


if __name__ == "__main__":
    main()
