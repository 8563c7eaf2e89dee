"""Time per loss-and-gradient evaluation under hard constraints: the output transform differentiated at every
call, against its coordinate jets kept per point set (`pinnkit.affine`, for transforms affine in the network's
outputs, which every shipped one is).

Shipped cases under hard constraints at their own network and points, in float64 (the dtype of the
refinements), eager jets or with `--compiled` compiled ones; the two ways are timed round-robin in one process, so that they share the machine's load alike;
medians over repeats. Prints a table and writes benchmarks/results/transforms.json.

    python benchmarks/transforms.py            # about 5 minutes on 2 CPU cores
    python benchmarks/transforms.py --compiled --out benchmarks/results/transforms_compiled.json
    python benchmarks/transforms.py --quick    # smoke run
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from common import machine, write_json
from pinnkit.build import Setup, build
from pinnkit.config import load

ROOT = Path(__file__).resolve().parents[1]
CASES = {"burgers": (), "wave_accurate": (), "taylor_green": (), "beltrami": (), "plate_with_holes": (),
         "cylinder": ("model.hard_constraints=true",),  # the default learns its conditions as terms
         "cylinder_accurate": ()}


class EveryCall:
    """An `AffineCache` that keeps nothing: the transform is differentiated at every call, as before."""

    def get(self, *_) -> None:
        return None


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES),
                        help="shipped cases, by their problems/NAME.toml")
    parser.add_argument("--compiled", action="store_true", help="compiled jets (default: eager)")
    parser.add_argument("--steps", type=int, default=10, help="evaluations per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 avoids oversubscription)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "transforms.json")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 cases, few steps")
    args = parser.parse_args()
    if args.quick:
        args.cases, args.steps, args.repeats = args.cases[:2], 2, 2
    return args


def prepared(case: str, kept: bool, compiled: bool) -> Setup:
    """The case with jets in float64, `compiled` or eager; `kept`: the transform's jets kept per point set."""
    engine = ("model.engine=jet", f"model.compile={str(compiled).lower()}")
    s = build(load(ROOT / "problems" / f"{case}.toml", CASES[case] + engine))
    s.cast(torch.float64)
    if not kept:
        s.objective.engine.affine = EveryCall()
    return s


def evaluations_ms(s: Setup, steps: int) -> float:
    """Milliseconds per loss-and-gradient evaluation over `steps` evaluations."""
    params = list(s.model.parameters())
    start = time.perf_counter()
    for _ in range(steps):
        torch.autograd.grad(s.objective.loss()[0], params)
    return 1e3 * (time.perf_counter() - start) / steps


def main() -> None:
    args = arguments()
    torch.set_num_threads(args.threads)
    rows = []
    print(f"{'case':>18} {'points':>7} {'weights':>7} {'every call ms':>13} {'kept ms':>8} {'x':>5}")
    for case in args.cases:
        torch._dynamo.reset()  # a fresh compile per case: none of them counts against the recompile limit
        setups = {kept: prepared(case, kept, args.compiled) for kept in (False, True)}
        for s in setups.values():
            evaluations_ms(s, 2)  # compiling, and the kept coefficients (at the second use), outside the clock
        runs = {kept: [] for kept in setups}
        for _ in range(args.repeats):
            for kept, s in setups.items():
                runs[kept].append(evaluations_ms(s, args.steps))
        every, kept = (statistics.median(runs[k]) for k in (False, True))
        s = setups[True]
        row = {"case": case, "points": sum(len(g.arrays["points"]) for g in s.objective.groups),
               "weights": sum(p.numel() for p in s.model.parameters()),
               "every_call_ms": every, "kept_ms": kept, "speedup": every / kept}
        print(f"{case:>18} {row['points']:>7} {row['weights']:>7} {every:13.1f} {kept:8.1f} {every / kept:5.2f}")
        rows.append(row)
    write_json(args.out, {"machine": machine(), "settings": vars(args) | {"out": str(args.out)}, "rows": rows})


if __name__ == "__main__":
    main()
