"""What a phase may evaluate: the objective view it is handed, and the closures built from it.

A PINN loss is a least-squares problem, loss = ||r||^2, so the view offers both the scalar loss
(first-order and quasi-Newton phases) and the residual vector r (Gauss-Newton phases), r in blocks
that each have their own graph (cheap Jacobian rows), and the calls of the network's linear layers
(K-FAC), all without naming a network class: a network that can show its layers hands over an object
with the `LayerTaps` shape. Where several processes share the objective, each evaluating its share of the
points, the view says so (`Processes`): a phase then sums what it evaluates over them (`gradient_closure`
does it for the loss and its gradient).
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Optional, Protocol, Sequence, Union

import torch

from .params import assign_grads, flat_grad

Block = tuple[torch.Tensor, torch.Tensor]  # (row indices into r, the residual entries of those rows)
Rows = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # (row indices into r, r[rows], the Jacobian's rows J[rows])


class LayerCall(Protocol):
    """One call of a linear layer z = W a + b, seen as rows: what K-FAC needs of it."""

    inputs: torch.Tensor  # (R, d_in [+ 1]) detached inputs, with a last column of 1 where the bias enters (0 else)
    output: torch.Tensor  # the layer's output as it sits in the graph of r

    def rows(self, grad: torch.Tensor) -> torch.Tensor:
        """The gradient of something with respect to `output`, as (R, d_out) rows matching `inputs`."""


class LayerTaps(Protocol):
    """The linear layers r passes through, and a way to watch every call of them."""

    layers: Sequence[tuple[torch.Tensor, Optional[torch.Tensor]]]  # (weight (d_out, d_in), bias or None), in order

    def record(self) -> AbstractContextManager[list[list[LayerCall]]]:
        """While open, each call of layer i appends a `LayerCall` to the i-th list."""


class Processes(Protocol):
    """The processes that share an objective, each evaluating its share of the points: what a phase needs of
    them (`pinnkit.distributed.Processes` is one)."""

    @property
    def main(self) -> bool:
        """Whether this is the first process (the one that leads where only one can, as SciPy does)."""

    def sum(self, compute: Callable[[], torch.Tensor], like: torch.Tensor) -> torch.Tensor:
        """The elementwise sum over the processes of `compute()` (shaped like `like`), on every process; an error
        that `compute` raised on any process is raised on all of them."""


@dataclass
class Residuals:
    """The residual vector r (N,), loss = ||r||^2, as a Gauss-Newton optimizer takes it.

    `vector()` evaluates r. `blocks()`, when given, yields (rows, r[rows]) pieces that cover r, each
    with its own graph (rows that depend on a few inputs each, such as collocation points): the Jacobian
    of a piece then costs a backward pass over that piece only, instead of one over all of r per row.
    `taps`, when given, shows the linear layers r passes through (K-FAC preconditions them).
    `jacobian`, when given, takes the parameters and returns (N, chunks of (rows, r[rows], J[rows])) computed
    point by point, or None where it cannot for these parameters (the blocks' backward passes then serve).
    `processes`, when given: r holds this process's rows only, and the others hold the rest; `layout` then
    gives the length of the whole r and the index in it of each of this process's rows.
    """

    vector: Callable[[], torch.Tensor]
    blocks: Optional[Callable[[], Iterable[Block]]] = None
    taps: Optional[LayerTaps] = None
    jacobian: Optional[Callable[[list[torch.Tensor]], Optional[tuple[int, Iterator[Rows]]]]] = None
    processes: Optional[Processes] = None
    layout: Optional[Callable[[], tuple[int, torch.Tensor]]] = None

    def __call__(self) -> torch.Tensor:
        return self.vector()


ResidualClosure = Union[Residuals, Callable[[], torch.Tensor]]


def as_residuals(closure: ResidualClosure) -> Residuals:
    """A plain function returning r becomes `Residuals` (one block: fine for small problems)."""
    return closure if isinstance(closure, Residuals) else Residuals(closure)


@dataclass
class ObjectiveView:
    """The objective as a phase sees it: `loss()` (a 0-dim tensor with its graph) and, for a least-squares
    objective, `residuals` with loss = ||r||^2. With `processes`, both are this process's part: the sums over
    the processes are the objective's."""

    loss: Callable[[], torch.Tensor]
    residuals: Optional[Residuals] = None
    processes: Optional[Processes] = None

    @classmethod
    def least_squares(cls, residuals: ResidualClosure) -> "ObjectiveView":
        """The view of a residual vector alone: the loss is ||r||^2."""
        residuals = as_residuals(residuals)
        return cls(lambda: residuals.vector().square().sum(), residuals)

    def counted(self, tick: Callable[[], None]) -> "ObjectiveView":
        """The same view, calling `tick()` once per evaluation of the loss, of r, of r's blocks or of its
        Jacobian's rows."""
        def counting(fn: Callable) -> Callable:
            def call(*args: Any) -> Any:
                tick()
                return fn(*args)
            return call

        r = self.residuals
        residuals = r and Residuals(counting(r.vector), r.blocks and counting(r.blocks), r.taps,
                                    r.jacobian and counting(r.jacobian), r.processes, r.layout)
        return ObjectiveView(counting(self.loss), residuals, self.processes)


def squared_norm(residuals: Residuals, like: torch.Tensor) -> Callable[[], torch.Tensor]:
    """The loss ||r||^2 at the current parameters, detached, as a function (summed over the processes that
    share r, where several do; `like`: a tensor of r's dtype and device)."""
    def local() -> torch.Tensor:
        return residuals.vector().detach().square().sum()

    processes = residuals.processes
    return local if processes is None else lambda: processes.sum(local, like.new_zeros(()))


def gradient_closure(params: list[torch.Tensor], loss: Callable[[], torch.Tensor], create_graph: bool = False,
                     processes: Optional[Processes] = None) -> Callable[[], torch.Tensor]:
    """The closure `torch.optim` optimizers step with: zero the gradients, evaluate, backward, return the loss.
    `create_graph` keeps the gradient's graph (Hessian-vector products). With `processes`, the loss and the
    gradients are summed over them, in one all-reduce, so every process holds the objective's."""
    if processes is not None and create_graph:
        raise ValueError("a gradient summed over processes has no graph to differentiate again")

    def evaluate() -> torch.Tensor:
        for p in params:
            p.grad = None
        if processes is not None:
            return _summed(params, loss, processes)
        value = loss()
        value.backward(create_graph=create_graph)
        return value

    return evaluate


def _summed(params: list[torch.Tensor], loss: Callable[[], torch.Tensor], processes: Processes) -> torch.Tensor:
    """The loss summed over the processes, their gradients summed into the parameters' `grad`."""
    def local() -> torch.Tensor:
        value = loss()
        value.backward()
        return torch.cat([value.detach().reshape(1).to(params[0].dtype), flat_grad(params)])

    total = processes.sum(local, params[0].new_zeros(1 + sum(p.numel() for p in params)))
    assign_grads(params, total[1:])
    return total[0]
