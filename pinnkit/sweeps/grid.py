"""Sweep cases: explicit cases (a zip) times a grid (a product) times seeds, each named from its values.

A case's name is its run folder: `nu=0.003183_width=20_seed=0`, keys shortened to the
shortest dotted suffix that stays unique, floats to the fewest digits (at least 4) that
keep the swept values apart. Names are deterministic, so a re-run finds its cases again.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

import tomli_w

from ..config import ConfigError


@dataclass(frozen=True)
class Case:
    """One run of a sweep: config key paths -> values, the seed (None: the config's own) and its folder name."""

    values: dict[str, Any] = field(default_factory=dict)
    seed: Optional[int] = None
    name: str = ""

    def overrides(self) -> list[str]:
        """The `key.path=value` overrides that turn the sweep's config into this case."""
        items = [f"{key}={toml_value(value)}" for key, value in self.values.items()]
        return items + ([f"seed={self.seed}"] if self.seed is not None else [])


def toml_value(value: Any) -> str:
    """A value as TOML text, as `--set` reads it: 0.01 -> `0.01`, True -> `true`, "sin" -> `"sin"`."""
    if isinstance(value, dict):
        raise ConfigError(f"sweep value {value!r}: tables cannot be swept; sweep their keys instead")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(map(toml_value, value)) + "]"
    return tomli_w.dumps({"v": value})[len("v = "):].strip()


def expand(grid: Optional[Mapping[str, Sequence[Any]]] = None, cases: Optional[Sequence[Mapping[str, Any]]] = None,
           seeds: Optional[Sequence[int]] = None) -> list[Case]:
    """Every case in a fixed order: each explicit case, times the grid's product (first key outermost), times seeds.

    Values may be NumPy arrays and scalars (`np.logspace(-3, -2, 4)`): they are taken as plain Python values.
    """
    grid = {key: _plain_list(key, values) for key, values in (grid or {}).items()}
    cases = [{k: _plain(v) for k, v in c.items()} for c in (cases or [{}])]
    seeds = [int(s) for s in seeds] if seeds is not None and len(seeds) else None
    _check(grid, cases, seeds)
    for key, values in grid.items():
        cases = [{**case, key: value} for case in cases for value in values]
    combos = [(case, seed) for case in cases for seed in (list(seeds) if seeds else [None])]
    names = _names(combos)
    if len(set(names)) < len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ConfigError(f"sweep: cases repeat (same values): {', '.join(twice)}")
    return [Case(values, seed, name) for (values, seed), name in zip(combos, names)]


def _plain(value: Any) -> Any:
    """A NumPy (or torch) scalar or array -> the Python value; anything else as it is."""
    return value.tolist() if hasattr(value, "tolist") else value


def _plain_list(key: str, values: Any) -> list[Any]:
    values = _plain(values)
    if isinstance(values, (str, bytes, dict)) or not isinstance(values, (list, tuple)) or not values:
        raise ConfigError(f"sweep grid {key}: expected a non-empty list of values, got {values!r}")
    return [_plain(v) for v in values]


def _check(grid: dict, cases: list[dict], seeds: Optional[list[int]]) -> None:
    if not grid and cases == [{}] and not seeds:
        raise ConfigError("sweep: nothing to sweep (give a grid, cases or seeds)")
    for key in {k for case in cases for k in case} | set(grid):
        if key == "seed":
            raise ConfigError("sweep: give seeds with seeds=[...] (or --seeds), not as a swept key")
        if key in grid and any(key in case for case in cases):
            raise ConfigError(f"sweep: {key} is both in the grid and in the cases")


def _names(combos: list[tuple[dict, Optional[int]]]) -> list[str]:
    keys = list(dict.fromkeys(k for values, _ in combos for k in values))
    labels = labels_for(keys)
    texts = {key: _value_texts([values[key] for values, _ in combos if key in values]) for key in keys}
    names = []
    for values, seed in combos:
        parts = [f"{labels[k]}={texts[k][repr(v)]}" for k, v in values.items()]
        names.append("_".join(parts + ([f"seed={seed}"] if seed is not None else [])))
    return names


def labels_for(keys: Sequence[str]) -> dict[str, str]:
    """Each key path's shortest unique dotted suffix, filesystem-safe: `problem.parameters.nu` -> `nu`."""
    parts = {key: key.split(".") for key in keys}
    labels = {}
    for key, steps in parts.items():
        n = next(n for n in range(1, len(steps) + 1)
                 if sum(other[-n:] == steps[-n:] for other in parts.values()) == 1 or n == len(steps))
        labels[key] = _safe(".".join(steps[-n:]))
    return labels


def _value_texts(values: list[Any]) -> dict[str, str]:
    """repr(value) -> its text in a name; floats with the fewest digits (>= 4) that keep them apart."""
    floats = {v for v in values if isinstance(v, float)}
    digits = next((p for p in range(4, 18) if len({f"{v:.{p}g}" for v in floats}) == len(floats)), 17)
    return {repr(v): _safe(f"{v:.{digits}g}" if isinstance(v, float) else
                           v if isinstance(v, str) else toml_value(v)) for v in values}


def _safe(text: str) -> str:
    """Only letters, digits and `._+-` in a folder name: `phases[0].lr` -> `phases0.lr`, `[1, 2]` -> `1-2`."""
    return re.sub(r"[^A-Za-z0-9._+-]+", "-", text.replace("[", "").replace("]", "")) or "-"


def parse_grid(items: Sequence[str]) -> dict[str, list[Any]]:
    """`--grid key.path=v1,v2,...` items -> {key: [values]}; values are TOML (`0.01`, `true`, `"a"`) or bare words."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, _, text = (s.strip() for s in item.partition("="))
        values = _parse_values(text) if key and text else []
        if not values or key in grid:
            why = f"{key} given twice" if key in grid else "expected KEY=V1,V2,... e.g. model.width=20,40"
            raise ConfigError(f"--grid {item}: {why}")
        grid[key] = values
    return grid


def _parse_values(text: str) -> list[Any]:
    try:
        return tomllib.loads(f"v = [{text}]")["v"]
    except tomllib.TOMLDecodeError:
        words = [w.strip() for w in text.split(",")]
        return [] if "" in words else [_parse_word(w) for w in words]


def _parse_word(word: str) -> Any:
    try:
        return tomllib.loads(f"v = {word}")["v"]
    except tomllib.TOMLDecodeError:
        return word
