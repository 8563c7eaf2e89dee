"""Config -> everything a solve needs: problem, network, point sets, objective, reference, phases checked.

Everything here happens before a run folder exists, so a bad problem (unknown
part, wrong field, residual of the wrong shape, NaN at initialisation, a
reference that fails) or a phase that cannot run at this size fails with one
clear line and nothing written.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Optional

import numpy as np
import torch

from . import sizing
from .adaptive import resample
from .attention import ResidualAttention
from .balancing import GradNormWeights
from .causal import CausalWeights
from .config import Config, ConfigError
from .conditions import Condition, Observation
from .geometry import Domain, Parametric
from .loss import Objective, TermGroup
from .marching import TimeMarching
from .metrics import ReferenceSet, reference_set
from .nets import NETWORKS, Constrained, LinearTaps, layer_taps
from .operators import AutogradEngine, Derivatives, JetEngine
from .optim import PHASES, ObjectiveView, PhaseOptions, Residuals, Sizes
from .point_jacobians import PointRows
from .pdes import resolve
from .problem import Problem, ProblemError
from .quantities import Quantities, Quantity
from .usercode import Code, load_class

if TYPE_CHECKING:
    from .distributed import Processes

DTYPES = {"float32": torch.float32, "float64": torch.float64}
MIN_PER_AXIS = 4  # evaluation grid points per axis below which a rel L2 error measures the corners only


@dataclass
class Setup:
    """The assembled pieces of a solve, and what the trainer does with them between and during phases."""

    config: Config
    problem: Problem
    model: torch.nn.Module
    objective: Objective
    reference: Optional[ReferenceSet]
    device: torch.device
    rng: np.random.Generator
    taps: Optional[LinearTaps] = None  # the network's linear layers, when the engine shows them every jet row
    dtype: torch.dtype = torch.float64
    causal: Optional[CausalWeights] = None  # `[loss.causal]`: the PDE points' weights in time
    balance: Optional[GradNormWeights] = None  # `[loss.balance]`: adaptive term weights
    attention: Optional[ResidualAttention] = None  # `[loss.attention]`: a multiplier per point
    marching: Optional[TimeMarching] = None  # `[time]`: the time windows (`model` is then a TimeMarched)
    window: int = 0  # the time window being trained
    conditions: list[Condition] = field(default_factory=list)  # the problem's conditions and observations
    evaluation: Optional[ReferenceSet] = None  # the whole reference; `reference` is what the history reports
    quantities: Optional[Quantities] = None  # the problem's quantities of interest, logged with the errors
    processes: Optional[Processes] = None  # the processes sharing the solve (torchrun), None for one

    def cast(self, dtype: torch.dtype) -> None:
        """Put the model, the PDE parameters, the points and the reference in `dtype` on the device (the
        parameters and points from their float64 masters)."""
        self.dtype = dtype
        for part in (self.model, self.problem, self.objective, self.reference):
            if part is not None:
                part.to(self.device, dtype)

    def parameter_groups(self) -> list[dict]:
        """Network weights unbounded; each trainable PDE parameter in its own group with its bounds."""
        groups = [{"params": list(self.objective.model.parameters())}]
        for name, value in self.problem.trainable.items():
            low, high = self.problem.bounds.get(name, (None, None))
            groups.append({"params": [value], "lower": low, "upper": high, "name": name, "weight_decay": 0.0})
        return groups

    def view(self) -> ObjectiveView:
        """The objective as phases see it: the loss, the residual vector (whole and in blocks), the layers."""
        objective, processes = self.objective, self.processes
        return ObjectiveView(lambda: objective.loss()[0],
                             Residuals(lambda: objective.residual_vector()[0], objective.residual_blocks, self.taps,
                                       PointRows(objective).jacobian, processes, processes and objective.layout),
                             processes)

    def redraw(self, options: PhaseOptions) -> None:
        """New collocation points the way the phase asks (uniform or RAD), weighted anew, in the working dtype."""
        resample(self.objective, self.rng, options.resample, options.rad_k, options.rad_c, options.rad_pool)
        self.objective.to(self.device, self.dtype)
        self.reweight()

    def enter(self, window: int) -> None:
        """Train time window `window` from now on (`[time]`): its network (the others frozen), its points and
        initial conditions, new causal and balanced weights, and the error over the times solved by its end."""
        m = self.marching
        trained = m.start(window, self.model)
        domain = m.window(window)
        groups = make_groups(self.config, self.problem, domain, m.conditions(window, self.conditions, self.model),
                             m.frozen(window, self.model))
        self.objective = Objective(trained, groups, self.problem.inputs, self.problem.fields, self.config.loss.weights,
                                   self.objective.engine, self.objective.shard)
        self.objective.sample(self.rng)
        self.taps = layer_taps(trained) if self.taps is not None else None
        self.causal, self.balance = make_causal(self.config, self.problem, domain), make_balance(self.config)
        self.reference = m.reference(window, self.evaluation)
        self.window = window
        for part in (self.objective, self.reference):
            if part is not None:
                part.to(self.device, self.dtype)
        self.first_weights()

    def first_weights(self) -> None:
        """The points' first causal weights, without moving eps, and attention multipliers of 1: the trainer's
        update at the phase's start is the first real one (checkpoints hold them from the start)."""
        if self.causal is not None:
            self.causal.update(self.objective, advance=False)
        if self.attention is not None:
            self.attention.start(self.objective)
        self.objective.to(self.device, self.dtype)

    def reweight(self) -> None:
        """Recompute the causal weights of the PDE points, the attention multipliers and the balanced term
        weights, where asked for."""
        if self.causal is not None:
            self.causal.update(self.objective)
        if self.attention is not None:
            self.attention.update(self.objective)
        self.objective.to(self.device, self.dtype)
        if self.balance is not None:
            self.balance.update(self.objective)

    def weighting_row(self) -> dict[str, float]:
        """The current causal weights, attention multipliers and balanced weights, for the history."""
        return {**(self.causal.row() if self.causal is not None else {}),
                **(self.attention.row(self.objective) if self.attention is not None else {}),
                **(self.balance.row() if self.balance is not None else {})}


def resolve_device(name: str) -> torch.device:
    """`auto` -> CUDA when present, else CPU; an unavailable CUDA is a config error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device: {name!r} requested but CUDA is not available (use 'auto' or 'cpu')")
    return torch.device(name)


def make_problem(config: Config, code: Code = Code()) -> Problem:
    """Instantiate the configured problem class (or the one given from Python) with the configured parameters."""
    try:
        cls = code.problem or resolve(config.problem.name, code.problem_file)
    except ValueError as err:
        raise ConfigError(f"problem.name: {err}") from None
    try:
        return cls(config.problem.parameters)
    except KeyError as err:
        raise ConfigError(f"problem.parameters: {err.args[0]}") from None


def make_model(config: Config, problem: Problem, domain, code: Code = Code()) -> torch.nn.Module:
    """The network of `[model]` (pinnkit's MLP, one of your own, or the one given from Python), in float64 and
    checked to map coordinates to fields, wrapped in the problem's output transform when asked."""
    m = config.model
    if code.network is not None:
        net = code.network
    elif m.name in NETWORKS:
        net = NETWORKS[m.name](len(problem.inputs), len(problem.fields), m.width, m.depth, m.activation,
                               domain.lower, domain.upper, m.fourier_features, m.fourier_scale,
                               torch.Generator().manual_seed(config.seed),
                               periodic=[problem.inputs.index(c) for c in problem.periodic])
    else:
        net = user_network(config, problem, code.network_file)
    check_network(net.to(torch.float64), problem, domain)
    if not m.hard_constraints:
        return net
    if not problem.has("output_transform"):
        raise ConfigError(f"model.hard_constraints: {type(problem).__name__} defines no output_transform")
    return Constrained(net, problem.output_transform, problem.coords, problem.fields)


def solution_model(config: Config, problem: Problem, code: Code = Code()) -> torch.nn.Module:
    """The network of a solved run as `run.load` rebuilds it: the configured one, or the time windows'."""
    domain = problem.domain()
    if config.time is None:
        return make_model(config, problem, points_domain(problem, domain), code)
    marching = TimeMarching.of(config, problem, domain, problem.conditions())
    return marching.model(lambda window: make_model(config, problem, window, code), code.network)


def user_network(config: Config, problem: Problem, source: Optional[Path] = None) -> torch.nn.Module:
    """`Class(inputs, outputs, **model.options)` of `model.name`, initialised from the run's seed."""
    m = config.model
    if m.name == "given":
        raise ConfigError(f"model.name: the network of this run was given from Python ({m.options.get('class')}); "
                          f"pass it again (model=...)")
    try:
        cls = load_class(m.name, torch.nn.Module, "network", source)
    except ValueError as err:
        raise ConfigError(f"model.name: {err}") from None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        try:
            return cls(len(problem.inputs), len(problem.fields), **m.options)
        except Exception as err:  # a user's code: one line
            raise ConfigError(f"model: {cls.__name__}({len(problem.inputs)}, {len(problem.fields)}, "
                              f"**model.options) failed: {_one_line(err)}") from None


def check_network(net: torch.nn.Module, problem: Problem, domain) -> None:
    """The network must map (N, inputs) points (coordinates, then ranged parameters) to (N, fields) outputs:
    try it at two points."""
    if not isinstance(net, torch.nn.Module):
        raise ConfigError(f"model: a network must be a torch.nn.Module, got {type(net).__name__}")
    x = torch.as_tensor(np.stack([domain.lower, domain.upper]), dtype=torch.float64)
    try:
        with torch.no_grad():
            out = net(x)
    except Exception as err:  # a user's code: one line
        raise ConfigError(f"model: {type(net).__name__} fails on (2, {x.shape[1]}) points: {_one_line(err)}") from None
    if not torch.is_tensor(out) or tuple(out.shape) != (2, len(problem.fields)):
        shape = tuple(out.shape) if torch.is_tensor(out) else type(out).__name__
        raise ConfigError(f"model: {type(net).__name__} maps (2, {x.shape[1]}) points to {shape}, expected "
                          f"(2, {len(problem.fields)}): one column per field {problem.fields}")


COMPILE_PAYS = 2000  # iterations: compiling costs 10-35 s per dtype (a few s from torch's disk cache) and saves
                     # 10-100 ms a step at 10,000 points on a 2-core CPU (README, Performance)


def make_engine(config: Config, compile: bool = True) -> Callable[..., Derivatives]:
    """The `[model]` derivative engine; with `compile = "auto"` the jets are compiled when the phases'
    iteration budget is at least COMPILE_PAYS and every phase may run compiled (`Phase.compilable`).
    `compile=False` gives the eager engine whatever the config."""
    m = config.model
    if m.engine == "autograd":
        return AutogradEngine()
    pays = sum(p.iterations for p in config.phases) >= COMPILE_PAYS and config.compilable
    return JetEngine(compile=compile and (pays if m.compile == "auto" else m.compile), cuda_graphs=m.cuda_graphs)


Frozen = Callable[[tuple[str, ...]], Callable[[np.ndarray], dict[str, np.ndarray]]]


def _condition_group(cond: Condition, problem: Problem, domain, n: int, sampler: str,
                     frozen: Optional[Frozen]) -> TermGroup:
    def residuals(d, batch):
        with problem.bound(d):
            return {cond.name: cond.residual(d, batch, problem.coords, problem.fields)}

    derivatives = cond.derivatives(problem.coords, problem.fields)
    return TermGroup(sample=lambda rng: cond.sample(domain, n, sampler, rng), derivatives=derivatives,
                     residuals=residuals, owner=f"condition {cond.name!r}", label=cond.name,
                     resample=cond.points_key is not None, pointwise=cond.pointwise,
                     extend=frozen(derivatives) if frozen is not None else None)


def make_observations(config: Config, problem: Problem) -> list[Condition]:
    """The `[data]` file as the `data` term, with its noise drawn from the run's seed (none without `[data]`)."""
    if config.data is None:
        return []
    if problem.ranges:
        name = next(iter(problem.ranges))
        raise ConfigError(f"data.file: observations cannot be used with a ranged parameter (problem.parameters."
                          f"{name}.range): they hold no {name} column")
    try:
        return [Observation.from_file(config.data.file, problem.coords, problem.fields, config.data.noise,
                                      np.random.default_rng(config.seed))]
    except ValueError as err:
        raise ConfigError(f"data.file: {err}") from None


def make_groups(config: Config, problem: Problem, domain, conditions: list[Condition],
                frozen: Optional[Frozen] = None) -> list[TermGroup]:
    """The PDE terms on interior points, then one group per condition not imposed exactly (the data last).
    `frozen(derivatives)`: the columns of a frozen part of the solution at given points (a time window's)."""
    p, derivatives = config.points, tuple(problem.derivatives)
    groups = [TermGroup(sample=lambda rng: {"points": domain.sample_interior(p.interior, p.sampler, rng)},
                        derivatives=derivatives, residuals=lambda d, batch: pde_residuals(problem, d),
                        owner=type(problem).__name__, adaptive=True,
                        extend=frozen(derivatives) if frozen is not None else None)]
    skip = problem.hard_constrained if config.model.hard_constraints else ()
    for cond in conditions:
        try:
            cond.bind(problem)
            cond.check(domain, problem.coords, problem.fields)
        except ValueError as err:
            raise ProblemError(f"{type(problem).__name__}: {err}") from None
        if cond.name not in skip:
            n = getattr(p, cond.points_key) if cond.points_key else 0
            groups.append(_condition_group(cond, problem, domain, n, p.sampler, frozen))
    return groups


def pde_residuals(problem: Problem, d: Derivatives) -> dict[str, Any]:
    """The problem's residuals at the points of `d`, its ranged parameters bound to their columns there."""
    with problem.bound(d):
        return problem.residuals(d)


def points_domain(problem: Problem, domain: Domain) -> Domain:
    """Where the points are drawn: the domain, times the box of the ranged parameters for a parametric problem."""
    if not problem.ranges:
        return domain
    low, high = zip(*problem.ranges.values())
    return Parametric(domain, low, high)


def user_conditions(problem: Problem) -> list[Condition]:
    """The problem's `conditions()`, checked to be a list of conditions."""
    found = _user_call(problem, problem.conditions)
    if not isinstance(found, (list, tuple)) or not all(isinstance(c, Condition) for c in found):
        got = type(found).__name__ if not isinstance(found, (list, tuple)) else \
            f"a {type(found).__name__} holding {', '.join(sorted({type(c).__name__ for c in found}))}"
        raise ProblemError(f"{type(problem).__name__}.conditions() must return a list of conditions (Dirichlet, "
                           f"Neumann, Periodic, Initial, ...), got {got}")
    return list(found)


def make_quantities(problem: Problem, domain: Domain, model: torch.nn.Module) -> Optional[Quantities]:
    """The problem's `quantities()`, each checked and evaluated once on the model (None when it declares none);
    a failing one is a ProblemError naming it."""
    if not problem.has("quantities"):
        return None
    found, name = _user_call(problem, problem.quantities), type(problem).__name__
    if not isinstance(found, Mapping) or not all(isinstance(q, Quantity) for q in found.values()):
        raise ProblemError(f"{name}.quantities() must return a dict of name -> quantity (BoundaryIntegral, "
                           f"PointValue, LineRoot, Derived), got {type(found).__name__}")
    quantities = Quantities(found, problem, domain)
    for key in found:
        if not (isinstance(key, str) and key.isidentifier()):
            raise ProblemError(f"{name}.quantities(): {key!r} is not a valid name (a Python identifier: it becomes "
                               f"the history column q_{key})")
        try:
            quantities.check(key)
            quantities.values(model, (key,))
        except Exception as err:  # a user's code: one line
            raise ProblemError(f"{name}: quantity {key!r} failed: {_one_line(err)}") from None
    return quantities


def user_domain(problem: Problem) -> Domain:
    """The problem's `domain()`, checked to be a domain with one dimension per coordinate."""
    domain = _user_call(problem, problem.domain)
    name = type(problem).__name__
    if not isinstance(domain, Domain):
        raise ProblemError(f"{name}.domain() must return a domain (Interval, Rectangle, Box, Polygon, Disk, Ball, "
                           f"Annulus, their unions, differences and intersections, or one of "
                           f"them times a TimeInterval), got {type(domain).__name__}")
    if domain.dim != len(problem.coords):
        raise ProblemError(f"{name}: domain has {domain.dim} dimensions but coords are {problem.coords}")
    return domain


def _user_call(problem: Problem, method: Callable[[], Any]) -> Any:
    """Call one of the problem's own methods; its error becomes a ProblemError naming the problem and the method."""
    try:
        return method()
    except Exception as err:  # a user's code: report it in one line
        raise ProblemError(f"{type(problem).__name__}.{method.__name__}() failed: {_one_line(err)}") from None


def _one_line(err: Exception) -> str:
    """An exception as `Type: first line of its message`."""
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0] if lines else ''}"


@contextmanager
def saved_for_backward() -> Iterator[dict[int, int]]:
    """While open, the storages autograd saves for backward passes: data pointer -> bytes (each counted once)."""
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        yield storages


def check_terms(objective: Objective, problem: Problem, config: Config) -> tuple[int, int]:
    """Evaluate every term once: shapes, names, weights and finiteness, before any training; the number of
    residual entries, and the bytes autograd keeps for one evaluation of them all."""
    name, seen, entries = type(problem).__name__, [], 0
    with saved_for_backward() as saved:
        evaluated = [(g, _group_residuals(objective, problem, g)) for g in objective.groups]
    for g, residuals in evaluated:
        n = len(g.arrays["points"])
        if not isinstance(residuals, dict) or not residuals:
            got = "an empty dict" if isinstance(residuals, dict) else type(residuals).__name__
            raise ProblemError(f"{name}: the residuals of {g.owner} must be a dict of term name -> tensor, "
                               f"got {got}")
        for term, r in residuals.items():
            if term in seen:
                raise ProblemError(f"{name}: two loss terms are named {term!r}")
            if not torch.is_tensor(r) or r.dim() not in (1, 2) or r.shape[0] != n:
                shape = tuple(r.shape) if torch.is_tensor(r) else type(r).__name__
                raise ProblemError(f"{name}: residual {term!r} has shape {shape}, expected ({n},) or ({n}, k)")
            if not torch.isfinite(r).all():
                raise ProblemError(f"{name}: residual {term!r} is not finite at initialisation")
            seen.append(term)
            entries += r.numel()
    for term in config.loss.weights:
        if term not in seen:
            raise ConfigError(f"loss.weights.{term}: no such loss term (terms: {', '.join(seen)})")
    return entries, sum(saved.values())


def _group_residuals(objective: Objective, problem: Problem, g: TermGroup) -> Any:
    """One group's residuals as the problem returns them; its failure is a ProblemError naming the group."""
    try:
        d = objective.engine(objective.model, g.batch["points"], objective.coords, problem.fields,
                             g.derivatives, g.owner)
        return g.residuals(d, g.batch)
    except Exception as err:  # a user's code (residuals, a condition's value): report it in one line
        raise ProblemError(f"{type(problem).__name__}: evaluating the residuals of {g.owner} failed: "
                           f"{_one_line(err)}") from None


def check_phases(config: Config, sizes: Sizes, processes: int = 1) -> None:
    """Every phase checks that it can run at these sizes (`Phase.validate`: memory, network), before training;
    on several processes, each must be one that runs there (`Phase.distributed`)."""
    for i, options in enumerate(config.phases):
        if processes > 1 and not PHASES[options.optimizer].distributed:
            raise ConfigError(f"phases[{i}].optimizer: {options.optimizer} runs on one process only, and this solve "
                              f"has {processes}; run it without torchrun (or with one process)")
        try:
            PHASES[options.optimizer](options).validate(sizes)
        except ValueError as err:
            raise ProblemError(f"phases[{i}] ({options.optimizer}): {err}") from None


def build(config: Config, code: Code = Code(), processes: Optional[Processes] = None) -> Setup:
    """Everything the trainer needs, checked, on the configured device (float64 until a phase casts).
    `code`: classes given from Python, or the copies of the user's files a run folder keeps. `processes`:
    the processes sharing the solve (each builds the same and evaluates its share of the points)."""
    device = resolve_device(config.device) if processes is None else processes.device(config.device)
    check_shared(config, processes)
    problem = make_problem(config, code)
    domain = user_domain(problem)
    sizing.check(config, len(problem.inputs), len(problem.fields))
    if problem.has("reference") and config.points.evaluation < MIN_PER_AXIS ** domain.dim:
        raise ConfigError(f"points.evaluation: {config.points.evaluation} points make a grid of fewer than "
                          f"{MIN_PER_AXIS} per axis on this {domain.dim}-dimensional domain; use at least "
                          f"{MIN_PER_AXIS ** domain.dim}")
    space = points_domain(problem, domain)
    conditions = user_conditions(problem) + make_observations(config, problem)
    marching = TimeMarching.of(config, problem, domain, conditions) if config.time is not None else None
    if marching is None:
        model = trained = make_model(config, problem, space, code).to(device)
    else:
        model = marching.model(lambda window: make_model(config, problem, window, code), code.network).to(device)
        trained, space = marching.start(0, model), marching.window(0)
    objective = Objective(trained, make_groups(config, problem, space, conditions), problem.inputs, problem.fields,
                          config.loss.weights, make_engine(config, compile=False))  # eager for the checks
    rng = np.random.default_rng(config.seed)
    objective.sample(rng)
    problem.to(device, torch.float64)
    objective.to(device, torch.float64)
    entries, graph = check_terms(objective, problem, config)
    taps = layer_taps(trained) if config.model.engine == "jet" else None  # autograd shows no derivative rows
    trainable = sum(p.numel() for p in [*trained.parameters(), *problem.trainable.values()])
    check_phases(config, Sizes(entries, trainable, taps is not None, graph), processes.size if processes else 1)
    if processes is not None:  # checked on every point; from now on each process evaluates its share
        objective.shard = processes.shard
        objective.to(device, torch.float64)
    objective.engine = make_engine(config)
    reference = reference_set(problem, domain, config.points.evaluation) if problem.has("reference") else None
    quantities = make_quantities(problem, domain, model)
    setup = Setup(config, problem, model, objective, marching.reference(0, reference) if marching else reference,
                  device, rng, taps, causal=make_causal(config, problem, space), balance=make_balance(config),
                  attention=make_attention(config), marching=marching, conditions=conditions, evaluation=reference,
                  quantities=quantities, processes=processes)
    setup.first_weights()
    return setup


def check_shared(config: Config, processes: Optional[Processes]) -> None:
    """Refuse what several processes cannot share yet: balanced weights (they need each term's gradient)."""
    if processes is not None and config.loss.balance is not None:
        raise ConfigError(f"loss.balance: the balanced weights need each term's whole gradient, which "
                          f"{processes.size} processes do not share yet; remove [loss.balance] or use one process")


def make_attention(config: Config) -> Optional[ResidualAttention]:
    """The residual-based attention `[loss.attention]` asks for."""
    a = config.loss.attention
    return ResidualAttention(a.gamma, a.eta) if a is not None else None


def make_balance(config: Config) -> Optional[GradNormWeights]:
    """The adaptive term weights `[loss.balance]` asks for."""
    b = config.loss.balance
    return GradNormWeights(config.loss.weights, b.alpha, b.scheme, b.trace_points) if b is not None else None


def make_causal(config: Config, problem: Problem, domain: Domain) -> Optional[CausalWeights]:
    """The causal weights `[loss.causal]` asks for; a ConfigError for a problem without a time coordinate."""
    c = config.loss.causal
    if c is None:
        return None
    if not hasattr(domain, "time"):
        raise ConfigError(f"loss.causal: weights the PDE residual in time, and {type(problem).__name__} has no "
                          f"time coordinate (its domain is not a space-time domain)")
    return CausalWeights(c.chunks, c.eps, c.tol, domain.time.t0, domain.time.t1, len(problem.coords) - 1)
