"""Fuzzing the config loader: random and mutated TOML never give a traceback, only one clear line (exit 2 from
the CLI, with no run folder). Validation only: nothing here trains."""
import contextlib
import copy
import io
import math
import os
import tempfile
import tomllib
from pathlib import Path

import tomli_w
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from pinnkit.problem import ProblemError
from pinnkit.cli import main
from pinnkit.config import ConfigError, load

ROOT = Path(__file__).resolve().parents[1]
BURGERS = ROOT / "problems" / "burgers.toml"
with open(BURGERS, "rb") as _f:
    BASE = tomllib.load(_f)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

names = st.sampled_from(["seed", "device", "dtype", "problem", "name", "parameters", "nu", "points", "interior",
                         "model", "width", "compile", "engine", "phases", "optimizer", "iterations", "lr", "output",
                         "log_every", "checkpoint_every", "loss", "weights", "pde", "data", "sweep", "grid", "init",
                         "bounds", "trainable"]) | st.text(min_size=1, max_size=8)
scalars = (st.integers(-2**63, 2**63 - 1) | st.floats() | st.booleans() | st.text(max_size=12)
           | st.sampled_from(["auto", "adam", "lbfgs", "tanh", "float64", "cpu", "burgers", 0, -1, 1e300, math.nan]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
                      max_leaves=6)


def _paths(node, prefix=()):
    """Every key path of a nested TOML document (tables, lists and leaves)."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in items:
        yield prefix + (key,)
        yield from _paths(child, prefix + (key,))


PATHS = list(_paths(BASE))


@st.composite
def mutated(draw):
    """burgers.toml with a few keys replaced, deleted, renamed or added."""
    doc = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        parent = doc
        try:
            for key in path[:-1]:
                parent = parent[key]
            parent[path[-1]]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed this path
        action = draw(st.sampled_from(["value", "delete", "rename", "add"]))
        last = path[-1]
        if action == "value":
            parent[last] = draw(values)
        elif action == "delete" and isinstance(parent, dict):
            del parent[last]
        elif action == "rename" and isinstance(parent, dict):
            parent[draw(names)] = parent.pop(last)
        elif isinstance(parent, dict):
            parent[draw(names)] = draw(values)
    return doc


def _one_clean_line(call) -> bool:
    """True when `call` validates; False when it fails with a one-line ConfigError/ProblemError; else it raises."""
    try:
        call()
        return True
    except (ConfigError, ProblemError) as err:
        assert str(err) and "\n" not in str(err), repr(str(err))
        return False


@FUZZ
@given(mutated())
def test_mutated_burgers_configs_load_or_fail_in_one_line(doc):
    _one_clean_line(lambda: load(doc))


@FUZZ
@given(st.dictionaries(names, values, max_size=6))
def test_random_documents_load_or_fail_in_one_line(doc):
    _one_clean_line(lambda: load(doc))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200) | st.binary(max_size=200))
def test_random_bytes_as_a_toml_file_fail_in_one_line(text):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.toml"
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        _one_clean_line(lambda: load(path))


@FUZZ
@given(st.lists(st.text(max_size=30) | st.builds(lambda p, v: f"{'.'.join(map(str, p))}={v}",
                                                 st.sampled_from(PATHS), st.text(max_size=10)), max_size=3))
def test_random_overrides_apply_or_fail_in_one_line(overrides):
    _one_clean_line(lambda: load(BURGERS, tuple(overrides)))


@settings(max_examples=40, deadline=None)
@given(mutated())
def test_cli_exits_2_on_an_invalid_mutated_config_and_writes_nothing(doc):
    assume(not _one_clean_line(lambda: load(doc)))
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):
        try:
            Path("c.toml").write_text(tomli_w.dumps(doc))
        except (TypeError, ValueError):
            return  # not expressible as TOML (tomli_w refuses it), so no file can hold it
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            code = main(["solve", "c.toml", "--quiet", "--out", "run"])
        assert code == 2, stderr.getvalue()
        lines = stderr.getvalue().strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), stderr.getvalue()
        assert os.listdir(".") == ["c.toml"]
