"""Accuracy and wall time of the shipped Burgers case over several seeds.

    python benchmarks/burgers.py --seeds 0 1 2 [--config problems/burgers_lbfgs.toml] [--set KEY=VALUE ...]

Prints one row per seed and the median and range, and writes
benchmarks/results/burgers.json.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pinnkit
from common import machine, spread, write_json

ROOT = Path(__file__).resolve().parents[1]


def run_seed(source: Path, seed: int, overrides: list[str], out: Path) -> dict:
    result = pinnkit.solve(source, [f"seed={seed}", *overrides], out=out / f"seed{seed}")
    s = result.summary
    return {"seed": seed, "status": s["status"], "rel_l2_u": s["rel_l2"]["u"], "seconds": s["seconds"],
            "phases": [{k: p[k] for k in ("optimizer", "iterations", "evaluations", "seconds", "status", "message")}
                       for p in s["phases"]]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--config", type=Path, default=ROOT / "problems" / "burgers.toml", help="a Burgers TOML")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "burgers.json")
    args = parser.parse_args()
    config = pinnkit.config.load(args.config, tuple(args.overrides))
    rows = []
    print(f"{'seed':>4} {'rel_l2_u':>10} {'adam s':>8} {'lbfgsb s':>9} {'lbfgsb it':>9} {'total s':>8}  status")
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            r = run_seed(args.config, seed, args.overrides, Path(tmp))
            rows.append(r)
            ph = r["phases"]
            print(f"{seed:>4} {r['rel_l2_u']:>10.3e} {ph[0]['seconds']:>8.1f} {ph[-1]['seconds']:>9.1f} "
                  f"{ph[-1]['iterations']:>9} {r['seconds']:>8.1f}  {r['status']}: {ph[-1]['message']}", flush=True)
    errors, times = spread([r["rel_l2_u"] for r in rows]), spread([r["seconds"] for r in rows])
    print(f"rel_l2_u median {errors['median']:.3e} (range {errors['min']:.3e} .. {errors['max']:.3e}); "
          f"wall time median {times['median']:.0f} s")
    m = config.model
    setup = {"config": str(args.config), "overrides": args.overrides, "dtype": config.dtype,
             "network": f"{m.depth}x{m.width} {m.activation}", "hard_constraints": m.hard_constraints,
             "interior_points": config.points.interior, "sampler": config.points.sampler,
             "phases": [p.model_dump(exclude_none=True) for p in config.phases]}
    write_json(args.json, {"setup": setup, "machine": machine(), "runs": rows, "rel_l2_u": errors, "seconds": times})


if __name__ == "__main__":
    main()
