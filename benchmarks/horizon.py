"""How far in time a time-dependent solution stays accurate: its relative L2 error over [t0, T] against T.

    python benchmarks/horizon.py RUN_DIR ... [--below 1e-2] [--json OUT]

For each run folder of a problem with a reference (the last coordinate is time): the error of u over
[t0, T] on a grid of 256 x 201 points, for every grid time T, and the largest T at which it is still below
`--below` (issue 20's fallback figure for Kuramoto-Sivashinsky: the horizon over which it stays below 1e-2).
Prints one row per run and writes the curves to JSON, and a plot of them beside it (.png).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import pinnkit
from common import machine, spread, write_json
from pinnkit.metrics import reference_values


def horizon_curve(run_dir: Path, field: str, nx: int = 256, nt: int = 201) -> tuple[np.ndarray, np.ndarray]:
    """Grid times T and the relative L2 error of `field` over [t0, T] (x on the problem's box)."""
    solution = pinnkit.load(run_dir)
    domain = solution.problem.domain()
    lower, upper = np.asarray(domain.lower, dtype=float), np.asarray(domain.upper, dtype=float)
    xs = np.linspace(lower[0], upper[0], nx)
    ts = np.linspace(lower[-1], upper[-1], nt)
    x, t = np.meshgrid(xs, ts, indexing="ij")  # (nx, nt)
    points = np.stack([x.ravel(), t.ravel()], axis=1)
    predicted = solution.predict(points)[field].reshape(nx, nt)
    exact = reference_values(solution.problem, points, (field,))[field].reshape(nx, nt)
    error = np.cumsum(((predicted - exact) ** 2).sum(axis=0))
    norm = np.cumsum((exact**2).sum(axis=0))
    return ts, np.sqrt(error / np.maximum(norm, np.finfo(float).tiny))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", type=Path, nargs="+", metavar="RUN_DIR")
    parser.add_argument("--field", default="u")
    parser.add_argument("--below", type=float, default=1e-2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = []
    for run_dir in args.runs:
        times, errors = horizon_curve(run_dir, args.field)
        kept = np.nonzero(errors > args.below)[0]
        last = times[-1] if not len(kept) else (times[kept[0] - 1] if kept[0] > 0 else times[0])
        rows.append({"run": str(run_dir), "horizon": float(last), "error_at_end": float(errors[-1]),
                     "times": times.tolist(), "errors": errors.tolist()})
        print(f"{run_dir}: error over the whole range {errors[-1]:.2e}; below {args.below:.0e} up to T = {last:.3f}")
    if len(rows) > 1:
        h = spread([r["horizon"] for r in rows])
        print(f"horizon: median {h['median']:.3f} [{h['min']:.3f}, {h['max']:.3f}]")
    if args.json:
        write_json(args.json, {"machine": machine(), "below": args.below, "field": args.field, "runs": rows})
        plot(rows, args.below, args.json.with_suffix(".png"))


def plot(rows: list[dict], below: float, path: Path) -> None:
    """The error over [t0, T] against T, one line per run, with the threshold."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for row in rows:
        ax.semilogy(row["times"][1:], row["errors"][1:], label=Path(row["run"]).name)
    ax.axhline(below, color="k", ls="--", lw=0.8, label=f"{below:g}")
    ax.set_xlabel("T")
    ax.set_ylabel("relative L2 error over [t0, T]")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
