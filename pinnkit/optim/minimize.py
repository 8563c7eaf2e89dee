"""`minimize`: any registered phase on a plain loss or residual function, outside a pinnkit solve."""
from __future__ import annotations

from typing import Callable, Iterable, Optional, Union

import torch

from .closures import ObjectiveView
from .phase import Monitor, PhaseResult, run_phase
from .registry import PHASES


def minimize(params: Union[Iterable[torch.Tensor], list[dict]], optimizer: str,
             loss: Optional[Callable[[], torch.Tensor]] = None,
             residuals: Optional[Callable[[], torch.Tensor]] = None, **options) -> PhaseResult:
    """Run the phase `optimizer` (a key of `PHASES`, with its `[[phases]]` keys as `options`) on tensors or
    parameter groups (`lower`/`upper` bounds per group), minimizing `loss()` or ||`residuals()`||^2.

    Example:
        >>> x = torch.zeros(2, dtype=torch.float64, requires_grad=True)
        >>> minimize([x], "lm", residuals=lambda: A @ x - b, iterations=50).status
        'converged'
    """
    if (loss is None) == (residuals is None):
        raise ValueError("minimize: give either loss or residuals")
    if optimizer not in PHASES:
        raise ValueError(f"minimize: unknown optimizer {optimizer!r} (valid: {', '.join(PHASES)})")
    params = list(params)
    groups = params if params and isinstance(params[0], dict) else [{"params": params}]
    cls = PHASES[optimizer]
    opts = cls.Options(optimizer=optimizer, **options)
    objective = ObjectiveView(loss) if residuals is None else ObjectiveView.least_squares(residuals)
    return run_phase(cls(opts), groups, objective, Monitor(opts))
