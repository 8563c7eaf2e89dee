"""Time per training step by derivative engine: eager autograd, eager jets, compiled jets.

(a) the shipped Burgers, Poisson 2D and Kovasznay cases (problems/*.toml and their networks, Burgers at 8x20;
    10,000 interior points), float32 and float64: time per Adam step and per L-BFGS evaluation (loss and gradient inside
    SciPy's L-BFGS-B), and the one-off compile time;
(b) Burgers, Adam step: how the time grows with collocation points (1e3..1e5) and network width;
(c) the SciPy L-BFGS-B phase on the shipped Burgers case: the share of its time spent outside
    loss-and-gradient evaluations (flattening, host copies, SciPy itself).
Engines of one configuration are timed round-robin, so that they share the machine's load alike;
figures are medians over repeats. Prints tables and writes benchmarks/results/speed.json.

    python benchmarks/speed.py            # about 45 minutes on 2 CPU cores
    python benchmarks/speed.py --quick    # smoke run, a few minutes (mostly compiling)
    python benchmarks/speed.py --sections steps --cases kdv kuramoto_sivashinsky --dtypes float64 \
        --out benchmarks/results/speed_high_order.json   # third and fourth derivatives, about 15 minutes
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import torch

from common import BURGERS_8X20, machine, write_json
from pinnkit.build import Setup, build
from pinnkit.config import load
from pinnkit.optim import PHASES, Monitor, ObjectiveView, run_phase as drive

ROOT = Path(__file__).resolve().parents[1]
BURGERS = ROOT / "problems" / "burgers.toml"
ENGINES = {"autograd": ("model.engine=autograd",),
           "jet": ("model.engine=jet", "model.compile=false"),
           "jet compiled": ("model.engine=jet", "model.compile=true")}
if torch.cuda.is_available():  # what CUDA graphs add to compiling
    ENGINES["jet compiled, no graphs"] = ("model.engine=jet", "model.compile=true", "model.cuda_graphs=false")
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=10000, help="interior collocation points in (a) and (c)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000], help="points in (b)")
    parser.add_argument("--widths", type=int, nargs="+", default=[20, 64, 128], help="widths in (b), 10k points")
    parser.add_argument("--steps", type=int, default=10, help="Adam steps (and L-BFGS evaluations) per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dtypes", nargs="+", default=list(DTYPES), choices=list(DTYPES))
    parser.add_argument("--cases", nargs="+", default=["burgers", "poisson", "kovasznay"],
                        help="shipped cases in (a), by their problems/NAME.toml")
    parser.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=list(SECTIONS),
                        help="which of (a) steps, (b) scaling, (c) lbfgsb_overhead to measure")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 avoids oversubscription)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "speed.json")
    parser.add_argument("--warm-cache", action="store_true",
                        help="keep torch.compile's on-disk cache (default: a fresh one, so compile times are cold)")
    parser.add_argument("--quick", action="store_true", help="smoke run: small sizes, few repeats, float64 only")
    args = parser.parse_args()
    if args.quick:
        args.points, args.sizes, args.widths, args.steps, args.repeats = 1000, [500, 2000], [20, 32], 3, 2
        args.dtypes = ["float64"]
    return args


def setup(source, overrides: tuple[str, ...], dtype: torch.dtype) -> Setup:
    pinned = BURGERS_8X20 if source == BURGERS else ()  # the network the README's figures were measured with
    s = build(load(source, pinned + overrides))
    s.cast(dtype)
    return s


def now() -> tuple[float, float]:
    """Wall and process CPU seconds, after the GPU's queued work. With one torch thread, CPU time is about
    what the wall time would be on an idle machine; on a shared one, wall time also counts the waits for a core."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter(), time.process_time()


def since(start: tuple[float, float]) -> tuple[float, float]:
    return tuple(b - a for a, b in zip(start, now()))


class Clock(Monitor):
    """A phase monitor that also adds up the wall and CPU time of the loss-and-gradient evaluations: from the
    call of the loss to the last gradient accumulated (each parameter's post-accumulate-grad hook)."""

    def __init__(self, options, params: list[torch.Tensor]):
        super().__init__(options)
        self.inside, self.started, self.ended = (0.0, 0.0), None, None
        self.hooks = [p.register_post_accumulate_grad_hook(self._accumulated) for p in params]

    def _accumulated(self, _) -> None:
        self.ended = now()

    def close(self) -> None:
        """Add the last evaluation's time."""
        if self.started is not None and self.ended is not None:
            self.inside = tuple(a + b - c for a, b, c in zip(self.inside, self.ended, self.started))
        self.started = self.ended = None

    def view(self, s: Setup) -> ObjectiveView:
        def timed() -> torch.Tensor:
            self.close()
            self.started = now()
            return s.objective.loss()[0]
        return ObjectiveView(timed)


def run_phase(s: Setup, options: dict) -> tuple[tuple[float, float], Clock]:
    """Run one phase on the setup; its wall and CPU seconds and its clock."""
    opts = PHASES[options["optimizer"]].Options(**options)
    groups = s.parameter_groups()
    clock, start = Clock(opts, [p for g in groups for p in g["params"]]), now()
    drive(PHASES[opts.optimizer](opts), groups, clock.view(s), clock)
    clock.close()
    for hook in clock.hooks:
        hook.remove()
    return since(start), clock


def adam_ms(s: Setup, steps: int) -> tuple[float, float]:
    seconds, clock = run_phase(s, {"optimizer": "adam", "iterations": steps, "lr": 1e-4})
    return tuple(1e3 * t / clock.iterations for t in seconds)


def lbfgs_ms(s: Setup, steps: int) -> tuple[float, float]:
    _, clock = run_phase(s, {"optimizer": "lbfgsb", "iterations": 10 * steps, "max_evaluations": steps})
    return tuple(1e3 * t / clock.evaluations for t in clock.inside)


def interleaved(setups: dict[str, Setup], measure: Callable[[Setup, int], tuple[float, float]], steps: int,
                repeats: int) -> dict[str, dict]:
    """Per engine: the first call's seconds (compiling, if any) and the medians (wall and CPU ms) of
    `repeats` round-robin runs."""
    first = {}
    for name, s in setups.items():
        start = time.perf_counter()
        measure(s, 1)
        first[name] = time.perf_counter() - start
    runs = {name: [] for name in setups}
    for _ in range(repeats):
        for name, s in setups.items():
            runs[name].append(measure(s, steps))
    return {name: {"ms": statistics.median(r[0] for r in runs[name]),
                   "cpu_ms": statistics.median(r[1] for r in runs[name]), "first_s": first[name]} for name in setups}


def configuration(source, overrides: tuple[str, ...], dtype: str, args, steps: int, lbfgs: bool = True) -> list[dict]:
    """Every engine on one configuration: one row per engine."""
    torch._dynamo.reset()  # a fresh compile per configuration: none of them counts against the recompile limit
    setups = {name: setup(source, overrides + extra, DTYPES[dtype]) for name, extra in ENGINES.items()}
    adam = interleaved(setups, adam_ms, steps, args.repeats)
    evals = interleaved(setups, lbfgs_ms, steps, args.repeats) if lbfgs else {}
    m = next(iter(setups.values())).config.model
    return [{"dtype": dtype, "engine": name, "points": len(s.objective.groups[0].arrays["points"]),
             "width": m.width, "depth": m.depth, "adam_ms": adam[name]["ms"], "adam_cpu_ms": adam[name]["cpu_ms"],
             "compile_s": max(adam[name]["first_s"] - adam[name]["ms"] / 1e3, 0.0) if name.startswith("jet compiled") else 0.0,
             "lbfgs_eval_ms": evals[name]["ms"] if lbfgs else None,
             "lbfgs_eval_cpu_ms": evals[name]["cpu_ms"] if lbfgs else None} for name, s in setups.items()]


def table(rows: list[dict], keys: tuple[str, ...]) -> None:
    """Print rows with each engine's speed-up over eager autograd on the same configuration (wall, CPU)."""
    base = {tuple(r[k] for k in keys): r for r in rows if r["engine"] == "autograd"}
    print(" ".join(f"{k:>9}" for k in keys) + f" {'engine':>13} {'adam ms':>9} {'x':>5} {'cpu x':>5}"
          f" {'lbfgs ms':>9} {'x':>5} {'cpu x':>5} {'compile s':>9}")
    for r in rows:
        b = base[tuple(r[k] for k in keys)]
        ratios = {k: b[k] / r[k] if r[k] else None for k in ("adam_ms", "adam_cpu_ms", "lbfgs_eval_ms",
                                                            "lbfgs_eval_cpu_ms")}
        lbfgs = (f"{r['lbfgs_eval_ms']:9.2f} {ratios['lbfgs_eval_ms']:5.2f} {ratios['lbfgs_eval_cpu_ms']:5.2f}"
                 if r["lbfgs_eval_ms"] else f"{'-':>9} {'-':>5} {'-':>5}")
        print(" ".join(f"{str(r[k]):>9}" for k in keys) + f" {r['engine']:>13} {r['adam_ms']:9.2f}"
              f" {ratios['adam_ms']:5.2f} {ratios['adam_cpu_ms']:5.2f} {lbfgs} {r['compile_s']:9.1f}")


def lbfgsb_overhead(args) -> dict:
    """(c): the shipped Burgers case in float64 with its default engine: SciPy's share outside evaluations."""
    s = setup(BURGERS, (f"points.interior={args.points}",), torch.float64)
    run_phase(s, {"optimizer": "lbfgsb", "iterations": 2, "max_evaluations": 2})  # compile outside the clock
    budget = 10 * args.steps * args.repeats
    seconds, clock = run_phase(s, {"optimizer": "lbfgsb", "iterations": budget, "max_evaluations": budget})
    share = [1 - inside / total for inside, total in zip(clock.inside, seconds)]
    print(f"\n(c) L-BFGS-B on burgers.toml (float64, {args.points} points): {clock.evaluations} evaluations in "
          f"{seconds[0]:.2f} s, {100 * share[0]:.2f}% of it (CPU time: {100 * share[1]:.2f}%) outside "
          "loss-and-gradient evaluations")
    return {"evaluations": clock.evaluations, "seconds": seconds[0], "cpu_seconds": seconds[1],
            "outside_share": share[0], "outside_cpu_share": share[1]}


def per_step(args) -> list[dict]:
    """(a): every case and dtype at `args.points` points, printed as each configuration completes."""
    print("(a) time per Adam step and per L-BFGS evaluation (x: speed-up over eager autograd)")
    rows = []
    for case in args.cases:
        for dtype in args.dtypes:
            source = ROOT / "problems" / f"{case}.toml"
            found = configuration(source, (f"points.interior={args.points}",), dtype, args, args.steps)
            table([{"case": case, **r} for r in found], ("case", "dtype", "points"))
            rows += [{"case": case, **r} for r in found]
    return rows


def scaling(args) -> list[dict]:
    """(b): Burgers Adam steps over collocation points, then over widths, about equal work per repeat."""
    print("\n(b) Burgers: time per Adam step by collocation points and width")
    rows = []
    for n, width in [(n, None) for n in args.sizes] + [(args.points, w) for w in args.widths[1:]]:
        for dtype in args.dtypes:
            overrides = (f"points.interior={n}",) + ((f"model.width={width}",) if width else ())
            n_steps = max(2, args.steps * args.points * 20 // (n * (width or 20)))
            found = configuration(BURGERS, overrides, dtype, args, n_steps, lbfgs=False)
            table(found, ("dtype", "points", "width", "depth"))
            rows += found
    return rows


SECTIONS = {"steps": per_step, "scaling": scaling, "lbfgsb_overhead": lbfgsb_overhead}


def main() -> None:
    args = arguments()
    torch.set_num_threads(args.threads)
    if not args.warm_cache:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="pinnkit-speed-")
    results = {"machine": machine(), "settings": vars(args) | {"out": str(args.out)}}
    for name in args.sections:
        results[name] = SECTIONS[name](args)
        write_json(args.out, results)  # after every section: a long run keeps what it measured


if __name__ == "__main__":
    main()
