"""Where cases run, by name: `local` processes on this machine, or a `dask` cluster.

An executor's `run(fn, tasks)` yields `(task, outcome)` as cases finish, in any order:
`outcome` is `fn(task, device, threads)` or the exception that kept it from returning (a
worker that died). Each case gets cores // (cases at a time on its machine) torch threads,
so the cores are not oversubscribed and, with seeds, a case's row is the same whichever ran it.
"""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterator, Optional, Sequence

import torch

from ..config import ConfigError

Outcome = Iterator[tuple[Any, Any]]


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class LocalProcesses:
    """`workers` spawned processes; with CUDA visible, worker i runs its cases on GPU i mod count.
    Each worker is its own pool, so one that dies loses only its case."""

    def __init__(self, workers: int, client: Any = None, scheduler: Optional[str] = None):
        if client is not None or scheduler:
            raise ConfigError("sweep: a Dask client or scheduler needs executor 'dask'")
        self.workers = workers

    def run(self, fn: Callable, tasks: Sequence[Any]) -> Outcome:
        gpus, threads = torch.cuda.device_count(), max(1, _cores() // self.workers)
        devices = [f"cuda:{i % gpus}" if gpus else None for i in range(min(self.workers, len(tasks)))]
        pools = [self._pool() for _ in devices]
        queue, pending = iter(tasks), {}

        def feed(slot: int) -> None:
            task = next(queue, None)
            if task is not None:
                pending[pools[slot].submit(fn, task, devices[slot], threads)] = (slot, task)

        try:
            for slot in range(len(pools)):
                feed(slot)
            while pending:
                for future in wait(pending, return_when=FIRST_COMPLETED)[0]:
                    slot, task = pending.pop(future)
                    outcome = _outcome(future)
                    if isinstance(outcome, BrokenProcessPool):  # its worker died: start a fresh one
                        pools[slot].shutdown(wait=False)
                        pools[slot] = self._pool()
                    yield task, outcome
                    feed(slot)
        finally:
            for pool in pools:
                pool.shutdown(wait=True, cancel_futures=True)

    @staticmethod
    def _pool() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(1, multiprocessing.get_context("spawn"))


def _outcome(future: Future) -> Any:
    try:
        return future.result()
    except Exception as err:
        return err


class Dask:
    """Cases as tasks on a Dask cluster: the `client` given, one connected to `scheduler`, or else a
    LocalCluster of `workers` one-thread processes. The sweep folder must be on a filesystem the workers share.
    On a cluster of its own each case gets cores // workers torch threads, else cores // its worker's threads."""

    def __init__(self, workers: int, client: Any = None, scheduler: Optional[str] = None):
        self.workers, self.client, self.scheduler = workers, client, scheduler

    def run(self, fn: Callable, tasks: Sequence[Any]) -> Outcome:
        distributed = _import_distributed()
        own, local = self.client is None, self.client is None and not self.scheduler
        client = self.client if not own else (
            distributed.Client(n_workers=self.workers, threads_per_worker=1) if local else
            _connect(distributed, self.scheduler))
        threads = max(1, _cores() // self.workers) if local else None
        try:
            futures = {client.submit(_on_dask_worker, fn, task, threads, pure=False): task for task in tasks}
            for future in distributed.as_completed(futures):
                yield futures[future], _outcome(future)
        finally:
            if own:
                client.close()


CONNECT_SECONDS = 10


def _connect(distributed: Any, address: str) -> Any:
    """A client of the scheduler at `address`; an unreachable one is a ConfigError after CONNECT_SECONDS."""
    try:
        return distributed.Client(address, timeout=CONNECT_SECONDS)
    except (OSError, TimeoutError, ValueError) as err:
        raise ConfigError(f"--scheduler {address}: no Dask scheduler answered within {CONNECT_SECONDS} s "
                          f"({type(err).__name__})") from None


def _on_dask_worker(fn: Callable, task: Any, threads: Optional[int]) -> Any:
    """Run `fn` on a Dask worker with `threads` torch threads, by default cores // (the worker's threads)."""
    from distributed import get_worker

    return fn(task, None, threads or max(1, _cores() // get_worker().state.nthreads))


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise ConfigError('sweep: the dask executor needs Dask: pip install "pinnkit[dask]"') from None
    return distributed


EXECUTORS = {"local": LocalProcesses, "dask": Dask}


def make_executor(name: Optional[str], workers: int, client: Any = None,
                  scheduler: Optional[str] = None) -> "LocalProcesses | Dask":
    """The executor called `name`; None picks `dask` when a client or scheduler is given, else `local`."""
    name = name or ("dask" if client is not None or scheduler else "local")
    if name not in EXECUTORS:
        raise ConfigError(f"sweep: unknown executor {name!r} (valid: {', '.join(EXECUTORS)})")
    if workers < 1:
        raise ConfigError(f"sweep: workers must be >= 1, got {workers}")
    return EXECUTORS[name](workers, client, scheduler)
