"""The run folder: written file by file (each atomically), read back by `load`.

    config.toml    the resolved configuration, written first
    history.csv    one row per logged iteration, appended as training goes
    run.log        what happened, line by line: phases, fallbacks, a failed phase's traceback (`logs.py`)
    checkpoint.pt  everything needed to continue the run (`checkpoint.py`), rewritten as training goes
    model.pt       network state dict and PDE parameters (loads with weights_only=True)
    summary.json   status (completed, interrupted, diverged, failed), final losses, errors,
                   per-phase results; written last

`load(run_dir).predict(points)` evaluates the trained solution anywhere.
"""
from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional, Sequence, Union

import torch

from .build import make_problem, solution_model
from .solution import Solution
from .usercode import Code, source_file
from .config import Config, ConfigError, load as load_config

FILES = ("config.toml", "history.csv", "model.pt", "summary.json")
SOURCES = {"problem": "problem.py", "model": "network.py"}  # copies of the user's files, by config section


class RunError(ValueError):
    """A run folder or run file that cannot be read or continued: the message is one line naming it."""


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A new temporary file beside `path` to write to: once written it is fsynced and renamed onto `path`, so
    readers see the old file or the whole new one; if writing fails it is removed. The temporary file is
    created exclusively under a fresh name, so a file or link planted in the folder is never written through,
    and the rename replaces a link at `path` itself rather than its target."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    os.chmod(tmp, _file_mode())  # mkstemp's 0600 would make run files private
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _file_mode() -> int:
    """The permissions a new file gets under the process's umask (which can only be read by setting it)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically (`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def save_torch(path: Path, state: Mapping[str, Any]) -> None:
    """`torch.save` atomically, streamed to the file by torch itself: large tensors (a dense inverse Hessian)
    are written once, never first copied into a buffer."""
    with atomic_path(path) as tmp:
        torch.save(dict(state), str(tmp))


def read_torch(path: Path, keys: Sequence[str], device: str = "cpu") -> dict:
    """`torch.load(weights_only=True)` of a file pinnkit wrote: a dict holding `keys`, else a RunError."""
    if not path.is_file():
        raise RunError(f"{path}: no such file")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # truncated, foreign or unsafe: torch raises several kinds
        raise RunError(f"{path}: cannot be read ({type(err).__name__}: {_first_line(err)})") from None
    if not isinstance(state, dict) or not set(keys) <= set(state):
        raise RunError(f"{path}: not a file pinnkit wrote (expected a dict with {', '.join(keys)})")
    return state


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return text if len(text) <= 160 else text[:157] + "..."


def case_name(problem_name: str) -> str:
    """`burgers` -> `burgers`; `path/heat.py:Heat` -> `heat`."""
    return problem_name.rsplit(":", 1)[-1].rsplit(".", 1)[-1].lower()


MAX_SAME_NAME = 1000  # run folders of one case started in the same second


def new_run_dir(config: Config, out: Optional[Union[str, Path]] = None) -> Path:
    """Create the run folder: `out` if given (it must be new or empty), else `<output.dir>/<case>-<time>`.
    A path that cannot be a folder (a file, a dangling link, read-only, a full disk) is a ConfigError."""
    if out is not None:
        path = Path(out)
        if path.is_dir() and any(path.iterdir()):
            raise ConfigError(f"--out {path}: exists and is not an empty folder")
        make_folder(path, "--out")
        return path
    parent = Path(config.output.dir)
    make_folder(parent, "output.dir")
    base = f"{case_name(config.problem.name)}-{time.strftime('%Y%m%d-%H%M%S')}"
    for k in range(1, MAX_SAME_NAME + 1):
        path = parent / (base if k == 1 else f"{base}-{k}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
        except OSError as err:
            raise ConfigError(f"output.dir {parent}: cannot create a run folder in it ({err.strerror})") from None
    raise ConfigError(f"output.dir {parent}: {MAX_SAME_NAME} run folders named {base}* exist already")


def make_folder(path: Path, key: str) -> None:
    """Create `path` and its parents (fine if it is a folder already); anything else is a ConfigError naming `key`."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        what = "a dangling symbolic link" if path.is_symlink() else "a file, not a folder"
        raise ConfigError(f"{key} {path}: is {what}") from None
    except OSError as err:
        raise ConfigError(f"{key} {path}: cannot create the folder ({err.strerror})") from None


class RunWriter:
    """Writes one run folder as a solve goes; every file it completes is complete on disk.

    With a `config` it starts a new run (config.toml first); without, it continues the
    existing folder `path` (a resume: see `keep_history`). With `writes = False` it only counts the history
    rows (the processes of a solve other than the first, which alone writes the folder).
    """

    def __init__(self, path: Path, config: Optional[Config] = None, writes: bool = True):
        self.path, self.writes = path, writes
        self.columns: Optional[list[str]] = None
        self.rows = 0  # history rows written so far
        if config is not None and writes:
            write_atomic(path / "config.toml", config.to_toml().encode())
            for section, copy in SOURCES.items():
                if (file := source_file(getattr(config, section).name)) is not None:
                    write_atomic(path / copy, file.read_bytes())

    def history(self, row: Mapping[str, Any]) -> None:
        """Append one history row (the first row fixes the columns)."""
        if self.writes:
            new = self.columns is None
            if new:
                self.columns = list(row)
            with open(self.path / "history.csv", "a", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=self.columns, restval="")
                if new:
                    writer.writeheader()
                writer.writerow(row)
        self.rows += 1

    def keep_history(self, rows: int) -> None:
        """Cut history.csv back to its first `rows` rows: those after a checkpoint are written again on resume."""
        if not self.writes:
            self.rows = rows
            return
        file = self.path / "history.csv"
        with open(file, newline="") if file.is_file() else io.StringIO() as f:
            lines = list(csv.reader(f))
        if len(lines) < rows + 1 and rows:
            raise RunError(f"{file}: has {max(len(lines) - 1, 0)} rows, the checkpoint expects at least {rows}")
        if rows == 0:
            file.unlink(missing_ok=True)
        else:
            text = io.StringIO()
            csv.writer(text, lineterminator="\r\n").writerows(lines[:rows + 1])
            write_atomic(file, text.getvalue().encode())
            self.columns = lines[0]
        self.rows = rows

    def model(self, model: torch.nn.Module, parameters: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> None:
        """Write model.pt: the network's state dict, the PDE parameters and `meta` (the run's status)."""
        if self.writes:
            save_torch(self.path / "model.pt", {"model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                                                "parameters": {k: v.detach().cpu() for k, v in parameters.items()},
                                                "meta": dict(meta)})

    def summary(self, summary: Mapping[str, Any]) -> None:
        """Write summary.json, the last file of a run."""
        if self.writes:
            write_atomic(self.path / "summary.json", (json.dumps(summary, indent=2) + "\n").encode())


def load(run_dir: Union[str, Path], device: str = "cpu", trust_code: bool = False, problem: Optional[type] = None,
         model: Optional[torch.nn.Module] = None) -> Solution:
    """Rebuild a trained run from its folder (`config.toml` + `model.pt`); a bad folder or file is a RunError.

    A run whose problem or network is Python code of its own (`file.py:Class` or `module:Class`) runs that
    code when opened, so it opens only with `trust_code=True`, as `torch.load(weights_only=True)` refuses
    pickled code; it imports the copies of the files the run keeps (`problem.py`, `network.py`), so a moved
    or shared folder opens too. A problem class or a network given from Python when the run was solved
    (one defined interactively, say) is given again: `problem=Heat`, `model=Net(...)` (its weights are
    loaded into it). The shipped problems and pinnkit's MLP need no trust."""
    path = Path(run_dir)
    if not path.is_dir():
        raise RunError(f"{path}: no such run folder")
    for name in ("config.toml", "model.pt"):
        if not (path / name).is_file():
            raise RunError(f"{path}: not a complete run folder ({name} is missing)")
    config = load_config(path / "config.toml")
    code = kept_code(path, config, problem, model)
    given = {"problem": code.problem, "model": code.network}
    untrusted = [f"{'network' if section == 'model' else section} {code_name(config, section)}" for section in SOURCES
                 if ":" in getattr(config, section).name and given[section] is None]
    if untrusted and not trust_code:
        raise RunError(f"{path}: its {' and '.join(untrusted)} is Python code that opening the run would run; "
                       f"open it with trust_code=True (command line: --trust-code) if you trust it")
    solved = make_problem(config, code)
    net = solution_model(config, solved, code)
    state = read_torch(path / "model.pt", ("model", "parameters"), device)
    try:
        dtype = state["model"][next(iter(state["model"]))].dtype
        net.to(device, dtype).load_state_dict(state["model"])
        solved.load_state_dict(state["parameters"])
    except (RuntimeError, KeyError, StopIteration, ValueError, TypeError, AttributeError) as err:
        raise RunError(f"{path / 'model.pt'}: does not fit config.toml ({type(err).__name__}: "
                       f"{_first_line(err)})") from None
    net.eval()
    return Solution(path, config, solved, net)


def kept_code(path: Path, config: Config, problem: Optional[type] = None,
              model: Optional[torch.nn.Module] = None) -> Code:
    """The user code to rebuild a run with: what is given again from Python, else the run's copies of the
    files its config names. A class defined interactively (`__main__:Heat`) must be given again."""
    if problem is None and config.problem.name.startswith("__main__:"):
        name = config.problem.name.split(":", 1)[1]
        raise RunError(f"{path}: its problem {name} was defined interactively, so the run could not keep its "
                       f"source; give the class again: problem={name}")
    if model is None and config.model.name == "given":
        raise RunError(f"{path}: its network was given from Python ({config.model.options.get('class')}); give "
                       f"it again: model=...")
    copies = {section: path / copy if (path / copy).is_file() else None for section, copy in SOURCES.items()}
    return Code(problem, model, copies["problem"], copies["model"])


def code_name(config: Config, section: str) -> str:
    """The class a config section names, for messages (`heat.py:Heat` -> `Heat (heat.py)`)."""
    file, cls = getattr(config, section).name.rsplit(":", 1)
    return f"{cls} ({Path(file).name})"
