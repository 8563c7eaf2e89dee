"""Which training technique makes the difference on a case (most of them made for time-dependent ones): an
ablation over seeds.

    python benchmarks/ablation.py --case allen_cahn --variants default causal balance ssbroyden \
        --seeds 0 1 2 [--seconds 900]

Each variant is the case's shipped TOML plus a few overrides (`VARIANTS`): causal weights in time, balanced
term weights (by gradient norms or by NTK traces), residual-based attention, the L-BFGS-B phase replaced by
SSBroyden in float64, time-marching over 8 windows (the initial values continued exactly where the case's
are exact, `march`, or as loss terms, `march_soft`), each window with a quarter of the case's iterations or
less, or the warmup's last layer fitted by least squares every 10 steps (`last_layer`). `--seconds` caps the
last phase's wall time (in each window). Prints the median and range of the relative L2 error of u per variant
and writes benchmarks/results/ablation_<case>.json with every run's error-against-time trace (keeping the runs of
earlier and concurrent invocations that this one does not repeat).
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from common import machine, spread, write_json
from problems import run

ROOT = Path(__file__).resolve().parents[1]
SSBROYDEN = ('{optimizer = "ssbroyden", iterations = 20000, resample_every = 1000, resample = "rad", '
             'ftol = 0.0, gtol = 0.0, dtype = "float64"}')
MARCH = ["time.slabs=8", "phases[0].iterations=300", "phases[1].iterations=700", "phases[1].resample_every=350"]
VARIANTS = {  # name -> overrides of the shipped TOML
    "default": [],
    "causal": ["loss.causal={chunks = 32}", "phases[0].reweight_every=10", "phases[1].reweight_every=500"],
    "balance": ["loss.balance={alpha = 0.9}", "phases[0].reweight_every=100", "phases[1].reweight_every=500"],
    "ntk": ['loss.balance={scheme = "ntk"}', "phases[0].reweight_every=100", "phases[1].reweight_every=500"],
    "attention": ["loss.attention={}", "phases[0].reweight_every=10", "phases[1].reweight_every=500"],
    "ssbroyden": [f"phases[1]={SSBROYDEN}"],
    "causal+ssbroyden": ["loss.causal={chunks = 32}", "phases[0].reweight_every=10", f"phases[1]={SSBROYDEN}"],
    "march": MARCH,
    "march_soft": MARCH + ["model.hard_constraints=false", "points.initial=512"],
    "last_layer": ["phases[0].last_layer_every=10"],
}


def merged(path: Path, mine: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs `path` holds now, less those `mine` measured again, then `mine`: read at every write, so that
    invocations running side by side (one per core, on other variants or seeds) keep each other's runs."""
    measured = {(r["variant"], r["seed"]) for r in mine}
    earlier = json.loads(path.read_text())["runs"] if path.exists() else []
    return [r for r in earlier if (r["variant"], r["seed"]) not in measured] + mine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", required=True)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--seconds", type=float, help="wall-time cap of the last phase")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    path = args.json or ROOT / "benchmarks" / "results" / f"ablation_{args.case}.json"
    mine: list[dict[str, Any]] = []
    print(f"{'variant':<18} {'seed':>4} {'seconds':>8}  rel L2 of u")
    with tempfile.TemporaryDirectory() as tmp:
        for variant in args.variants:
            extra = VARIANTS[variant] + ([f"phases[1].max_seconds={args.seconds}"] if args.seconds else [])
            for seed in args.seeds:
                r = run(args.case, seed, False, Path(tmp) / variant, extra)
                mine.append({"variant": variant, "overrides": extra, **r})
                print(f"{variant:<18} {seed:>4} {r['seconds']:>8.1f}  {r['rel_l2']['u']:.2e}", flush=True)
                write_json(path, {"machine": machine(), "case": args.case, "runs": merged(path, mine)})
    runs = merged(path, mine)
    variants = list(dict.fromkeys(r["variant"] for r in runs))
    summary = {v: {"rel_l2_u": spread([r["rel_l2"]["u"] for r in runs if r["variant"] == v]),
                   "seconds": spread([r["seconds"] for r in runs if r["variant"] == v])} for v in variants}
    write_json(path, {"machine": machine(), "case": args.case, "summary": summary, "runs": runs})
    for v, s in summary.items():
        e = s["rel_l2_u"]
        print(f"{v:<18} median {e['median']:.2e} [{e['min']:.2e}, {e['max']:.2e}]  {s['seconds']['median']:.0f} s")


if __name__ == "__main__":
    main()
