"""pinnkit against DeepXDE (its PyTorch backend) on the same Burgers setup, in one run.

Same problem (problems/burgers.toml: nu = 0.01/pi, the exact initial and boundary conditions imposed by
the same output transform), the same collocation points, the same network (input scaling, tanh, widths
and depths below) from the same initial weights, the same Adam iterations and learning rate, the same
L-BFGS budget (iterations and evaluations; pinnkit runs SciPy's L-BFGS-B, DeepXDE torch.optim.LBFGS) and
the same dtype. Reported for each: time per Adam iteration (all of the phase, and steady state after the
first tenth, which holds pinnkit's compiling), time per L-BFGS evaluation and the final relative L2 error
on pinnkit's evaluation grid; then the ratios. Each toolkit runs in its own process (DeepXDE sets
process-wide torch defaults). DeepXDE is installed only for this benchmark (`pip install deepxde`); it is
never a dependency of pinnkit.

    python benchmarks/compare_deepxde.py            # about 12 minutes on 2 CPU cores
    python benchmarks/compare_deepxde.py --quick    # smoke run

With `--example`, the other question: DeepXDE's own Burgers example as it ships (its 3x20 network, 2,540
PDE points with 80 boundary and 160 initial ones as loss terms, Adam 15,000 then L-BFGS to its stopping
rule, float32) runs to its end, and pinnkit's shipped default (problems/burgers.toml) runs until its error
on the same grid is at or below the example's final error; reported per seed: the example's wall time and
error, the time pinnkit took to get there, and the ratio. Times run from the start of each solve (points,
network and any compiling included; imports not).

    python benchmarks/compare_deepxde.py --example --seeds 0 1 2   # about 8 minutes
"""
from __future__ import annotations

import argparse
import csv
import math
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

from common import machine, write_json

ROOT = Path(__file__).resolve().parents[1]
BURGERS = ROOT / "problems" / "burgers.toml"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "compare_deepxde.json"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nets", nargs="+", default=["3x20", "8x20"], help="DEPTHxWIDTH, tanh")
    parser.add_argument("--points", type=int, default=10000, help="interior collocation points")
    parser.add_argument("--adam", type=int, default=2000, help="Adam iterations")
    parser.add_argument("--lbfgs", type=int, default=500, help="L-BFGS iterations (evaluations: 1.25x)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads in each process")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="extra pinnkit overrides, e.g. model.engine=autograd")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny budgets")
    parser.add_argument("--example", action="store_true",
                        help="DeepXDE's own Burgers example against pinnkit's default, time to its final error")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="with --example")
    args = parser.parse_args()
    if args.quick:
        args.nets, args.points, args.adam, args.lbfgs = ["3x20"], 1000, 50, 20
    if args.example and args.out == DEFAULT_OUT:
        args.out = DEFAULT_OUT.with_name("compare_deepxde_example.json")
    return args


def overrides(args: argparse.Namespace, net: str) -> list[str]:
    depth, width = net.split("x")
    log_every = max(args.adam // 10, 1)
    return [f"model.depth={depth}", f"model.width={width}", "model.hard_constraints=true",
            f"points.interior={args.points}", f"dtype={args.dtype}", f"phases[0].iterations={args.adam}",
            "phases[0].lr=1e-3", f"phases[1].iterations={args.lbfgs}", f"phases[1].dtype={args.dtype}",
            "phases[1].history_size=50",  # DeepXDE's maxcor below
            f"phases[1].max_evaluations={int(1.25 * args.lbfgs)}", f"output.log_every={log_every}", *args.overrides]


def steady(times: dict[int, float], iterations: int) -> float:
    """Seconds per iteration between the first log point after 0 and the last one."""
    first = min(k for k in times if k > 0)
    return (times[iterations] - times[first]) / (iterations - first)


def run_pinnkit(args: argparse.Namespace, net: str) -> dict:
    import torch
    import torch._dynamo  # noqa: F401  (torch.optim imports it on its first step: keep that off the clock,
                          # as DeepXDE's model.compile does)
    import pinnkit
    from pinnkit.build import make_engine

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(Path(tmp) / "inductor")  # compile cold, as on a first run
        result = pinnkit.solve(BURGERS, overrides(args, net), out=Path(tmp) / "run", quiet=True)
        with open(result.run_dir / "history.csv", newline="") as f:
            adam_times = {int(r["iteration"]): float(r["time"]) for r in csv.DictReader(f) if r["phase"] == "0"}
    adam, lbfgs = result.summary["phases"]
    engine = make_engine(pinnkit.config.load(BURGERS, overrides(args, net)))
    return {"engine": type(engine).__name__, "compiled": getattr(engine, "compiled", False),
            "rel_l2_u": result.rel_l2["u"],
            "adam_s_per_iteration": adam["seconds"] / adam["iterations"],
            "adam_steady_s_per_iteration": steady(adam_times, adam["iterations"]),
            "lbfgs_s_per_evaluation": lbfgs["seconds"] / lbfgs["evaluations"], "lbfgs_evaluations": lbfgs["evaluations"],
            "lbfgs_iterations": lbfgs["iterations"], "seconds": result.summary["seconds"]}


def run_deepxde(args: argparse.Namespace, net: str) -> dict:
    os.environ["DDE_BACKEND"] = "pytorch"
    import deepxde as dde
    import torch

    from pinnkit.build import build
    from pinnkit.config import load
    from pinnkit.metrics import rel_l2

    torch.set_num_threads(args.threads)
    dde.config.set_default_float(args.dtype)
    setup = build(load(BURGERS, overrides(args, net)))  # the same points, initial weights and reference grid
    model, log_every = deepxde_model(dde, setup, args), max(args.adam // 10, 1)
    model.compile("adam", lr=1e-3)
    clock = _iteration_clock(dde)
    start = time.perf_counter()
    model.train(iterations=args.adam, display_every=log_every, callbacks=[clock], verbose=0)
    adam_seconds = time.perf_counter() - start
    lbfgs_budget(dde, maxcor=50, ftol=1e-15, gtol=1e-10, maxiter=args.lbfgs, maxfun=int(1.25 * args.lbfgs), maxls=50)
    model.compile("L-BFGS")
    start = time.perf_counter()
    model.train(display_every=log_every, verbose=0)
    lbfgs_seconds = time.perf_counter() - start
    state = model.opt.state_dict()["state"][0]
    reference = setup.reference.arrays
    pred = torch.as_tensor(model.predict(reference["points"]).reshape(-1), dtype=torch.float64)
    times = {k: t - clock.start for k, t in clock.times.items() if k % log_every == 0 or k == args.adam}
    return {"rel_l2_u": float(rel_l2(pred, torch.as_tensor(reference["u"]))),
            "adam_s_per_iteration": adam_seconds / args.adam, "adam_steady_s_per_iteration": steady(times, args.adam),
            "lbfgs_s_per_evaluation": lbfgs_seconds / state["func_evals"], "lbfgs_evaluations": state["func_evals"],
            "lbfgs_iterations": state["n_iter"], "seconds": adam_seconds + lbfgs_seconds}


def lbfgs_budget(dde, **options) -> None:
    """DeepXDE's L-BFGS options, its per-call budget included (which it otherwise sets only at import)."""
    dde.optimizers.set_LBFGS_options(**options)
    settings = dde.optimizers.config.LBFGS_options
    settings["iter_per_step"], settings["fun_per_step"] = settings["maxiter"], settings["maxfun"]


def deepxde_model(dde, setup, args: argparse.Namespace):
    """DeepXDE's FNN with pinnkit's input scaling, output transform and initial weights, on pinnkit's points."""
    import torch

    problem, mlp = setup.problem, setup.model.net
    nu = float(problem.nu)

    def pde(x, u):
        u_x, u_t = dde.grad.jacobian(u, x, i=0, j=0), dde.grad.jacobian(u, x, i=0, j=1)
        return u_t + u * u_x - nu * dde.grad.hessian(u, x, i=0, j=0)

    domain = dde.geometry.GeometryXTime(dde.geometry.Interval(-1, 1), dde.geometry.TimeDomain(0, 1))
    data = dde.data.TimePDE(domain, pde, [], num_domain=0, anchors=setup.objective.groups[0].arrays["points"])
    depth, width = len(mlp.layers) - 1, mlp.layers[0].out_features
    net = dde.nn.FNN([2] + [width] * depth + [1], "tanh", "Glorot normal")
    with torch.no_grad():
        for mine, theirs in zip(mlp.layers, net.linears):
            theirs.weight.copy_(mine.weight)
            theirs.bias.copy_(mine.bias)
    center, half = (torch.as_tensor(v, dtype=net.linears[0].weight.dtype) for v in (mlp.center, mlp.half_range))
    net.apply_feature_transform(lambda x: (x - center) / half)
    net.apply_output_transform(lambda x, u: -torch.sin(math.pi * x[:, 0:1]) + x[:, 1:2] * (1 - x[:, 0:1] ** 2) * u)
    return dde.Model(data, net)


def run_example(seed: int, threads: int, quick: bool) -> dict:
    """DeepXDE's examples/pinn_forward/Burgers.py as it ships (TimeDomain(0, 0.99) included), seeded; its wall
    time and its error on pinnkit's reference grid."""
    os.environ["DDE_BACKEND"] = "pytorch"
    import deepxde as dde
    import numpy as np
    import torch

    from pinnkit.build import build
    from pinnkit.config import load
    from pinnkit.metrics import rel_l2

    torch.set_num_threads(threads)
    dde.config.set_random_seed(seed)
    start = time.perf_counter()

    def pde(x, u):
        u_x, u_t = dde.grad.jacobian(u, x, i=0, j=0), dde.grad.jacobian(u, x, i=0, j=1)
        return u_t + u * u_x - 0.01 / np.pi * dde.grad.hessian(u, x, i=0, j=0)

    domain = dde.geometry.GeometryXTime(dde.geometry.Interval(-1, 1), dde.geometry.TimeDomain(0, 0.99))
    bc = dde.icbc.DirichletBC(domain, lambda x: 0, lambda _, on_boundary: on_boundary)
    ic = dde.icbc.IC(domain, lambda x: -np.sin(np.pi * x[:, 0:1]), lambda _, on_initial: on_initial)
    data = dde.data.TimePDE(domain, pde, [bc, ic], num_domain=2540, num_boundary=80, num_initial=160)
    model = dde.Model(data, dde.nn.FNN([2] + [20] * 3 + [1], "tanh", "Glorot normal"))
    model.compile("adam", lr=1e-3)
    model.train(iterations=150 if quick else 15000, verbose=0)
    if quick:
        lbfgs_budget(dde, maxiter=50, maxfun=60)
    model.compile("L-BFGS")
    model.train(verbose=0)
    seconds = time.perf_counter() - start
    reference = build(load(BURGERS)).reference.arrays
    pred = torch.as_tensor(model.predict(reference["points"]).reshape(-1), dtype=torch.float64)
    return {"rel_l2_u": float(rel_l2(pred, torch.as_tensor(reference["u"]))), "seconds": seconds,
            "lbfgs_iterations": int(model.opt.state_dict()["state"][0]["n_iter"])}


def run_default_to(target: float, seed: int, threads: int) -> dict:
    """pinnkit's burgers.toml, seeded, stopped at the first log point (every 10 iterations) where its error is at
    or below `target`: the wall time from the start of the solve to there."""
    import torch

    import pinnkit

    torch.set_num_threads(threads)
    reached: dict = {}

    def at_target(row: dict) -> bool:
        error = row.get("rel_l2_u")
        if error is not None and error <= target:
            reached.update(seconds=time.perf_counter() - start, rel_l2_u=error, phase=row["phase"],
                           iteration=row["iteration"])
            return True
        return False

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(Path(tmp) / "inductor")  # compile cold, as on a first run
        start = time.perf_counter()
        result = pinnkit.solve(BURGERS, [f"seed={seed}", "output.log_every=10"], out=Path(tmp) / "run", quiet=True,
                               callbacks=[at_target])
    return reached or {"seconds": None, "rel_l2_u": result.rel_l2["u"], "status": result.status}


def compare_example(args: argparse.Namespace) -> None:
    """Per seed: DeepXDE's example to its end, then pinnkit's default to the example's final error."""
    rows = []
    print(f"{'seed':>4} {'DeepXDE example':>16} {'its error':>10} {'pinnkit to it':>14} {'sooner':>7}")
    for seed in args.seeds:
        theirs = in_process(run_example, seed, args.threads, args.quick)
        mine = in_process(run_default_to, theirs["rel_l2_u"], seed, args.threads)
        ratio = theirs["seconds"] / mine["seconds"] if mine["seconds"] else None
        rows.append({"seed": seed, "deepxde_example": theirs, "pinnkit_default": mine, "sooner": ratio})
        print(f"{seed:>4} {theirs['seconds']:15.1f}s {theirs['rel_l2_u']:10.2e} "
              + (f"{mine['seconds']:13.1f}s {ratio:6.1f}x" if ratio else f"{'never':>14}"))
    ratios = sorted(r["sooner"] for r in rows if r["sooner"])
    if ratios:
        print(f"median {ratios[len(ratios) // 2]:.1f}x sooner (range {ratios[0]:.1f} .. {ratios[-1]:.1f})")
    write_json(args.out, {"machine": machine(), "settings": vars(args) | {"out": str(args.out)}, "rows": rows})


def _iteration_clock(dde):
    """A DeepXDE callback recording the wall time at the end of every iteration."""
    class Clock(dde.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.start, self.times = time.perf_counter(), {}

        def on_epoch_end(self):
            self.times[self.model.train_state.iteration] = time.perf_counter()

    return Clock()


def in_process(fn, *args) -> dict:
    """Run fn(*args) in a fresh process: each toolkit gets clean torch defaults and its own threads."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)


def main() -> None:
    args = arguments()
    if args.example:
        compare_example(args)
        return
    rows = []
    for net in args.nets:
        mine = in_process(run_pinnkit, args, net)
        try:
            theirs = in_process(run_deepxde, args, net)
        except ImportError as err:
            print(f"DeepXDE is not available here ({err}); install it with `pip install deepxde` to compare")
            theirs = None
        rows.append({"net": net, "pinnkit": mine, "deepxde": theirs})
        report(rows[-1], args)
    write_json(args.out, {"machine": machine(), "settings": vars(args) | {"out": str(args.out)}, "rows": rows})


def report(row: dict, args: argparse.Namespace) -> None:
    mine, theirs = row["pinnkit"], row["deepxde"]
    print(f"\nBurgers {row['net']} tanh, {args.points} points, {args.dtype}, Adam {args.adam}, L-BFGS {args.lbfgs} "
          f"(pinnkit: {mine['engine']}{', compiled' if mine['compiled'] else ''})")
    print(f"{'':>8} {'Adam ms/it':>11} {'steady':>8} {'L-BFGS ms/eval':>15} {'evals':>6} {'rel L2 u':>9} {'total s':>8}")
    for name, r in (("pinnkit", mine), ("deepxde", theirs)):
        if r is not None:
            print(f"{name:>8} {1e3 * r['adam_s_per_iteration']:11.2f} {1e3 * r['adam_steady_s_per_iteration']:8.2f} "
                  f"{1e3 * r['lbfgs_s_per_evaluation']:15.2f} {r['lbfgs_evaluations']:6d} {r['rel_l2_u']:9.2e} "
                  f"{r['seconds']:8.1f}")
    if theirs is not None:
        print(f"{'speed-up':>8} {theirs['adam_s_per_iteration'] / mine['adam_s_per_iteration']:11.2f} "
              f"{theirs['adam_steady_s_per_iteration'] / mine['adam_steady_s_per_iteration']:8.2f} "
              f"{theirs['lbfgs_s_per_evaluation'] / mine['lbfgs_s_per_evaluation']:15.2f}")


if __name__ == "__main__":
    main()
