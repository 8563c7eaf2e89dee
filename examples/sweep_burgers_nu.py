"""Sweep Burgers' viscosity and the network width over two seeds, then plot the error against nu.

    python examples/sweep_burgers_nu.py            # 12 short solves on 2 worker processes (a few minutes on a CPU)
    python examples/sweep_burgers_nu.py --dask     # the same cases on a local Dask cluster (pip install "pinnkit[dask]")

Run it again and the finished cases are skipped; `--force` reruns them.
"""
import argparse
import math
from pathlib import Path

import pinnkit

CASE = Path(__file__).resolve().parents[1] / "problems" / "burgers.toml"
SMALL = ["points.interior=1000", "points.evaluation=2000", "model.depth=4",
         "phases[0].iterations=300", "phases[1].iterations=300"]   # small budgets: minutes, not hours


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dask", action="store_true", help="run the cases on a local Dask cluster")
    parser.add_argument("--force", action="store_true", help="rerun cases that completed before")
    args = parser.parse_args()
    table = pinnkit.sweep(CASE, grid={"problem.parameters.nu": [0.01 / math.pi, 0.02 / math.pi, 0.05 / math.pi],
                                      "model.width": [20, 40]},
                          seeds=[0, 1], workers=2, out="runs/nu-sweep", overrides=SMALL,
                          executor="dask" if args.dask else None, force=args.force)
    for row in table:
        error = row.get("rel_l2_u")
        print(f"{row['run_dir']:<28} {row['status']:<10} rel_l2_u = {'-' if error is None else f'{error:.3e}'}")
    print(pinnkit.plot_sweep("runs/nu-sweep", x="problem.parameters.nu", y="rel_l2_u"))


if __name__ == "__main__":  # needed: worker processes import this file
    main()
