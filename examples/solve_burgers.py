"""Solve Burgers from Python, then evaluate the trained solution against the exact one.

    python examples/solve_burgers.py            # the shipped budget (minutes on a CPU)
    python examples/solve_burgers.py --quick    # a short run to see the pieces
"""
import argparse
from pathlib import Path

import numpy as np

import pinnkit
from pinnkit.pdes.burgers_exact import burgers_exact

CASE = Path(__file__).resolve().parents[1] / "problems" / "burgers.toml"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="200 Adam + 300 L-BFGS-B iterations on 2,000 points")
    quick = parser.parse_args().quick
    overrides = ["points.interior=2000", "phases[0].iterations=200", "phases[1].iterations=300"] if quick else []
    result = pinnkit.solve(CASE, overrides, quiet=False)
    print(result.status, result.summary["message"], "->", result.run_dir)

    solution = pinnkit.load(result.run_dir)
    x = np.linspace(-1, 1, 256)
    for t in (0.25, 0.5, 0.75):
        points = np.stack([x, np.full_like(x, t)], axis=1)   # (N, 2) in coordinate order (x, t)
        u = solution.predict(points)["u"]
        exact = burgers_exact(x, t, solution.problem.parameter_values()["nu"])
        print(f"t = {t:.2f}: max |u - exact| = {np.abs(u - exact).max():.2e}")


if __name__ == "__main__":
    main()
