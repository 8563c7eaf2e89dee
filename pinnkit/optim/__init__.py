"""Optimizer phases, by the name a `[[phases]]` table gives in `optimizer = "..."`.

Adding an optimizer is one new class with an `Options` schema and a
`run(groups, closure, monitor) -> PhaseResult` method, registered here.
"""
from .adahessian import AdaHessian, AdaHessianPhase
from .adam import AdamPhase
from .bfgs import BFGS, BFGSPhase
from .engd import ENGDPhase, EnergyNaturalGradient
from .gauss_newton import MemoryBudgetError, Residuals
from .kfac import KFAC, KFACPhase
from .lbfgs import LBFGS, LBFGSPhase
from .lm import LevenbergMarquardt, LMPhase
from .phase import Monitor, PhaseOptions, PhaseResult, Progress, project
from .sam import SAM, SAMPhase
from .scipy_lbfgsb import ScipyLBFGSBPhase
from .sgd import SGDPhase

PHASES = {
    "adam": AdamPhase,
    "sgd": SGDPhase,
    "sam": SAMPhase,
    "lbfgsb": ScipyLBFGSBPhase,
    "lbfgs": LBFGSPhase,
    "adahessian": AdaHessianPhase,
    "lm": LMPhase,
    "engd": ENGDPhase,
    "kfac": KFACPhase,
    "bfgs": BFGSPhase,
    "ssbfgs": BFGSPhase,
    "ssbroyden": BFGSPhase,
}

__all__ = ["EnergyNaturalGradient", "KFAC", "LevenbergMarquardt", "MemoryBudgetError", "Residuals", "SAM",
           "BFGS", "LBFGS", "PHASES", "AdaHessian", "Monitor", "PhaseOptions", "PhaseResult", "Progress", "project"]
