"""One solve on many processes (`torchrun --nproc-per-node N -m pinnkit solve case.toml`): the process group
torchrun describes in the environment, which points each process holds, and the sums and agreements that
keep every process taking the same steps.

Every process draws the full point sets from the run's seed (so redraws, RAD included, repeat on each) and
evaluates its contiguous share of each (`Shard`); the loss and its gradient, or a Gauss-Newton phase's
normal equations, are summed over the processes, so every process holds the same numbers and takes the
same step. The first process writes the run folder. An error raised on one process is raised on every
process at the next sum (`Processes.sum`, `Processes.settle`), with the first failing process's message, so
all stop together. torch.distributed carries every message: gloo between CPU processes, NCCL between GPUs.
"""
from __future__ import annotations

import os
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Optional, TypeVar

import torch
import torch.distributed as dist
import torch.distributed.nn  # noqa: F401  imported before any group is joined: imported later (the first
# optimizer imports it through torch._dynamo), its functions keep the joined group as default arguments, which
# keeps gloo's threads alive after `destroy_process_group` until the interpreter exits, where they can abort it

from .config import ConfigError
from .problem import ProblemError
from .run import RunError

T = TypeVar("T")
INPUT_ERRORS = {cls.__name__: cls for cls in (ConfigError, ProblemError, RunError)}  # kept as they are: exit 2


class ProcessFailure(RuntimeError):
    """An error raised on one process of a solve, raised again on every process with that process's message.

    `traceback` is the failing process's traceback, as text (for run.log)."""

    def __init__(self, message: str, traceback: str = ""):
        super().__init__(message)
        self.traceback = traceback


@dataclass(frozen=True)
class Shard:
    """Process `rank` of `size`: which points of a set it evaluates."""

    rank: int
    size: int

    def part(self, n: int, pointwise: bool = True) -> tuple[slice, bool]:
        """The rows of an n-point set this process evaluates, and whether it counts them: a contiguous
        share of a pointwise set (the first n % size processes one point more); the whole of a set whose rows
        pair points (not pointwise) or that has fewer points than processes, counted by the first process."""
        if not pointwise or n < self.size:
            return slice(0, n), self.rank == 0
        share, extra = divmod(n, self.size)
        start = self.rank * share + min(self.rank, extra)
        return slice(start, start + share + (self.rank < extra)), True


class Processes:
    """The processes of one solve, as torchrun started them (`joined`): this one's rank, their number, its
    local rank on its machine, and the collectives pinnkit uses."""

    def __init__(self, rank: int, size: int, local_rank: int):
        self.rank, self.size, self.local_rank = rank, size, local_rank
        self.shard = Shard(rank, size)
        self.received: Callable[[], Optional[int]] = lambda: None  # a signal this process received (the trainer's)
        self.heard: Optional[int] = None  # the first signal any process had received, as of the last `sum`

    @property
    def main(self) -> bool:
        """Whether this is the first process: the one that writes the run folder and reports."""
        return self.rank == 0

    def device(self, name: str) -> torch.device:
        """The device of this process for the config's `device`: its own GPU (cuda:LOCAL_RANK) under `auto`
        with CUDA or under `cuda`, else the CPU; a numbered GPU is a ConfigError (each process takes its own)."""
        if name.startswith("cuda:"):
            raise ConfigError(f"device: {name!r} names one GPU, and each of the {self.size} processes takes its "
                              f"own (cuda:LOCAL_RANK); use 'auto' or 'cuda'")
        if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
            return torch.device("cpu")
        if not torch.cuda.is_available():
            raise ConfigError(f"device: {name!r} requested but CUDA is not available (use 'auto' or 'cpu')")
        if self.local_rank >= torch.cuda.device_count():
            raise ConfigError(f"device: process {self.local_rank} of this machine has no GPU of its own (it has "
                              f"{torch.cuda.device_count()}); start at most that many processes per machine, or "
                              f"use device = 'cpu'")
        torch.cuda.set_device(self.local_rank)
        return torch.device("cuda", self.local_rank)

    def sum(self, compute: Callable[[], torch.Tensor], like: torch.Tensor) -> torch.Tensor:
        """The elementwise sum over the processes of `compute()` (a tensor shaped like `like`), on every process,
        in one all-reduce; when `compute` raised on any process, every process raises that error. The
        all-reduce also carries each process's signal (`received`), so that every process knows of any (`heard`)
        at the same point of the solve."""
        error: Optional[BaseException] = None
        try:
            local = compute().detach().reshape(-1)
        except Exception as err:  # reported to every process below
            error, local = err, like.detach().new_zeros(like.numel())
        notes = local.new_zeros(1 + self.size)  # failed anywhere, then each process's signal
        notes[0], notes[1 + self.rank] = float(error is not None), float(self.received() or 0)
        buffer = torch.cat([local, notes])
        dist.all_reduce(buffer)
        failed, *signals = (int(v) for v in buffer[len(local):].tolist())
        if failed:
            self._raise_first(error)
        self.heard = self.heard or next((s for s in signals if s), None)
        return buffer[:len(local)].view_as(like)

    def settle(self, compute: Callable[[], T]) -> T:
        """`compute()` on every process; when it raised on any, every process raises the first one's error."""
        try:
            value, error = compute(), None
        except Exception as err:  # reported to every process below
            value, error = None, err
        flags = torch.tensor([float(error is not None)])
        dist.all_reduce(flags)
        if flags[0] > 0:
            self._raise_first(error)
        return value

    def first(self, compute: Callable[[], T]) -> T:
        """`compute()` on the first process, its value (a picklable object) on every process; its error on every
        process when it raised."""
        value = self.settle(compute if self.main else lambda: None)
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def agree(self, codes: torch.Tensor) -> torch.Tensor:
        """The elementwise sum of small integer `codes` (int64, on the CPU) over the processes."""
        dist.all_reduce(codes)
        return codes

    def _raise_first(self, error: Optional[BaseException]) -> None:
        """Every process raises the error of the first process that failed (after an all-gather of them all)."""
        reports: list[Optional[tuple[str, str, str]]] = [None] * self.size
        dist.all_gather_object(reports, _report(error, self.rank) if error is not None else None)
        kind, message, trace = next(r for r in reports if r is not None)
        if kind in INPUT_ERRORS:
            raise INPUT_ERRORS[kind](message)
        raise ProcessFailure(message, trace)


def _report(error: BaseException, rank: int) -> tuple[str, str, str]:
    """(kind, message, traceback) of an error for the other processes; a ProcessFailure passes on as it came."""
    if isinstance(error, ProcessFailure):
        return "ProcessFailure", str(error), error.traceback
    text = "".join(traceback.format_exception(error))
    if type(error).__name__ in INPUT_ERRORS:
        return type(error).__name__, str(error), text
    lines = str(error).strip().splitlines()
    return "ProcessFailure", f"process {rank}: {type(error).__name__}: {lines[0] if lines else ''}", text


@contextmanager
def joined() -> Iterator[Optional[Processes]]:
    """The processes of this solve while open: None for one process (no torchrun, or one process), else
    `Processes`, the process group joined from torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK,
    MASTER_ADDR, MASTER_PORT) unless the caller joined one already (it must carry CPU tensors: gloo, or
    "cpu:gloo,cuda:nccl" as here with GPUs); one this joined is left on exit."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        yield None
        return
    ours = not dist.is_initialized()
    if ours:
        cuda = torch.cuda.is_available() and dist.is_nccl_available()
        dist.init_process_group("cpu:gloo,cuda:nccl" if cuda else "gloo")
    try:
        yield Processes(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    finally:
        if ours:
            dist.destroy_process_group()


def settle(processes: Optional[Processes], compute: Callable[[], T]) -> T:
    """`compute()`, settled among the processes when there are several (`Processes.settle`)."""
    return compute() if processes is None else processes.settle(compute)


def first(processes: Optional[Processes], compute: Callable[[], T]) -> T:
    """`compute()` on the first process, its value everywhere (`Processes.first`); plain `compute()` for one."""
    return compute() if processes is None else processes.first(compute)


def first_process() -> bool:
    """Whether this is the first (or the only) process, from torchrun's environment, before any group is joined."""
    return int(os.environ.get("RANK", "0")) == 0
