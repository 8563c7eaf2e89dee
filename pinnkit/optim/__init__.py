"""Optimizer phases, by the name a `[[phases]]` table gives in `optimizer = "..."`.

Adding an optimizer is one new file with an `Options` schema and a `Phase` subclass that declares what it
needs and supplies `start` and `step` (`phase.py`), plus one line in `registry.py`.
"""
from .adahessian import AdaHessian
from .bfgs import BFGS
from .closures import ObjectiveView, Residuals
from .engd import EnergyNaturalGradient
from .gauss_newton import MemoryBudgetError
from .gncg import GaussNewtonCG
from .kfac import KFAC
from .lbfgs import LBFGS
from .lm import LevenbergMarquardt
from .minimize import minimize
from .params import project
from .phase import Monitor, Phase, PhaseOptions, PhaseResult, Progress, Sizes, run_phase
from .registry import PHASES
from .sam import SAM
from .sgn import SketchedGaussNewton

__all__ = ["AdaHessian", "BFGS", "EnergyNaturalGradient", "GaussNewtonCG", "KFAC", "LBFGS", "LevenbergMarquardt",
           "MemoryBudgetError", "Monitor", "ObjectiveView", "PHASES", "Phase", "PhaseOptions", "PhaseResult",
           "Progress", "Residuals", "SAM", "Sizes", "SketchedGaussNewton", "minimize", "project", "run_phase"]
