"""Refinement optimizers after the same warmup: error against iterations and wall time.

    python benchmarks/optimizers.py [--cases burgers poisson kovasznay] [--seeds 0 1 2]
                                    [--optimizers lbfgsb lbfgs bfgs ssbfgs ssbroyden] [--iterations 1500]
                                    [--warmup adam|adahessian] [--out benchmarks/results]

Each run is the case's accurate setup (`problems/burgers_accurate.toml` for Burgers, at 3x20 and 4,000
points; the shipped TOML with float64 refinement otherwise) with its refinement phase swapped, the same
seed, points and warmup. Prints the final relative L2 error per optimizer (median and range over seeds) and wall time,
writes, per case, benchmarks/results/optimizers_<case>[_adahessian].json (with every logged
(time, iteration, error) point) and a plot of error against iterations and against wall time beside
it (.png). Written after every run.
"""
from __future__ import annotations

import argparse
import csv
import tempfile
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

import pinnkit
from common import machine, spread, write_json

matplotlib.use("Agg")
ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {"burgers": "burgers_accurate.toml", "poisson": "poisson.toml", "kovasznay": "kovasznay.toml"}
SETUPS = {"burgers": ["model.depth=3", "model.width=20", "points.interior=4000"]}  # the sizes these figures were
# measured at (burgers_accurate.toml has since grown to 4x30 and 8,000 points)


WARMUPS = {"adam": [], "adahessian": ["phases[0].optimizer=adahessian", "phases[0].lr=0.15"]}


def run(case: str, optimizer: str, seed: int, iterations: int, out: Path, warmup: str = "adam") -> dict[str, Any]:
    """One solve with the last phase replaced (and the warmup, if not Adam); its error trajectory."""
    source = ROOT / "problems" / CONFIGS[case]
    last = len(pinnkit.config.load(source).phases) - 1
    refine = f'{{optimizer = "{optimizer}", iterations = {iterations}, dtype = "float64"}}'
    overrides = [f"seed={seed}", *SETUPS.get(case, []), f"phases[{last}]={refine}",
                 f"output.log_every={max(iterations // 40, 1)}", *WARMUPS[warmup]]
    result = pinnkit.solve(source, overrides, out=out / f"{case}-{optimizer}-{seed}")
    with open(result.run_dir / "history.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["phase"] == str(last)]
    phase = result.summary["phases"][-1]
    return {"case": case, "warmup": warmup, "optimizer": optimizer, "seed": seed, "rel_l2": result.summary["rel_l2"],
            "seconds": phase["seconds"], "iterations": phase["iterations"], "message": phase["message"],
            "trajectory": [(float(r["time"]), int(r["iteration"]), float(r["rel_l2_u"])) for r in rows]}


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per case and optimizer: final error and refinement seconds, median and range over seeds."""
    out: dict[str, Any] = {}
    for r in runs:
        out.setdefault(r["case"], {}).setdefault(r["optimizer"], []).append(r)
    return {case: {opt: {"rel_l2": spread([r["rel_l2"]["u"] for r in rs]), "seconds": spread([r["seconds"] for r in rs]),
                         "seeds": [r["seed"] for r in rs]} for opt, rs in by.items()} for case, by in out.items()}


def plot(runs: list[dict[str, Any]], path: Path) -> None:
    """Error against refinement iterations and wall time, one colour per optimizer, one line per seed."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), dpi=150, sharey=True)
    colours = dict(zip(dict.fromkeys(r["optimizer"] for r in runs), plt.cm.tab10.colors))
    labelled: set[str] = set()
    for r in runs:
        t, it, e = np.array(r["trajectory"]).T
        label = None if r["optimizer"] in labelled else r["optimizer"]
        labelled.add(r["optimizer"])
        axes[0].semilogy(it - it[0], e, color=colours[r["optimizer"]], lw=1.2, label=label)
        axes[1].semilogy(t - t[0], e, color=colours[r["optimizer"]], lw=1.2)
    axes[0].set_xlabel("refinement iterations")
    axes[1].set_xlabel("refinement wall time (s)")
    axes[0].set_ylabel("relative L2 error of u")
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend()
    fig.suptitle(f"{runs[0]['case']}: refinement after the same {runs[0]['warmup']} warmup, one line per seed")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--optimizers", nargs="+", default=["lbfgsb", "lbfgs", "bfgs", "ssbfgs", "ssbroyden"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--iterations", type=int, default=1500, help="refinement iterations")
    parser.add_argument("--warmup", choices=list(WARMUPS), default="adam", help="the first phase (AdaHessian: lr 0.15)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results", help="folder for JSON and plots")
    args = parser.parse_args()
    suffix = "" if args.warmup == "adam" else f"_{args.warmup}"
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases:
            stem = args.out / f"optimizers_{case}{suffix}"
            for seed in args.seeds:
                for optimizer in args.optimizers:
                    runs.append(run(case, optimizer, seed, args.iterations, Path(tmp), args.warmup))
                    r = runs[-1]
                    print(f"{case:<10} {optimizer:<10} seed {seed}  rel_l2 u {r['rel_l2']['u']:.3e}  "
                          f"{r['iterations']:>6} it  {r['seconds']:8.1f} s  {r['message']}", flush=True)
                    these = [q for q in runs if q["case"] == case]
                    write_json(stem.with_suffix(".json"), {"machine": machine(), "settings": vars(args) | {"out": str(args.out)},
                                                           "summary": summarize(these), "runs": these})
                    plot(these, stem.with_suffix(".png"))
    for case, by in summarize(runs).items():
        for opt, s in by.items():
            e = s["rel_l2"]
            print(f"{case:<10} {opt:<10} median {e['median']:.2e} (range {e['min']:.2e}-{e['max']:.2e}), "
                  f"refinement {s['seconds']['median']:.0f} s")


if __name__ == "__main__":
    main()
