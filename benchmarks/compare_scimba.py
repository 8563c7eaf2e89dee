"""pinnkit against ScimBa (scimba_torch 1.4.1) on Poisson to high accuracy, under one time budget.

The problem of problems/poisson_accurate.toml: -(u_xx + u_yy) = 2 pi^2 sin(pi x) sin(pi y) on [0, 1]^2, u = 0 on
the boundary imposed exactly by the same output transform (u = x (1 - x) y (1 - y) N), N a 2 x 20 tanh MLP with
pinnkit's input scaling, from pinnkit's initial weights, on pinnkit's 500 Sobol collocation points (held fixed:
ScimBa would draw new ones every step), in float64; the loss mean((-lap u - f)^2) in both. Each solver runs
Adam (lr 1e-2, constant) then its second phase for at most `--seconds`: pinnkit the shipped config
(self-scaled Broyden, ftol = gtol = 0), ScimBa its energy natural gradient (NaturalGradientPinnsElliptic,
ng_algo = "ENG": Gram matrix + Armijo line search) at its default damping (matrix_regularization 1e-6) and at
1e-9, and its self-scaled Broyden (optimizer "ssbroyden", no gradient tolerance). ScimBa ends each phase on
its lowest-loss iterate (its own behaviour). Reported per solver and seed: the final relative L2 error of u on
pinnkit's 100 x 100 evaluation grid, the steps of the second phase and its seconds per step, the seconds of
Adam (pinnkit's include compiling its derivative engine) and of both phases; then medians [min, max] and the
best ScimBa median error over pinnkit's. Each solve runs alone in a fresh process. ScimBa is installed only
for this benchmark, never a dependency of pinnkit:

    pip install scimba==1.4.1      # --no-deps will do: scimba_torch needs torch, numpy, scipy, matplotlib, tqdm
                                   # (its jax, orbax and jax-tqdm serve scimba_jax only)
    OMP_NUM_THREADS=1 python benchmarks/compare_scimba.py             # about 15 minutes (4 solvers x 3 seeds)
    OMP_NUM_THREADS=1 python benchmarks/compare_scimba.py --quick --seeds 0     # smoke run
"""
from __future__ import annotations

import argparse
import importlib.util
import math
import multiprocessing
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch
from common import machine, spread, write_json

ROOT = Path(__file__).resolve().parents[1]
POISSON = ROOT / "problems" / "poisson_accurate.toml"
SCIMBA = {  # ScimBa's second phases: natural gradient ("eng") or SS-Broyden, and ScimBa keyword arguments
    "scimba-eng": ("eng", {}),
    "scimba-eng-1e-9": ("eng", {"matrix_regularization": 1e-9}),
    "scimba-ssbroyden": ("ssbroyden", {}),
}
SOLVERS = ("pinnkit", *SCIMBA)
ADAM = {"name": "adam", "optimizer_args": {"lr": 1e-2},
        "scheduler_args": {"gamma": 1.0}}  # a constant lr, as pinnkit's (ScimBa's Adam decays it by default)
FIGURES = ("rel_l2_u", "steps", "s_per_step", "adam_seconds", "wall_seconds")


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="time budget of the second phase")
    parser.add_argument("--adam", type=int, default=500, help="Adam iterations before it")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--solvers", nargs="+", default=list(SOLVERS), choices=SOLVERS)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads in each process")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "compare_scimba.json")
    parser.add_argument("--quick", action="store_true", help="smoke run: Adam 50, 5 s")
    args = parser.parse_args()
    if args.quick:
        args.adam, args.seconds = 50, 5.0
    return args


def overrides(args: argparse.Namespace, seed: int) -> list[str]:
    """The shipped config's changes for one solve: the seed, the Adam iterations, the time budget."""
    return [f"seed={seed}", f"phases[0].iterations={args.adam}", f"phases[1].max_seconds={args.seconds}"]


def run(args: argparse.Namespace, name: str, seed: int) -> dict:
    """One solve, in a fresh process (ScimBa sets process-wide torch defaults at import)."""
    return run_pinnkit(args, seed) if name == "pinnkit" else run_scimba(args, seed, name)


def run_pinnkit(args: argparse.Namespace, seed: int) -> dict:
    """The shipped config, with this seed, Adam budget and time budget."""
    import pinnkit

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        result = pinnkit.solve(POISSON, overrides(args, seed), out=Path(tmp) / "run")
    adam, phase = result.summary["phases"]
    return {"rel_l2_u": result.rel_l2["u"], "steps": phase["iterations"], "seconds": phase["seconds"],
            "s_per_step": phase["seconds"] / max(phase["iterations"], 1), "adam_seconds": adam["seconds"],
            "wall_seconds": result.summary["seconds"], "status": phase["status"]}


def run_scimba(args: argparse.Namespace, seed: int, name: str) -> dict:
    """ScimBa's Adam, then its second phase `name` until the time budget, on pinnkit's setup for `seed`."""
    from scimba_torch.numerical_solvers.elliptic_pde.pinns import PinnsElliptic
    from scimba_torch.utils.scimba_tensors import LabelTensor

    from pinnkit.build import build
    from pinnkit.config import load
    from pinnkit.metrics import rel_l2

    torch.set_num_threads(args.threads)
    torch.set_default_dtype(torch.float64)
    setup = build(load(POISSON, overrides(args, seed)))  # the same points, initial weights and reference grid
    pde, transform = scimba_poisson(setup.model.net)
    points = torch.as_tensor(setup.objective.groups[0].arrays["points"])
    data = (LabelTensor(points.clone().requires_grad_(), torch.zeros(len(points), dtype=torch.int32)),
            LabelTensor(torch.ones(len(points), 1)))
    start = time.perf_counter()
    adam = on_points(PinnsElliptic(pde, bc_type="strong", optimizers=ADAM), data)
    adam.solve(epochs=args.adam, silent=True)
    adam_end = time.perf_counter()
    solver = second_phase(pde, transform, name)
    clock = Deadline(on_points(solver, data), args.seconds)
    solver.solve(epochs=10**9, silent=True)
    end = time.perf_counter()
    reference = setup.reference.arrays
    grid = torch.as_tensor(reference["points"])
    with torch.no_grad():
        u = pde.space.evaluate(LabelTensor(grid), LabelTensor(torch.ones(len(grid), 1))).w[:, 0]
    return {"rel_l2_u": float(rel_l2(u, torch.as_tensor(reference["u"]))), "steps": clock.steps,
            "seconds": end - clock.start, "s_per_step": (end - clock.start) / max(clock.steps, 1),
            "adam_seconds": adam_end - start, "wall_seconds": end - start, "status": "max_seconds"}


def second_phase(pde: Any, transform: dict[str, Callable], name: str) -> Any:
    """ScimBa's solver for the second phase `name`: its natural gradient, or its SS-Broyden with no gradient
    tolerance (as pinnkit's gtol = 0)."""
    from scimba_torch.numerical_solvers.elliptic_pde.pinns import (
        NaturalGradientPinnsElliptic,
        PinnsElliptic,
    )

    kind, options = SCIMBA[name]
    if kind == "eng":
        return NaturalGradientPinnsElliptic(pde, bc_type="strong", ng_algo="ENG", **transform, **options)
    return PinnsElliptic(pde, bc_type="strong", optimizers={
        "name": "ssbroyden", "optimizer_args": {"tolerance_grad": torch.finfo(torch.float64).tiny}})


def scimba_poisson(mlp: torch.nn.Module) -> tuple[Any, dict[str, Callable]]:
    """ScimBa's 2D Dirichlet Laplacian (its parameter, the diffusivity, held at 1) on an MLP space with pinnkit's
    input scaling, output transform and initial weights; and the same scaling and transform in the functional
    form ScimBa's natural-gradient preconditioner evaluates the network with."""
    from scimba_torch.approximation_space.nn_space import NNxSpace
    from scimba_torch.domain.meshless_domain.domain_2d import Square2D
    from scimba_torch.integration.monte_carlo import DomainSampler, TensorizedSampler
    from scimba_torch.integration.monte_carlo_parameters import UniformParametricSampler
    from scimba_torch.neural_nets.coordinates_based_nets.mlp import GenericMLP
    from scimba_torch.physical_models.elliptic_pde.laplacians import (
        Laplacian2DDirichletStrongForm,
    )

    center, half = mlp.center, mlp.half_range

    def bubble(x: torch.Tensor) -> torch.Tensor:
        return x[..., 0:1] * (1 - x[..., 0:1]) * x[..., 1:2] * (1 - x[..., 1:2])

    def source(x: Any, mu: Any) -> torch.Tensor:
        return 2 * math.pi**2 * torch.sin(math.pi * x.x[:, 0:1]) * torch.sin(math.pi * x.x[:, 1:2])

    domain = Square2D([(0.0, 1.0), (0.0, 1.0)], is_main_domain=True)
    sampler = TensorizedSampler([DomainSampler(domain), UniformParametricSampler([(1.0, 1.0)])])
    widths = [layer.out_features for layer in mlp.layers[:-1]]
    space = NNxSpace(1, 1, GenericMLP, domain, sampler, layer_sizes=widths, activation_type="tanh",
                     last_layer_has_bias=True, pre_processing_out_size=2,
                     pre_processing=lambda x, mu: (x.x - center) / half,
                     post_processing=lambda u, x, mu: bubble(x.x) * u)
    with torch.no_grad():
        for mine, theirs in zip(mlp.layers, [*space.network.hidden_layers, space.network.output_layer]):
            theirs.weight.copy_(mine.weight)
            theirs.bias.copy_(mine.bias)
    transform = {"functional_pre_processing": lambda x, mu: (x - center) / half,
                 "functional_post_processing": lambda net, x, mu, theta: bubble(x) * net(x, mu, theta)}
    return Laplacian2DDirichletStrongForm(space, f=source), transform


def on_points(solver: Any, data: tuple) -> Any:
    """The solver with its collocation points held at `data` (ScimBa draws new ones every step otherwise)."""
    solver.sample_all_vars = lambda **kwargs: data
    return solver


class Deadline:
    """Stops a ScimBa solve after the step running when `seconds` have passed, counting its steps: ScimBa
    calls it at the start of every step (its per-step hook, `create_quantities_for_loss`)."""

    def __init__(self, solver: Any, seconds: float):
        self.solver, self.seconds, self.steps = solver, seconds, 0
        self.start = time.perf_counter()
        solver.create_quantities_for_loss = self

    def __call__(self, data: tuple) -> None:
        self.steps += 1
        if time.perf_counter() - self.start >= self.seconds:
            self.solver.max_epochs = 0  # the loop ends after this step


def summarize(runs: dict[str, list[dict]]) -> dict[str, dict]:
    """Median [min, max] over the seeds of each figure, per solver."""
    return {name: {key: spread([r[key] for r in rs]) for key in FIGURES} for name, rs in runs.items()}


def ratio(summary: dict[str, dict]) -> dict | None:
    """The best (lowest) ScimBa median error over pinnkit's: above 1, pinnkit is the more accurate."""
    scimba = {name: s["rel_l2_u"]["median"] for name, s in summary.items() if name != "pinnkit"}
    if "pinnkit" not in summary or not scimba:
        return None
    best = min(scimba, key=scimba.get)
    return {"best_scimba": best, "rel_l2_u": scimba[best] / summary["pinnkit"]["rel_l2_u"]["median"]}


def print_table(runs: dict[str, list[dict]], summary: dict[str, dict], best: dict | None,
                args: argparse.Namespace) -> None:
    """Each solve, then the medians [min, max] and the ratio."""
    print(f"\nPoisson 2x20 tanh, 500 Sobol points, float64: Adam {args.adam} then at most {args.seconds:g} s, "
          f"seeds {args.seeds}, {args.threads} thread(s)")
    print(f"{'solver':17} {'seed':>4} {'rel L2 u':>9} {'steps':>6} {'ms/step':>8} {'Adam s':>7} {'wall s':>7}  status")
    for name, rs in runs.items():
        for seed, r in zip(args.seeds, rs):
            print(f"{name:17} {seed:4d} {r['rel_l2_u']:9.2e} {r['steps']:6d} {1e3 * r['s_per_step']:8.2f} "
                  f"{r['adam_seconds']:7.1f} {r['wall_seconds']:7.1f}  {r['status']}")
    print(f"\n{'solver':17} {'rel L2 u, median [min, max]':>31} {'steps':>6} {'ms/step':>8} {'Adam s':>7} "
          f"{'wall s':>7}")
    for name, s in summary.items():
        e = s["rel_l2_u"]
        print(f"{name:17} {e['median']:9.2e} [{e['min']:8.2e}, {e['max']:8.2e}] {s['steps']['median']:6.0f} "
              f"{1e3 * s['s_per_step']['median']:8.2f} {s['adam_seconds']['median']:7.1f} "
              f"{s['wall_seconds']['median']:7.1f}")
    if best is not None:
        print(f"best ScimBa median ({best['best_scimba']}) / pinnkit's: {best['rel_l2_u']:.3g}")


def main() -> None:
    args = arguments()
    if any(name in SCIMBA for name in args.solvers) and importlib.util.find_spec("scimba_torch") is None:
        raise SystemExit("ScimBa is not installed here: `pip install scimba==1.4.1` to compare")
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context, max_tasks_per_child=1) as pool:  # one solve at a time
        runs = {name: [pool.submit(run, args, name, seed).result() for seed in args.seeds] for name in args.solvers}
    summary = summarize(runs)
    best = ratio(summary)
    print_table(runs, summary, best, args)
    write_json(args.out, {"machine": machine(), "settings": vars(args) | {"out": str(args.out)}, "runs": runs,
                          "summary": summary, "ratio": best})


if __name__ == "__main__":
    main()
