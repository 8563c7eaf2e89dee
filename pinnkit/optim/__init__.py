"""Optimizer phases, by the name a `[[phases]]` table gives in `optimizer = "..."`.

Adding an optimizer is one new class with an `Options` schema and a
`run(groups, closure, monitor) -> PhaseResult` method, registered here.
"""
from .adahessian import AdaHessian, AdaHessianPhase
from .adam import AdamPhase
from .lbfgs import LBFGS, LBFGSPhase
from .phase import Monitor, PhaseOptions, PhaseResult, project
from .scipy_lbfgsb import ScipyLBFGSBPhase

PHASES = {
    "adam": AdamPhase,
    "lbfgsb": ScipyLBFGSBPhase,
    "lbfgs": LBFGSPhase,
    "adahessian": AdaHessianPhase,
}

__all__ = ["LBFGS", "PHASES", "AdaHessian", "Monitor", "PhaseOptions", "PhaseResult", "project"]
