"""Second phases on problems/poisson_accurate.toml after the same Adam warmup: the Gauss-Newton family, the
dense self-scaled Broyden and L-BFGS-B.

For each seed and each second phase (ssbroyden, lm, engd, gncg, sgn, kfac, lbfgsb), under the same time budget and
with the derivative engine that is fastest for it (nested autograd for the dense Jacobians, compiled jets
for the loss-only phases): the final rel L2 error, the time per step, the wall time, the peak resident
memory of the solve (each solve in its own process), the status (a phase may end at its loss floor before
the budget) and the error-against-time curve from the history. Prints a table, writes
benchmarks/results/gauss_newton.json.

    OMP_NUM_THREADS=1 python benchmarks/gauss_newton.py                  # about 20 minutes on 2 CPU cores
    OMP_NUM_THREADS=1 python benchmarks/gauss_newton.py --seconds 5 --seeds 0   # smoke run

`--case` and `--set` measure another case or size (Kovasznay 4 x 100 on 20,000 points, where `lm` is
refused), `--threads` the torch threads of each solve.
"""
from __future__ import annotations

import argparse
import csv
import multiprocessing
import resource
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

import pinnkit
from common import machine, spread, write_json

ROOT = Path(__file__).resolve().parents[1]
PHASES = {  # the second phase's table, and the engine each one is fastest with (seed 0, measured)
    "ssbroyden": ('{optimizer = "ssbroyden", ftol = 0.0, gtol = 0.0}', "jet"),
    "lm": ('{optimizer = "lm"}', "autograd"),
    "engd": ('{optimizer = "engd"}', "autograd"),
    "gncg": ('{optimizer = "gncg"}', "autograd"),
    "sgn": ('{optimizer = "sgn", sketch = 256}', "autograd"),  # 256 of the 500 residual rows, fewer than P = 501
    "kfac": ('{optimizer = "kfac"}', "jet"),
    "lbfgsb": ('{optimizer = "lbfgsb", ftol = 0.0, gtol = 0.0}', "jet"),
}
OPTIMIZERS = tuple(PHASES)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="time budget of the second phase")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--optimizers", nargs="+", default=list(OPTIMIZERS), choices=OPTIMIZERS)
    parser.add_argument("--case", default="poisson_accurate", help="a shipped case (problems/<case>.toml)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every run")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per solve")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "gauss_newton.json")
    return parser.parse_args()


def solve(optimizer: str, seed: int, seconds: float, case: str, extra: list[str], threads: int) -> dict:
    """One solve in this (fresh) process: the second phase's figures, the curve and the peak memory."""
    torch.set_num_threads(threads)
    table, engine = PHASES[optimizer]
    overrides = [f"seed={seed}", f"phases[1]={table}", "phases[1].iterations=100000",
                 f"phases[1].max_seconds={seconds}", f"model.engine={engine}", "output.log_every=25", *extra]
    with tempfile.TemporaryDirectory() as tmp:
        result = pinnkit.solve(ROOT / "problems" / f"{case}.toml", overrides, out=Path(tmp) / "run")
        with open(result.run_dir / "history.csv") as f:
            rows = [r for r in csv.DictReader(f) if r["phase"] == "1"]
    phase = result.summary["phases"][1]
    return {"rel_l2_u": result.rel_l2["u"], "rel_l2": result.rel_l2, "warmup_rel_l2_u": float(rows[0]["rel_l2_u"]),
            "iterations": phase["iterations"], "seconds": phase["seconds"],
            "s_per_step": phase["seconds"] / max(phase["iterations"], 1), "wall_seconds": result.summary["seconds"],
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "status": phase["status"],
            "curve": [(float(r["time"]), float(r["rel_l2_u"])) for r in rows],
            **{f"seconds_to_{level:g}": reached(rows, level) for level in LEVELS}}


LEVELS = (1e-8, 1e-10)


def reached(rows: list[dict], level: float) -> float | None:
    """Seconds from the second phase's start until its logged error first fell to `level` (None: never)."""
    start = float(rows[0]["time"])
    return next((float(r["time"]) - start for r in rows if float(r["rel_l2_u"]) <= level), None)


def main() -> None:
    args = arguments()
    report = {"setup": {"case": args.case, "overrides": args.set, "threads": args.threads, "seconds": args.seconds,
                        "seeds": args.seeds},
              "machine": machine(), "runs": {}, "summary": {}}
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context, max_tasks_per_child=1) as pool:
        for name in args.optimizers:
            runs = [pool.submit(solve, name, seed, args.seconds, args.case, args.set, args.threads).result()
                    for seed in args.seeds]
            report["runs"][name] = runs
            report["summary"][name] = {"rel_l2_u": spread([r["rel_l2_u"] for r in runs]),
                                       **{k: spread([r[k] for r in runs]) for k in ("s_per_step", "peak_rss_mb")},
                                       "iterations": spread([r["iterations"] for r in runs])}
    print(f"\nAdam warmup then at most {args.seconds:g} s of each optimizer, seeds {args.seeds} (median [min, max]; "
          f"seconds of the second phase to reach 1e-8 and 1e-10 per seed)")
    print(f"{'optimizer':10} {'rel L2 u':>30} {'steps':>6} {'ms/step':>8} {'peak MB':>8} {'to 1e-8':>18} {'to 1e-10':>18}")
    for name, s in report["summary"].items():
        e = s["rel_l2_u"]
        times = [" ".join("-" if r[f"seconds_to_{level:g}"] is None else f"{r[f'seconds_to_{level:g}']:.0f}"
                          for r in report["runs"][name]) for level in LEVELS]
        print(f"{name:10} {e['median']:9.2e} [{e['min']:8.2e}, {e['max']:8.2e}] {s['iterations']['median']:6.0f} "
              f"{1e3 * s['s_per_step']['median']:8.1f} {s['peak_rss_mb']['median']:8.0f} {times[0]:>18} {times[1]:>18}")
    write_json(args.out, report)


if __name__ == "__main__":
    main()
