"""TOML -> validated, frozen `Config`, with `--set key.path=value` overrides.

Validation happens once, here: unknown keys are errors, every error names its
key path (`phases[1].iterations: must be > 0, got -5`), and nothing deeper
re-checks or reads raw dicts.
"""
from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import catalog
from .nets import NETWORKS
from .optim import PHASES, PhaseOptions


MAX_COMBINATIONS = 256  # of ranged parameter values at which the error is evaluated


class ConfigError(ValueError):
    """A bad configuration: the message is one line naming the file, key path and value."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class ParameterSpec(_Section):
    """A PDE parameter as a table: its value, optional box bounds, trainable or not, the true value where
    known (identification studies: the reference uses it, the summary reports the error), or a range
    over which it becomes an input of the network (a parametric problem)."""

    init: float = Field(description="the value (the starting value of a trainable parameter; for a ranged one, "
                                    "the value plots and `predict` use by default: the middle of the range)")
    bounds: Optional[list[float]] = Field(None, min_length=2, max_length=2, description="[low, high] a trainable "
                                          "parameter stays within")
    trainable: bool = Field(False, description="identify it with the network (an inverse problem)")
    true: Optional[float] = Field(None, description="the value the data were made with, where known: the reference "
                                                    "uses it and the summary reports the error")
    range: Optional[list[float]] = Field(None, min_length=2, max_length=2, description="[low, high]: the parameter "
                                         "becomes an input of the network, drawn with every point, so one trained "
                                         "network answers for every value in the range")
    evaluate: Optional[list[float]] = Field(None, min_length=1, max_length=64, description="values of a ranged "
                                            "parameter at which the error is reported, each on its own (default: 5 "
                                            "evenly spaced over the range, ends included)")

    @model_validator(mode="before")
    @classmethod
    def _from_number(cls, value: Any) -> Any:
        """`nu = 0.01` is shorthand for `nu = {init = 0.01}`; a range without `init` starts in its middle."""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return {"init": value}
        span = value.get("range") if isinstance(value, dict) and "init" not in value else None
        if isinstance(span, list) and len(span) == 2 and \
                all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in span):
            return {**value, "init": (span[0] + span[1]) / 2}
        return value

    @model_validator(mode="after")
    def _check_bounds(self) -> "ParameterSpec":
        if self.bounds is not None:
            low, high = self.bounds
            if low > high:
                raise ValueError(f"bounds must have low <= high, got [{low}, {high}]")
            if not low <= self.init <= high:
                raise ValueError(f"init {self.init} lies outside bounds [{low}, {high}]")
        if self.range is None:
            if self.evaluate is not None:
                raise ValueError("evaluate: values of a parameter given a range; this one has none")
            return self
        low, high = self.range
        if not low < high:
            raise ValueError(f"range must have low < high, got [{low}, {high}]")
        if self.trainable or self.bounds is not None or self.true is not None:
            raise ValueError("a ranged parameter is an input of the network: it cannot also be trainable or have "
                             "bounds or a true value")
        for value in [self.init, *(self.evaluate or [])]:
            if not low <= value <= high:
                raise ValueError(f"{value} lies outside range [{low}, {high}]")
        return self

    @property
    def evaluated(self) -> list[float]:
        """The values of a ranged parameter at which the error is reported."""
        if self.range is None:
            return []
        low, high = self.range
        return list(self.evaluate) if self.evaluate else [low + (high - low) * k / 4 for k in range(5)]


class ProblemSection(_Section):
    """`[problem]`: which problem, and its parameters."""

    name: str = Field(description='a shipped case, "path/to/file.py:Class" or "module:Class"')
    parameters: dict[str, ParameterSpec] = Field({}, description="the problem's parameters by name: a number, or "
                                                  "a table {init, bounds, trainable, true} or {range, evaluate}")


class DataSection(_Section):
    """Observations as a loss term `data`: a file whose columns are named after coordinates and fields."""

    file: str = Field(description=".npz or .csv; a relative path is relative to the TOML file")
    noise: float = Field(0.0, ge=0, description="Gaussian noise added, as a fraction of each field's "
                                                "standard deviation (seeded by `seed`)")


class PointsSection(_Section):
    """`[points]`: how many points each term gets, and how they are drawn."""

    interior: int = Field(10000, gt=0, le=10**9, description="collocation points of the PDE in the domain")
    boundary: int = Field(200, gt=0, le=10**9, description="points per boundary condition")
    initial: int = Field(200, gt=0, le=10**9, description="points per initial condition")
    sampler: Literal["sobol", "lhs", "uniform"] = Field("sobol", description="how points are drawn: scrambled "
                                                        "Sobol, Latin hypercube or uniform")
    evaluation: int = Field(10000, ge=16, le=10**9, description="fixed grid for the reference error")


class ModelSection(_Section):
    """`[model]`: the network and how its derivatives are computed."""

    name: str = Field("mlp", description='"mlp" or "modified_mlp" (pinnkit\'s), or a network of your own: '
                      '"path/to/file.py:Class" '
                      'or "module:Class", a torch.nn.Module built as Class(inputs, outputs, **options); '
                      '"given": one given from Python (`solve(..., model=net)`)')
    options: dict[str, Any] = Field({}, description="keyword arguments of a network of your own")
    width: int = Field(20, gt=0, le=2**16, description="units per hidden layer")
    depth: int = Field(4, gt=0, le=1000, description="number of hidden layers")
    activation: Literal["tanh", "sin", "gelu", "silu"] = Field("tanh", description="of the hidden layers")
    fourier_features: int = Field(0, ge=0, le=2**16, description="random Fourier features (0: none)")
    fourier_scale: float = Field(1.0, gt=0, description="standard deviation of the Fourier frequencies, in units "
                                                        "of the domain scaled to [-1, 1]")
    hard_constraints: bool = Field(False, description="impose the problem's exact conditions by an output transform")
    engine: Literal["autograd", "jet"] = Field("jet", description="derivatives: nested autograd, or forward jets "
                                               "(MLP up to second order; anything else falls back to autograd)")
    compile: Union[bool, Literal["auto"]] = Field("auto", description="torch.compile the jets; auto: when the "
                                                  "phases' iteration budget repays the compile time")
    cuda_graphs: bool = Field(False, description="on CUDA, replay the compiled jets as CUDA graphs (not yet "
                                                 "measured on a GPU: off by default)")

    @model_validator(mode="after")
    def _check_network(self) -> "ModelSection":
        if self.name not in (*NETWORKS, "given") and ":" not in self.name:
            raise ValueError(f'model.name: {" or ".join(map(repr, NETWORKS))}, or "path/to/file.py:Class" or '
                             f'"module:Class" for a network of your own, got {_show(self.name)}')
        if self.name in NETWORKS and self.options:
            raise ValueError(f"model.options: keyword arguments for a network of your own (model.name); pinnkit's "
                             f"{self.name} takes width, depth, activation, ...")
        return self

    @field_validator("compile", mode="before")
    @classmethod
    def _check_compile_value(cls, value: Any) -> Any:
        """One message naming `model.compile` and its three values (not one per member of the union)."""
        if value is True or value is False or value == "auto":
            return value
        raise ValueError(f'must be true, false or "auto", got {_show(value)}')


class CausalSection(_Section):
    """`[loss.causal]`: causal training of a space-time problem (Wang, Sankaran & Perdikaris 2024)."""

    chunks: int = Field(32, ge=2, le=4096, description="time chunks; chunk i's PDE residual weighs "
                                                       "exp(-eps * the summed losses of the chunks before it)")
    eps: list[Annotated[float, Field(gt=0)]] = Field([0.01, 0.1, 1.0, 10.0, 100.0], min_length=1,
                                                     description="the eps schedule, increasing")
    tol: float = Field(0.99, gt=0, lt=1, description="move to the next eps once every chunk weighs more than this")

    @field_validator("eps")
    @classmethod
    def _increasing(cls, value: list[float]) -> list[float]:
        if any(b <= a for a, b in zip(value, value[1:])):
            raise ValueError(f"must increase, got {value}")
        return value


class BalanceSection(_Section):
    """`[loss.balance]`: adaptive term weights that balance the terms' gradient norms (Wang et al. 2021)."""

    scheme: Literal["grad_norm", "ntk"] = Field("grad_norm", description="balance the terms' gradient norms, or "
                                                "the mean diagonals of their neural tangent kernels")
    alpha: float = Field(0.9, ge=0, lt=1, description="moving average of the weights: the share the old one keeps")
    trace_points: int = Field(256, ge=1, le=1_000_000, description="`ntk` where per-point Jacobian rows do not "
                              "apply (other networks, transforms not affine in the network's outputs): the points "
                              "of each set its traces are taken at, evenly spread (batched backward passes cost "
                              "the square of the points)")


class AttentionSection(_Section):
    """`[loss.attention]`: residual-based attention (Anagnostopoulos et al. 2024), a multiplier per point."""

    gamma: float = Field(0.999, gt=0, lt=1, description="the share of its old value a multiplier keeps at "
                                                        "each update")
    eta: float = Field(0.01, gt=0, description="the step toward |r| / max |r| at each update")


class LossSection(_Section):
    """`[loss]`: the weight of each term, causal weights in time, and adaptive term weights."""

    weights: dict[str, Annotated[float, Field(ge=0)]] = Field({}, description="weight per loss term, by the "
                                                              "term's name (default 1): pde, bc, ic, data, ...")
    causal: Optional[CausalSection] = Field(None, description="weight the PDE residual causally in time "
                                            "(updated at each phase's start, at point redraws and every "
                                            "`reweight_every` iterations of a phase)")
    attention: Optional[AttentionSection] = Field(None, description="multiply each point's residual by a "
                                                  "multiplier that grows where it stays large (updated when the "
                                                  "causal weights are)")
    balance: Optional[BalanceSection] = Field(None, description="multiply each term's weight by sum_j |grad L_j| "
                                              "/ |grad L_k| (or the NTK traces' ratio), updated when the causal "
                                              "weights are")


class TimeSection(_Section):
    """`[time]`: time-marching. The time range is cut into windows trained one after another, every phase
    in each; a window's initial values are the previous window's final ones."""

    slabs: Optional[int] = Field(None, ge=1, le=1000, description="this many windows of equal length")
    boundaries: Optional[list[float]] = Field(None, min_length=2, max_length=1001, description="or the window "
                                              "boundaries, increasing, from the domain's t0 to its t1")
    warm_start: bool = Field(True, description="each window's network starts from the previous window's "
                                               "weights (else from the seed's initialisation)")

    @model_validator(mode="after")
    def _one_way(self) -> "TimeSection":
        if (self.slabs is None) == (self.boundaries is None):
            raise ValueError("give either slabs (a number of equal windows) or boundaries (their edges), "
                             "not both and not neither")
        edges = self.boundaries or []
        if any(b <= a for a, b in zip(edges, edges[1:])):
            raise ValueError(f"boundaries must increase, got {edges}")
        return self

    @property
    def windows(self) -> int:
        """How many windows."""
        return self.slabs if self.slabs is not None else len(self.boundaries) - 1


class OutputSection(_Section):
    """`[output]`: where runs go, and how often they are logged and checkpointed."""

    dir: str = Field("runs", description="where run folders are made, as <case>-<time>")
    log_every: int = Field(100, gt=0, description="a history row, the progress bar and the divergence check "
                                                  "every k iterations")
    checkpoint_every: int = Field(500, ge=0, description="write checkpoint.pt every k iterations (0: only at "
                                                         "phase boundaries), to resume after a stop or a crash")
    loggers: list[Literal["tensorboard", "mlflow"]] = Field([], description="where history rows go besides "
                                                            "history.csv (each an optional extra)")


class SweepSection(_Section):
    """What `pinnkit sweep` varies (`solve` ignores it): the product of `grid`, the zip `cases`, times `seeds`."""

    grid: dict[str, Annotated[list[Any], Field(min_length=1)]] = Field({}, description="key path -> values; "
                                                                       "the sweep runs their product")
    cases: list[Annotated[dict[str, Any], Field(min_length=1)]] = Field([], description="explicit cases, each a "
                                                                        "table of key path -> value")
    seeds: list[Annotated[int, Field(ge=0)]] = Field([], description="every case is run with each seed")


PhaseConfig = Annotated[Union[tuple(cls.Options for cls in PHASES.values())], Field(discriminator="optimizer")]


class Config(_Section):
    """A whole, validated configuration (frozen): what `load` returns and `pinnkit.solve` takes."""

    seed: int = Field(0, ge=0, lt=2**63, description="seeds the network, the points and every random draw: same "
                                                  "config, same machine, same history")
    max_memory_gb: float = Field(16.0, gt=0, description="refuse, before allocating, a problem whose points, "
                                 "network and one evaluation would need more memory than this")
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$", description="auto: CUDA when there is "
                        "one; cpu, cuda or cuda:N")
    dtype: Literal["float32", "float64"] = Field("float32", description="of the phases that name none")
    problem: ProblemSection
    data: Optional[DataSection] = None
    points: PointsSection = PointsSection()
    model: ModelSection = ModelSection()
    phases: list[PhaseConfig] = Field(min_length=1)
    loss: LossSection = LossSection()
    time: Optional[TimeSection] = None
    output: OutputSection = OutputSection()
    sweep: Optional[SweepSection] = None

    @property
    def compilable(self) -> bool:
        """Whether every phase lets the derivative engine run compiled (`Phase.compilable`)."""
        return all(PHASES[p.optimizer].compilable for p in self.phases)

    @property
    def schedule(self) -> list[tuple[int, PhaseOptions]]:
        """The phases as they run: (window, options), every phase once per time window (`[time]`)."""
        return [(w, p) for w in range(self.time.windows if self.time else 1) for p in self.phases]

    @model_validator(mode="after")
    def _check_combinations(self) -> "Config":
        """The error is evaluated at every combination of the ranged parameters' values: bound their number."""
        counts = [len(p.evaluated) for p in self.problem.parameters.values() if p.range is not None]
        if math.prod(counts) > MAX_COMBINATIONS:
            raise ValueError(f"problem.parameters: the evaluated values of the ranged parameters make "
                             f"{' x '.join(map(str, counts))} = {math.prod(counts)} combinations, each a whole "
                             f"evaluation grid; at most {MAX_COMBINATIONS} (set fewer `evaluate` values)")
        return self

    @model_validator(mode="after")
    def _check_compile(self) -> "Config":
        """torch.compile'd code cannot be differentiated twice: not nested autograd, not under a phase that
        differentiates through the derivative engine again."""
        if self.model.compile is not True:
            return self
        if self.model.engine != "jet":
            raise ValueError('model.compile = true needs model.engine = "jet"; use compile = "auto" or false')
        for i, p in enumerate(self.phases):
            if not PHASES[p.optimizer].compilable:
                raise ValueError(f"model.compile = true: phases[{i}] ({p.optimizer}) differentiates through the "
                                 f"derivative engine again, which compiled code cannot; use compile = \"auto\" "
                                 f"or false")
        return self

    def to_toml(self) -> str:
        """The resolved configuration (defaults filled in) as TOML."""
        return tomli_w.dumps(self.model_dump(exclude_none=True))


def load(source: Union[str, Path, dict], overrides: tuple[str, ...] = (),
         values: Optional[dict[str, Any]] = None) -> Config:
    """Read a TOML file, a shipped case by name (`burgers`: see `pinnkit list`) or take a dict, apply
    `key.path=value` overrides, then `values` (key path -> a Python value), validate."""
    if not isinstance(source, dict):
        source = catalog.locate(source)
    where = str(source) if not isinstance(source, dict) else "<config>"
    raw = _read(Path(source)) if not isinstance(source, dict) else dict(source)
    for item in overrides:
        apply_override(raw, item)
    if not isinstance(source, dict):
        _anchor_paths(raw, Path(source).parent)
    for path, value in (values or {}).items():
        set_value(raw, path, value)
    try:
        return Config.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(f"{where}: {describe(err.errors()[0])}") from None
    except RecursionError:
        raise ConfigError(f"{where}: tables or arrays nested too deeply") from None


def _read(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file, and no shipped case of that name (pinnkit list)") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a TOML file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: invalid TOML: {err}") from None
    except RecursionError:
        raise ConfigError(f"{path}: invalid TOML: tables or arrays nested too deeply") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot be read ({err.strerror})") from None


def _anchor_paths(raw: dict, base: Path) -> None:
    """Make relative `file.py:Class` problem and network paths and a relative data file relative to the TOML
    file's folder."""
    for section in ("problem", "model"):
        name = raw.get(section, {}).get("name") if isinstance(raw.get(section), dict) else None
        if isinstance(name, str) and ".py:" in name:
            file, cls = name.rsplit(":", 1)
            if not Path(file).is_absolute():
                raw[section]["name"] = f"{(base / file).resolve()}:{cls}"
    data = raw.get("data", {}).get("file") if isinstance(raw.get("data"), dict) else None
    if isinstance(data, str) and not Path(data).is_absolute():
        raw["data"]["file"] = str((base / data).resolve())


_STEP = re.compile(r"([A-Za-z_][\w-]*)((?:\[\d+\])*)")


def _split(path: str) -> list[Union[str, int]]:
    """`phases[0].lr` -> ["phases", 0, "lr"]; a malformed path raises ConfigError."""
    keys: list[Union[str, int]] = []
    for part in path.split("."):
        m = _STEP.fullmatch(part)
        if not m:
            raise ConfigError(f"--set {path}: malformed key path (expected e.g. phases[0].lr)")
        keys.append(m.group(1))
        keys += [int(i) for i in re.findall(r"\[(\d+)\]", m.group(2))]
    return keys


def _parse_value(text: str) -> Any:
    """A TOML value (`1e-3`, `true`, `[1, 2]`, `"a"`); a bare word stays a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except (tomllib.TOMLDecodeError, RecursionError):
        return text


def apply_override(raw: dict, item: str) -> None:
    """Apply one `key.path=value` override to the raw TOML dict, in place."""
    if not item.isprintable():
        raise ConfigError(f"--set {item!r}: contains a control character (newline, tab, ...)")
    if "=" not in item:
        raise ConfigError(f"--set {item}: expected key.path=value")
    path, text = (s.strip() for s in item.split("=", 1))
    set_value(raw, path, _parse_value(text))


def set_value(raw: dict, path: str, value: Any) -> None:
    """Set the key path `phases[0].lr` of the raw TOML dict to `value`, creating missing tables, in place."""
    keys = _split(path)
    node: Any = raw
    for i, key in enumerate(keys[:-1]):
        nxt = {} if isinstance(keys[i + 1], str) else []
        node = _child(node, key, nxt, path)
    last = keys[-1]
    if isinstance(last, int):
        _check_index(node, last, path)
    elif not isinstance(node, dict):
        raise ConfigError(f"--set {path}: {_render(keys[:-1])} is not a table")
    if keys[0] == "phases" and len(keys) == 3 and last == "optimizer" and value in PHASES:
        _drop_keys_not_of(node, value)
    node[last] = value


def _drop_keys_not_of(phase: dict, optimizer: str) -> None:
    """Switching a phase's optimizer (`phases[1].optimizer=lm`) drops the keys the new one does not take, such
    as an L-BFGS-B `history_size` under `adam`: they belonged to the optimizer replaced. The keys it does take
    (iterations, dtype, resampling, ...) stay."""
    if phase.get("optimizer") == optimizer:
        return
    known = PHASES[optimizer].Options.model_fields
    for key in [k for k in phase if k not in known]:
        del phase[key]


def _child(node: Any, key: Union[str, int], default: Any, path: str) -> Any:
    if isinstance(key, int):
        _check_index(node, key, path)
        return node[key]
    if not isinstance(node, dict):
        raise ConfigError(f"--set {path}: cannot index a {type(node).__name__} with '{key}'")
    return node.setdefault(key, default)


def _check_index(node: Any, index: int, path: str) -> None:
    if not isinstance(node, list) or index >= len(node):
        size = len(node) if isinstance(node, list) else 0
        raise ConfigError(f"--set {path}: index {index} out of range (the list has {size} entries)")


def _render(loc: tuple | list) -> str:
    """("phases", 1, "lr") -> "phases[1].lr"."""
    out = ""
    for part in loc:
        part = part if isinstance(part, int) or str(part).isprintable() else repr(part)  # keep it one line
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


def _clean_loc(loc: tuple) -> tuple:
    """Drop the optimizer tag pydantic puts in a phase's path: ("phases", 1, "adam", "lr") -> ("phases", 1, "lr")."""
    return loc[:2] + loc[3:] if len(loc) > 2 and loc[0] == "phases" else loc


def describe(error: dict) -> str:
    """One pydantic error -> `key.path: what was expected, got VALUE`."""
    loc = _clean_loc(error["loc"])
    kind, ctx, value = error["type"], error.get("ctx", {}), error.get("input")
    if kind == "extra_forbidden":
        return f"{_render(loc)}: unknown key"
    if kind == "missing":
        return f"{_render(loc)}: required key is missing"
    if kind == "union_tag_invalid":
        return f"{_render(loc)}.optimizer: unknown optimizer {ctx.get('tag')!r} (valid: {ctx.get('expected_tags')})"
    if kind == "value_error":
        said = ctx.get("error", error["msg"])
        return f"{_render(loc)}: {said}" if loc else str(said)
    if kind in ("model_type", "dict_type") and loc[:2] == ("problem", "parameters"):
        return f"{_render(loc)}: must be a number or a table {{init, bounds, trainable, true}}, got {_show(value)}"
    if kind == "union_tag_not_found":
        return f"{_render(loc)}: a phase needs an 'optimizer' key (valid: {', '.join(PHASES)})"
    return f"{_render(loc)}: {_expected(kind, ctx, error['msg'])}, got {_show(value)}"


def _expected(kind: str, ctx: dict, msg: str) -> str:
    bounds = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}
    if kind in bounds:
        op = next(k for k in ("gt", "ge", "lt", "le") if k in ctx)
        return f"must be {bounds[kind]} {ctx[op]}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "must be an integer"
    if kind in ("float_type", "float_parsing"):
        return "must be a number"
    if kind == "finite_number":
        return "must be a finite number"
    if kind == "bool_type":
        return "must be true or false"
    if kind == "string_type":
        return "must be a string"
    if kind in ("model_type", "dict_type"):
        return "must be a table"
    if kind == "list_type":
        return "must be a list"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}"
    if kind == "string_pattern_mismatch":
        return "must be 'auto', 'cpu', 'cuda' or 'cuda:N'"
    return msg[0].lower() + msg[1:] if msg else kind


def _show(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def first_difference(now: Any, then: Any, where: str = "") -> str:
    """`key.path: NOW, was THEN` for the first value that differs between two dumped configs."""
    if isinstance(now, dict) and isinstance(then, dict):
        for key in list(now) + [k for k in then if k not in now]:
            if now.get(key) != then.get(key):
                return first_difference(now.get(key), then.get(key), f"{where}.{key}" if where else str(key))
    if isinstance(now, list) and isinstance(then, list) and len(now) == len(then):
        for i, (a, b) in enumerate(zip(now, then)):
            if a != b:
                return first_difference(a, b, f"{where}[{i}]")
    return f"{where}: {now!r}, was {then!r}"
