"""Optimizers on the shipped Burgers case (at 8x20, as measured), same seed and budget; prints tables and writes JSON.

(a) schedules through `pinnkit.solve`: Adam -> L-BFGS-B (SciPy), Adam -> L-BFGS (native),
    AdaHessian -> L-BFGS-B: final rel L2 error, wall time per phase, time per iteration and evaluation;
(b) time per AdaHessian step over time per Adam step, on the same model and points;
(c) one L-BFGS phase from the same Adam-warmed model: native L-BFGS (both line searches),
    torch.optim.LBFGS and SciPy's L-BFGS-B: iterations, evaluations, wall time, final loss.

    python benchmarks/schedules_burgers.py            # about 10 minutes on 2 CPU cores
    python benchmarks/schedules_burgers.py --quick    # smoke run, under a minute
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Callable

import torch

import pinnkit
from pinnkit.build import Setup, build
from pinnkit.config import load
from pinnkit.optim import minimize
from common import BURGERS_8X20, machine, write_json

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "problems" / "burgers.toml"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--warmup", type=int, default=400, help="Adam / AdaHessian iterations")
    parser.add_argument("--lbfgs", type=int, default=300, help="L-BFGS iterations")
    parser.add_argument("--interior", type=int, default=10000, help="interior collocation points")
    parser.add_argument("--ratio-steps", type=int, default=50, help="steps timed for (b)")
    parser.add_argument("--adahessian-lr", type=float, default=0.15)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 avoids oversubscription)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "schedules_burgers.json")
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny budgets")
    args = parser.parse_args()
    if args.quick:
        args.warmup, args.lbfgs, args.interior, args.ratio_steps = 20, 20, 500, 5
    return args


def schedules(args: argparse.Namespace, out: Path) -> dict:
    """(a): each schedule as a full solve of burgers.toml with overrides (logging only at the phase ends)."""
    common = [*BURGERS_8X20, f"phases[0].iterations={args.warmup}", f"phases[1].iterations={args.lbfgs}",
              "phases[1].history_size=50",  # the pairs torch_lbfgs keeps
              f"points.interior={args.interior}", f"output.log_every={max(args.warmup, args.lbfgs)}"]
    named = {"Adam->L-BFGS-B": [], "Adam->L-BFGS": ["phases[1].optimizer=lbfgs"],
             "AdaHessian->L-BFGS-B": ["phases[0].optimizer=adahessian", f"phases[0].lr={args.adahessian_lr}"]}
    # a throwaway solve first, so that one-time start-up costs do not land on the first schedule
    pinnkit.solve(CONFIG, overrides=[*common, "phases[0].iterations=2", "phases[1].iterations=2"], out=out / "warm")
    rows = {}
    for name, overrides in named.items():
        result = pinnkit.solve(CONFIG, overrides=common + overrides, out=out / name.replace(">", ""))
        phases = [{k: p[k] for k in ("optimizer", "status", "iterations", "evaluations", "loss", "seconds")}
                  | {"s_per_iteration": p["seconds"] / max(p["iterations"], 1),
                     "s_per_evaluation": p["seconds"] / max(p["evaluations"], 1)} for p in result.summary["phases"]]
        rows[name] = {"rel_l2_u": result.rel_l2["u"], "seconds": result.summary["seconds"], "phases": phases}
    return rows


def setup(args: argparse.Namespace, dtype: torch.dtype, *overrides: str) -> Setup:
    s = build(load(CONFIG, (*BURGERS_8X20, f"points.interior={args.interior}", *overrides)))
    s.cast(dtype)
    return s


def run_phase(s: Setup, options: dict) -> dict:
    """One registered phase on the setup's model; its result record plus the final rel L2 error."""
    keys = {k: v for k, v in options.items() if k != "optimizer"}
    start = time.perf_counter()
    result = minimize(list(s.model.parameters()), options["optimizer"], loss=lambda: s.objective.loss()[0], **keys)
    seconds = time.perf_counter() - start
    return {"iterations": result.iterations, "evaluations": result.evaluations, "seconds": seconds,
            "loss": result.loss, "status": result.status, "rel_l2_u": error(s)}


def error(s: Setup) -> float:
    return float(s.reference.errors(s.model, s.problem.fields)["u"])


def step_ratio(args: argparse.Namespace) -> dict:
    """(b): seconds per step of AdaHessian and of Adam, same model, points and float32, both with the eager
    jets (AdaHessian differentiates the gradient again, which compiled jets cannot)."""
    times = {}
    for name, lr in (("adam", 1e-3), ("adahessian", args.adahessian_lr)):
        s = setup(args, torch.float32, "model.compile=false")
        times[name] = run_phase(s, {"optimizer": name, "iterations": args.ratio_steps, "lr": lr})["seconds"]
    return {"adam_s_per_step": times["adam"] / args.ratio_steps,
            "adahessian_s_per_step": times["adahessian"] / args.ratio_steps,
            "ratio": times["adahessian"] / times["adam"]}


def torch_lbfgs(s: Setup, iterations: int) -> dict:
    """torch.optim.LBFGS with the same memory and strong Wolfe search, as one `step` of `iterations`."""
    params = list(s.model.parameters())
    optimizer = torch.optim.LBFGS(params, lr=1, max_iter=iterations, max_eval=25 * iterations, history_size=50,
                                  tolerance_grad=1e-10, tolerance_change=1e-15, line_search_fn="strong_wolfe")
    count = [0]

    def closure() -> torch.Tensor:
        count[0] += 1
        optimizer.zero_grad()
        loss = s.objective.loss()[0]
        loss.backward()
        return loss

    start = time.perf_counter()
    optimizer.step(closure)
    seconds = time.perf_counter() - start
    loss = float(s.objective.loss()[0].detach())
    return {"iterations": optimizer.state[params[0]]["n_iter"], "evaluations": count[0], "seconds": seconds,
            "loss": loss, "status": "-", "rel_l2_u": error(s)}


def lbfgs_phases(args: argparse.Namespace) -> dict:
    """(c): the same Adam-warmed model (float32 warmup, float64 L-BFGS as in burgers.toml) for every L-BFGS."""
    s = setup(args, torch.float32)
    run_phase(s, {"optimizer": "adam", "iterations": args.warmup, "lr": 1e-3})
    s.cast(torch.float64)
    warm = {k: v.clone() for k, v in s.model.state_dict().items()}
    variants: dict[str, Callable[[], dict]] = {
        "native L-BFGS (strong Wolfe)": lambda: run_phase(s, {"optimizer": "lbfgs", "iterations": args.lbfgs}),
        "native L-BFGS (backtracking)": lambda: run_phase(
            s, {"optimizer": "lbfgs", "iterations": args.lbfgs, "line_search": "backtracking"}),
        "torch.optim.LBFGS": lambda: torch_lbfgs(s, args.lbfgs),
        "SciPy L-BFGS-B": lambda: run_phase(s, {"optimizer": "lbfgsb", "iterations": args.lbfgs}),
    }
    rows = {}
    for name, run in variants.items():
        s.model.load_state_dict(warm)
        rows[name] = run()
    return rows


def print_schedules(report: dict) -> None:
    print(f"\n(a) schedules ({report['setup']['warmup']} warmup + {report['setup']['lbfgs']} L-BFGS iterations)")
    print(f"{'schedule':24} {'rel L2 u':>9} {'phase':>10} {'status':>15} {'iters':>6} {'evals':>6} "
          f"{'seconds':>8} {'s/iter':>8} {'s/eval':>8}")
    for name, row in report["schedules"].items():
        for i, p in enumerate(row["phases"]):
            head = f"{name:24} {row['rel_l2_u']:9.3e}" if i == 0 else " " * 34
            print(f"{head} {p['optimizer']:>10} {p['status']:>15} {p['iterations']:6d} {p['evaluations']:6d} "
                  f"{p['seconds']:8.1f} {p['s_per_iteration']:8.4f} {p['s_per_evaluation']:8.4f}")


def print_ratio(report: dict) -> None:
    r = report["step_ratio"]
    print(f"\n(b) AdaHessian {r['adahessian_s_per_step'] * 1e3:.1f} ms/step, Adam {r['adam_s_per_step'] * 1e3:.1f} "
          f"ms/step: ratio {r['ratio']:.2f}")


def print_lbfgs_phases(report: dict) -> None:
    print(f"\n(c) one L-BFGS phase from the same Adam warmup ({report['setup']['lbfgs']} iterations, float64)")
    print(f"{'optimizer':30} {'iters':>6} {'evals':>6} {'seconds':>8} {'loss':>10} {'rel L2 u':>9} status")
    for name, row in report["lbfgs_phase"].items():
        print(f"{name:30} {row['iterations']:6d} {row['evaluations']:6d} {row['seconds']:8.1f} {row['loss']:10.3e} "
              f"{row['rel_l2_u']:9.3e} {row['status']}")


def main() -> None:
    args = arguments()
    torch.set_num_threads(args.threads)
    report = {"setup": {"warmup": args.warmup, "lbfgs": args.lbfgs, "interior": args.interior,
                        "adahessian_lr": args.adahessian_lr, "quick": args.quick}, "machine": machine()}
    with tempfile.TemporaryDirectory() as tmp:
        report["schedules"] = schedules(args, Path(tmp))
    print_schedules(report)
    report["step_ratio"] = step_ratio(args)
    print_ratio(report)
    report["lbfgs_phase"] = lbfgs_phases(args)
    print_lbfgs_phases(report)
    write_json(args.out, report)


if __name__ == "__main__":
    main()
