"""The last phase of shipped cases compared under one time budget: self-scaled Broyden, the Gauss-Newton
family and L-BFGS-B, each after the case's own warmup.

For each case, seed and last phase (ssbroyden, lm, engd, gncg, sgn, kfac, lbfgsb), with the derivative
engine that is fastest for it (jets: compiled for the loss-only phases, point by point for the Jacobian rows;
nested autograd for gncg's Jacobian products): the final rel L2 errors, the time per step, the wall time, the peak resident memory of the solve
(each solve in its own process), the status (a phase may end at its loss floor before the budget) and the
error-against-time curve of the worst field (pressure, known up to a constant, left out) from the history.
Prints a table per case, writes benchmarks/results/accuracy_<case>.json and plots the curves beside it.

    OMP_NUM_THREADS=1 python benchmarks/accuracy.py --cases poisson_accurate   # about 20 minutes
    OMP_NUM_THREADS=1 python benchmarks/accuracy.py --seconds 60 --seeds 0 \
        --optimizers lbfgsb ssbroyden sgn                                        # every case, one seed

`--set` measures another size (Kovasznay 4 x 100 on 20,000 points, where `lm` is refused), `--threads`
the torch threads of each solve, `--out` names the JSON when one case is measured.
"""
from __future__ import annotations

import argparse
import csv
import math
import multiprocessing
import resource
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import matplotlib
import torch

import pinnkit
from common import machine, spread, write_json

ROOT = Path(__file__).resolve().parents[1]
PHASES = {  # the second phase's table, and the engine each one is fastest with (seed 0, measured)
    "ssbroyden": ('{optimizer = "ssbroyden", ftol = 0.0, gtol = 0.0}', "jet"),
    "lm": ('{optimizer = "lm"}', "jet"),
    "engd": ('{optimizer = "engd"}', "jet"),
    "gncg": ('{optimizer = "gncg"}', "autograd"),
    "sgn": ('{optimizer = "sgn", sketch = 256}', "jet"),  # 256 of the 500 residual rows, fewer than P = 501
    "kfac": ('{optimizer = "kfac"}', "jet"),
    "lbfgsb": ('{optimizer = "lbfgsb", ftol = 0.0, gtol = 0.0}', "jet"),
}
OPTIMIZERS = tuple(PHASES)
CASES = ("poisson_accurate", "poisson_lshape_accurate", "poisson_multiscale_accurate", "burgers_accurate",
         "kovasznay_accurate", "taylor_green_accurate", "cavity", "beltrami")  # the accurate config, else the default


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="time budget of the second phase")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--optimizers", nargs="+", default=list(OPTIMIZERS), choices=OPTIMIZERS)
    parser.add_argument("--cases", nargs="+", default=list(CASES), help="shipped cases (problems/<case>.toml)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every run")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per solve")
    parser.add_argument("--out", type=Path, help="the JSON file, when one case is measured "
                                                     "(default benchmarks/results/accuracy_<case>.json)")
    args = parser.parse_args()
    if args.out and len(args.cases) > 1:
        parser.error("--out names one case's results; give one case, or leave --out out")
    return args


def solve(optimizer: str, seed: int, seconds: float, case: str, extra: list[str], threads: int) -> dict:
    """One solve in this (fresh) process: the second phase's figures, the curve and the peak memory."""
    torch.set_num_threads(threads)
    table, engine = PHASES[optimizer]
    path = ROOT / "problems" / f"{case}.toml"
    last = len(pinnkit.config.load(path).phases) - 1
    overrides = [f"seed={seed}", f"phases[{last}]={table}", f"phases[{last}].iterations=100000",
                 f"phases[{last}].max_seconds={seconds}", f"model.engine={engine}", "output.log_every=25", *extra]
    with tempfile.TemporaryDirectory() as tmp:
        result = pinnkit.solve(path, overrides, out=Path(tmp) / "run")
        with open(result.run_dir / "history.csv") as f:
            rows = [r for r in csv.DictReader(f) if r["phase"] == str(last)]
    fields = [f for f in result.rel_l2 if "@" not in f and f not in result.solution.problem.mean_free]
    for row in rows:
        row["worst"] = max(float(row[f"rel_l2_{f}"]) for f in fields)
    phase = result.summary["phases"][last]
    return {"rel_l2_u": result.rel_l2["u"], "rel_l2": result.rel_l2, "worst": rows[-1]["worst"],
            "warmup_rel_l2_u": float(rows[0]["rel_l2_u"]),
            "iterations": phase["iterations"], "seconds": phase["seconds"],
            "s_per_step": phase["seconds"] / max(phase["iterations"], 1), "wall_seconds": result.summary["seconds"],
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "status": phase["status"],
            "curve": [(float(r["time"]), r["worst"]) for r in rows],
            **{f"seconds_to_{level:g}": reached(rows, level) for level in LEVELS}}


LEVELS = (1e-4, 1e-6, 1e-8, 1e-10)


def reached(rows: list[dict], level: float) -> float | None:
    """Seconds from the last phase's start until its logged worst error first fell to `level` (None: never)."""
    start = float(rows[0]["time"])
    return next((float(r["time"]) - start for r in rows if r["worst"] <= level), None)


def measure(case: str, args: argparse.Namespace, pool: ProcessPoolExecutor) -> dict:
    """Every optimizer on every seed of one case, one fresh process per solve."""
    report = {"setup": {"case": case, "overrides": args.set, "threads": args.threads, "seconds": args.seconds,
                        "seeds": args.seeds},
              "machine": machine(), "runs": {}, "summary": {}}
    for name in args.optimizers:
        runs = [pool.submit(solve, name, seed, args.seconds, case, args.set, args.threads).result()
                for seed in args.seeds]
        report["runs"][name] = runs
        report["summary"][name] = {"rel_l2_u": spread([r["rel_l2_u"] for r in runs]),
                                   "worst": spread([r["worst"] for r in runs]),
                                   **{k: spread([r[k] for r in runs]) for k in ("s_per_step", "peak_rss_mb")},
                                   "iterations": spread([r["iterations"] for r in runs])}
    return report


def print_table(report: dict) -> None:
    """Median [min, max] of the worst field's error, and the seconds each seed took to each level."""
    print(f"\n{report['setup']['case']}: warmup then at most {report['setup']['seconds']:g} s of each last phase, "
          f"seeds {report['setup']['seeds']} (worst field's rel L2, median [min, max]; seconds of the last phase "
          f"to reach each level per seed)")
    print(f"{'optimizer':10} {'rel L2 (worst)':>30} {'steps':>6} {'ms/step':>8} {'peak MB':>8} "
          + " ".join(f"{'to %g' % level:>12}" for level in LEVELS))
    for name, s in report["summary"].items():
        e = s["worst"]
        times = [" ".join("-" if r[f"seconds_to_{level:g}"] is None else f"{r[f'seconds_to_{level:g}']:.0f}"
                          for r in report["runs"][name]) for level in LEVELS]
        print(f"{name:10} {e['median']:9.2e} [{e['min']:8.2e}, {e['max']:8.2e}] {s['iterations']['median']:6.0f} "
              f"{1e3 * s['s_per_step']['median']:8.1f} {s['peak_rss_mb']['median']:8.0f} "
              + " ".join(f"{t:>12}" for t in times))


def plot(report: dict, path: Path) -> None:
    """The worst field's error against the last phase's wall time, one colour per optimizer, a line per seed."""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for colour, (name, runs) in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"], report["runs"].items()):
        for i, run in enumerate(runs):
            start = run["curve"][0][0]
            times, errors = zip(*[(t - start, e) for t, e in run["curve"] if math.isfinite(e)])
            ax.semilogy(times, errors, color=colour, alpha=0.8, label=name if i == 0 else None)
    ax.set(xlabel="seconds of the last phase", ylabel="rel L2 error (worst field)", title=report["setup"]["case"])
    ax.legend()
    ax.grid(True, which="major", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"wrote {path}")


def main() -> None:
    args = arguments()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context, max_tasks_per_child=1) as pool:
        for case in args.cases:
            report = measure(case, args, pool)
            print_table(report)
            out = args.out or ROOT / "benchmarks" / "results" / f"accuracy_{case}.json"
            write_json(out, report)
            plot(report, out.with_suffix(".png"))


if __name__ == "__main__":
    main()
