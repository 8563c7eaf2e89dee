"""Every optimizer phase by the name a `[[phases]]` table gives it in `optimizer = "..."`."""
from __future__ import annotations

from .adahessian import AdaHessianPhase
from .adam import AdamPhase
from .bfgs import BFGSPhase
from .engd import ENGDPhase
from .gncg import GNCGPhase
from .kfac import KFACPhase
from .lbfgs import LBFGSPhase
from .lm import LMPhase
from .phase import Phase
from .sam import SAMPhase
from .scipy_lbfgsb import ScipyLBFGSBPhase
from .sgd import SGDPhase
from .sgn import SGNPhase

PHASES: dict[str, type[Phase]] = {
    "adam": AdamPhase,
    "sgd": SGDPhase,
    "sam": SAMPhase,
    "adahessian": AdaHessianPhase,
    "lbfgsb": ScipyLBFGSBPhase,
    "lbfgs": LBFGSPhase,
    "bfgs": BFGSPhase,
    "ssbfgs": BFGSPhase,
    "ssbroyden": BFGSPhase,
    "lm": LMPhase,
    "engd": ENGDPhase,
    "gncg": GNCGPhase,
    "sgn": SGNPhase,
    "kfac": KFACPhase,
}
