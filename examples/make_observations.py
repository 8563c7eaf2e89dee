"""Write the observation files of the shipped inverse problems, sampled from the exact solutions.

    python examples/make_observations.py     # -> problems/data/*.npz, *.csv

Clean values are written; the inverse TOMLs add the noise (`[data] noise`, seeded by `seed`).
  burgers_observations.npz          u at 2,000 scattered (x, t) in [-1, 1] x [0, 1], nu = 0.01 / pi (Cole-Hopf)
  kovasznay_observations.csv        u, v, p at 1,000 scattered (x, y) in [-0.5, 1] x [-0.5, 1.5], Re = 20
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from pinnkit.pdes.burgers_exact import burgers_exact
from pinnkit.pdes.navier_stokes import Kovasznay

DATA = Path(__file__).resolve().parents[1] / "problems" / "data"


def burgers(rng: np.random.Generator, n: int = 2000) -> dict[str, np.ndarray]:
    x, t = rng.uniform(-1.0, 1.0, n), rng.uniform(0.0, 1.0, n)
    return {"x": x, "t": t, "u": burgers_exact(x, t, 0.01 / math.pi)}


def kovasznay(rng: np.random.Generator, n: int = 1000) -> dict[str, np.ndarray]:
    x, y = rng.uniform(-0.5, 1.0, n), rng.uniform(-0.5, 1.5, n)
    exact = Kovasznay({"re": 20.0}).reference(torch.as_tensor(x), torch.as_tensor(y))
    return {"x": x, "y": y, **{f: exact[f].numpy() for f in ("u", "v", "p")}}


def write_csv(path: Path, columns: dict[str, np.ndarray]) -> None:
    np.savetxt(path, np.stack(list(columns.values()), axis=1), delimiter=",", header=",".join(columns),
               comments="", fmt="%.17g")


def main() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2019)
    np.savez_compressed(DATA / "burgers_observations.npz", **burgers(rng))
    write_csv(DATA / "kovasznay_observations.csv", kovasznay(rng))
    print(f"wrote {DATA}/burgers_observations.npz and kovasznay_observations.csv")


if __name__ == "__main__":
    main()
