"""Scaling of one solve over processes (torch.distributed, started by torchrun): time per Adam step and per
L-BFGS evaluation (loss and gradient, summed over the processes) on the shipped Burgers case.

(a) strong scaling: a fixed number of collocation points (`--points`), shared by 1, 2, ... processes;
(b) weak scaling: `--points` points per process;
(c) how the gradient is summed: pinnkit's one all-reduce of the loss and the flat gradient after the
    backward pass, against torch's DistributedDataParallel (which all-reduces gradient buckets during it),
    on the same network and points (the autograd engine for both: DDP wraps the module, and the forward jets
    read the network's layers themselves).
Each configuration runs under `torchrun --nproc-per-node N` (started here, once per N); a time is the
median over repeats of the slowest process's. Prints a table and writes benchmarks/results/distributed.json.

    python benchmarks/distributed.py                                  # CPU: 1 and 2 processes (gloo)
    python benchmarks/distributed.py --device cuda --processes 1 2 4 8  # one GPU per process (NCCL)
    python benchmarks/distributed.py --quick                          # smoke run, under a minute
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Callable, Optional

import torch
import torch.distributed as dist

from common import BURGERS_8X20, machine, write_json
from pinnkit.build import Setup, build
from pinnkit.config import load
from pinnkit.distributed import Processes, joined
from pinnkit.optim.closures import gradient_closure

ROOT = Path(__file__).resolve().parents[1]
BURGERS = ROOT / "problems" / "burgers.toml"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2], help="process counts to time")
    parser.add_argument("--points", type=int, default=10000, help="interior points: in all (a), per process (b)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="cuda: one GPU per process")
    parser.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    parser.add_argument("--steps", type=int, default=10, help="Adam steps (and evaluations) per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "distributed.json")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2,000 points, 3 steps, 2 repeats")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)  # under torchrun: write the times here
    args = parser.parse_args()
    if args.quick:
        args.points, args.steps, args.repeats = 2000, 3, 2
    return args


def setup(args: argparse.Namespace, points: int, engine: str, processes: Optional[Processes]) -> Setup:
    """Burgers (the 8 x 20 network the figures were measured with, exact boundary values), `points` in all."""
    overrides = [*BURGERS_8X20, f"points.interior={points}", f"dtype={args.dtype}", f"device={args.device}",
                 f"model.engine={engine}", "model.compile=false"]
    built = build(load(BURGERS, overrides), processes=processes)
    built.cast(getattr(torch, args.dtype))
    return built


def timed(step: Callable[[], object], args: argparse.Namespace, processes: Optional[Processes]) -> float:
    """Seconds per call of `step`: the median over repeats of `--steps` calls, the slowest process's."""
    step()  # warm-up
    times = []
    for _ in range(args.repeats):
        if processes is not None:
            dist.barrier()
        if args.device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        if args.device == "cuda":
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) / args.steps)
    median = torch.tensor([statistics.median(times)], dtype=torch.float64)
    if processes is not None:
        dist.all_reduce(median, op=dist.ReduceOp.MAX)
    return float(median)


def phase_times(built: Setup, args: argparse.Namespace, processes: Optional[Processes]) -> dict[str, float]:
    """An Adam step and an L-BFGS evaluation (the closure both phases step with), in seconds."""
    params = list(built.model.parameters())
    evaluate = gradient_closure(params, built.view().loss, processes=processes)
    adam = torch.optim.Adam(params, lr=1e-5)
    return {"adam_step": timed(lambda: adam.step(evaluate), args, processes),
            "lbfgs_evaluation": timed(evaluate, args, processes)}


def ddp_time(built: Setup, args: argparse.Namespace, processes: Processes) -> float:
    """An evaluation with the gradient summed by DistributedDataParallel (it averages: the loss is scaled by
    the number of processes), in seconds; `nan` when DDP refuses this objective."""
    from torch.nn.parallel import DistributedDataParallel

    objective, params = built.objective, list(built.model.parameters())
    device_ids = [built.device.index] if built.device.type == "cuda" else None
    objective.model = DistributedDataParallel(built.model, device_ids=device_ids)

    def evaluate() -> torch.Tensor:
        for p in params:
            p.grad = None
        loss = objective.loss()[0] * processes.size
        loss.backward()
        return loss

    try:
        with warnings.catch_warnings():  # DDP's note that a (1, k) gradient's strides differ from its bucket's
            warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
            return timed(evaluate, args, processes)
    except RuntimeError as err:  # recorded, not fatal: the comparison says why DDP does not apply
        print(f"DDP: {str(err).splitlines()[0]}", file=sys.stderr)
        return float("nan")


def worker(args: argparse.Namespace) -> None:
    """One process of `torchrun --nproc-per-node N`: time (a), (b) and (c); the first writes them to --worker."""
    torch.set_num_threads(1)
    with joined() as processes:
        size = processes.size if processes is not None else 1
        rows = []
        for scaling, points in (("strong", args.points), ("weak", args.points * size)):
            rows.append({"scaling": scaling, "processes": size, "points": points, "engine": "jet",
                         **phase_times(setup(args, points, "jet", processes), args, processes)})
        plain = setup(args, args.points, "autograd", processes)
        row = {"scaling": "strong", "processes": size, "points": args.points, "engine": "autograd",
               **phase_times(plain, args, processes)}
        if processes is not None:
            row["ddp_evaluation"] = ddp_time(setup(args, args.points, "autograd", processes), args, processes)
        rows.append(row)
        if processes is None or processes.main:
            args.worker.write_text(json.dumps(rows))


def table(rows: list[dict]) -> str:
    """The times in ms, and the speed-up over one process of the same scaling and engine."""
    one = {(r["scaling"], r["engine"]): r for r in rows if r["processes"] == 1}
    lines = [f"{'scaling':<8}{'engine':<10}{'procs':>6}{'points':>9}{'adam ms':>10}{'eval ms':>10}"
             f"{'speed-up':>10}{'ddp ms':>9}"]
    for r in rows:
        base = one.get((r["scaling"], r["engine"]))
        speedup = base["lbfgs_evaluation"] / r["lbfgs_evaluation"] if base else float("nan")  # weak: ideally 1
        ddp = f"{1e3 * r['ddp_evaluation']:>9.2f}" if "ddp_evaluation" in r else f"{'-':>9}"
        lines.append(f"{r['scaling']:<8}{r['engine']:<10}{r['processes']:>6}{r['points']:>9}"
                     f"{1e3 * r['adam_step']:>10.2f}{1e3 * r['lbfgs_evaluation']:>10.2f}{speedup:>10.2f}{ddp}")
    return "\n".join(lines)


def main() -> None:
    args = arguments()
    if args.worker is not None:
        return worker(args)
    rows = []
    for n in args.processes:
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "times.json"
            command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={n}",
                       __file__, "--worker", str(out), "--points", str(args.points), "--device", args.device,
                       "--dtype", args.dtype, "--steps", str(args.steps), "--repeats", str(args.repeats)]
            subprocess.run(command, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
            rows += json.loads(out.read_text())
    print(table(rows))
    write_json(args.out, {"machine": machine(), "device": args.device, "dtype": args.dtype, "steps": args.steps,
                          "repeats": args.repeats, "quick": args.quick, "rows": rows,
                          "note": "strong: --points shared by the processes; weak: --points per process (the "
                                  "speed-up column is then time(1) / time(N), ideally 1); ddp: the same "
                                  "evaluation with DistributedDataParallel summing the gradient"})


if __name__ == "__main__":
    main()
