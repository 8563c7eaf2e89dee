"""Flow around a cylinder (DFG 2D-1): the quantities of cylinder runs against the benchmark's reference values.

    python benchmarks/cylinder.py --seeds 0 1 2                   # solve problems/cylinder_accurate.toml here
    python benchmarks/cylinder.py --runs DIR ...                  # report on runs solved elsewhere by the CLI

Prints each run's drag and lift coefficients, pressure difference and recirculation length with their relative
errors (against the reference value; the recirculation length, which has an interval only, against the
interval's midpoint) and whether they lie in Schaefer & Turek's intervals, then the median and range over the
runs against the issue's goals; writes benchmarks/results/<case>.json and a plot of each quantity against
wall time, its interval shaded, beside it.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path
from typing import Any

import matplotlib

import pinnkit
from common import machine, spread, write_json

ROOT = Path(__file__).resolve().parents[1]
GOALS = {"drag": 0.002, "pressure_difference": 0.002, "lift": 0.05, "recirculation": 0.02}  # relative, issue 21


def relative_error(entry: dict[str, Any]) -> float:
    """|value - reference| / |reference|, or against the interval's midpoint where there is no reference."""
    if entry["value"] is None:
        return math.nan
    target = entry["reference"] if entry["reference"] is not None else sum(entry["interval"]) / 2
    return abs(entry["value"] - target) / abs(target)


def measured(run_dir: Path) -> dict[str, Any]:
    """One row from a finished run folder: its seed, time, quantities and their history."""
    summary = json.loads((run_dir / "summary.json").read_text())
    with open(run_dir / "history.csv", newline="") as f:
        history = list(csv.DictReader(f))
    trace = {name: [[float(r["time"]), float(r[f"q_{name}"])] for r in history if r.get(f"q_{name}")]
             for name in summary["quantities"]}
    return {"run": str(run_dir), "seed": summary["seed"], "seconds": summary["seconds"], "status": summary["status"],
            "quantities": summary["quantities"],
            "errors": {name: relative_error(e) for name, e in summary["quantities"].items()}, "trace": trace}


def show(row: dict[str, Any]) -> None:
    shown = [f"{name} {e['value']:.5g} ({row['errors'][name]:.2%}{', in' if e.get('within') else ', out'})"
             for name, e in row["quantities"].items() if e["value"] is not None]
    print(f"seed {row['seed']}  {row['seconds']:7.0f} s  " + "  ".join(shown), flush=True)


def report(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per quantity: its values and relative errors over the runs, and the goal."""
    out = {}
    for name, limit in GOALS.items():
        errors = spread([r["errors"][name] for r in rows])
        out[name] = {"values": spread([r["quantities"][name]["value"] or math.nan for r in rows]),
                     "rel_error": errors, "goal": limit, "met": errors["median"] <= limit,
                     "within_interval": [bool(r["quantities"][name].get("within")) for r in rows]}
        print(f"{name:>20}: median {out[name]['values']['median']:.5g}, rel error median {errors['median']:.2%} "
              f"[{errors['min']:.2%}, {errors['max']:.2%}], goal {limit:.1%}: {'met' if out[name]['met'] else 'MISSED'}"
              f"; in the interval on {sum(out[name]['within_interval'])} of {len(rows)}")
    return out


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Each quantity against wall time, one line per run, the benchmark's interval shaded."""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(GOALS), figsize=(4.6 * len(GOALS), 3.6))
    for ax, name in zip(axes, GOALS):
        entry = rows[0]["quantities"][name]
        for r in rows:
            if r["trace"].get(name):
                times, values = zip(*r["trace"][name])
                ax.plot(times, values, lw=1.1, label=f"seed {r['seed']}")
        if "interval" in entry:
            ax.axhspan(*entry["interval"], color="k", alpha=0.15, label="DFG interval")
            middle, width = sum(entry["interval"]) / 2, entry["interval"][1] - entry["interval"][0]
            ax.set_ylim(middle - 12 * max(width, 0.01 * abs(middle)), middle + 12 * max(width, 0.01 * abs(middle)))
        ax.set(xlabel="wall time (s)", title=name)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", default="cylinder_accurate", help="problems/CASE.toml")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--runs", type=Path, nargs="+", metavar="RUN_DIR", help="report on these run folders")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "cylinder", help="run folders (with --seeds)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    path = args.json or ROOT / "benchmarks" / "results" / f"{args.case}.json"
    folders = args.runs or []
    if not folders:
        for seed in args.seeds:
            result = pinnkit.solve(ROOT / "problems" / f"{args.case}.toml", [f"seed={seed}"],
                                   out=args.out / f"seed{seed}")
            folders.append(result.run_dir)
    rows = [measured(d) for d in folders]
    for row in rows:
        show(row)
    write_json(path, {"machine": machine(), "case": args.case, "runs_from": [str(d) for d in folders],
                      "goals": report(rows), "runs": rows})
    plot(rows, path.with_suffix(".png"))


if __name__ == "__main__":
    main()
