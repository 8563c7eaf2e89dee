"""AdaHessian (Yao et al. 2020): Adam whose second moment is the squared Hessian diagonal, and its phase.

The diagonal comes from Hutchinson's estimator E[z * (H z)] with Rademacher z,
one Hessian-vector product through autograd per sample: no Hessian is formed.
For a PINN the loss already holds second derivatives of the network, so the
product differentiates through them again; the graph is freed right after it.
"""
from __future__ import annotations

from typing import Callable, Iterable, Literal, Optional, Sequence

import torch
from pydantic import Field

from .first_order import FirstOrderOptions, FirstOrderPhase

BLOCKS = ("none", "row")


def hutchinson_diagonal(grads: Sequence[torch.Tensor], params: Sequence[torch.Tensor], n_samples: int = 1,
                        generator: Optional[torch.Generator] = None) -> list[torch.Tensor]:
    """Estimate of the Hessian diagonal, one tensor per parameter, averaged over `n_samples` vectors z.

    `grads` must carry their graph (`loss.backward(create_graph=True)`); it is freed after the last sample.
    A gradient without a graph does not depend on any parameter, so its Hessian row is zero.
    """
    linked = [i for i, g in enumerate(grads) if g.requires_grad]
    if not linked:
        raise RuntimeError("AdaHessian needs gradients with a graph: call loss.backward(create_graph=True)")
    outputs, inputs = [grads[i] for i in linked], [params[i] for i in linked]
    total = [torch.zeros_like(p) for p in params]
    for sample in range(n_samples):
        zs = [torch.randint(0, 2, p.shape, generator=generator, device=p.device, dtype=p.dtype) * 2 - 1
              for p in inputs]
        hzs = torch.autograd.grad(outputs, inputs, zs, retain_graph=sample < n_samples - 1, allow_unused=True)
        for i, z, hz in zip(linked, zs, hzs):
            if hz is not None:
                total[i].add_(z * hz)
    return [acc / n_samples for acc in total]


def block_average(diagonal: torch.Tensor, block: str) -> torch.Tensor:
    """`"row"`: |diagonal| averaged over each row of a weight matrix (vectors kept); `"none"`: as is."""
    if block == "row" and diagonal.dim() >= 2:
        return diagonal.abs().mean(dim=tuple(range(1, diagonal.dim())), keepdim=True).expand_as(diagonal)
    return diagonal


class AdaHessian(torch.optim.Optimizer):
    """Adam-style update with the Hutchinson Hessian diagonal D as second moment:

        m = b1 m + (1 - b1) g,   v = b2 v + (1 - b2) D^2,
        p <- p (1 - lr wd) - lr m_hat / (v_hat^(k/2) + eps)      (k: hessian_power; wd decoupled, as AdamW)

    D is re-estimated every `update_every` steps (from `n_samples` Hessian-vector products)
    and reused in between, which cuts the cost of the products. `block="row"` averages
    |D| over each row of a weight matrix, smoothing the noisy estimate. The vectors z come
    from `generator` (on the parameters' device; default: torch's global generator).

    The closure must keep the gradient's graph: `loss.backward(create_graph=True)`.
    After the product the gradients are detached, which frees that graph.

    State per parameter: `step` (int), `exp_avg` (m), `exp_hessian_sq` (v), `hessian_diag` (the last D);
    `state_dict()` adds the generator's state, so a run continued from it draws the same vectors.

    Example:
        >>> opt = AdaHessian(net.parameters(), lr=0.01)
        >>> def closure():
        ...     opt.zero_grad()
        ...     loss = ((net(x) - y) ** 2).mean()
        ...     loss.backward(create_graph=True)
        ...     return loss
        >>> for _ in range(1000):
        ...     loss = opt.step(closure)
    """

    def __init__(self, params: Iterable, lr: float = 0.15, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-4, weight_decay: float = 0.0, hessian_power: float = 1.0, n_samples: int = 1,
                 update_every: int = 1, block: Literal["none", "row"] = "none",
                 generator: Optional[torch.Generator] = None):
        if block not in BLOCKS:
            raise ValueError(f"block: unknown {block!r} (valid: {', '.join(BLOCKS)})")
        if not 0 <= hessian_power <= 1 or n_samples < 1 or update_every < 1:
            raise ValueError("hessian_power must be in [0, 1], n_samples and update_every >= 1")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "hessian_power": hessian_power, "block": block}
        super().__init__(params, defaults)
        self.n_samples, self.update_every, self.generator = n_samples, update_every, generator

    def state_dict(self) -> dict:
        state = super().state_dict()
        if self.generator is not None:
            state["generator"] = self.generator.get_state()
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        generator = state_dict.pop("generator", None)
        if generator is not None and self.generator is not None:
            self.generator.set_state(generator)
        super().load_state_dict(state_dict)

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:  # type: ignore[override]
        """Evaluate the closure, refresh the Hessian diagonal when due, update; returns the (detached) loss."""
        with torch.enable_grad():
            loss = closure()
        pairs = [(p, group) for group in self.param_groups for p in group["params"] if p.grad is not None]
        if not pairs:
            return loss.detach()
        if self.state[pairs[0][0]].get("step", 0) % self.update_every == 0:
            self._estimate(pairs)
        for p, group in pairs:
            self._update(p, group)
            p.grad = p.grad.detach()
        return loss.detach()

    def _estimate(self, pairs: list[tuple[torch.Tensor, dict]]) -> None:
        params = [p for p, _ in pairs]
        with torch.enable_grad():
            diagonals = hutchinson_diagonal([p.grad for p in params], params, self.n_samples, self.generator)
        for (p, group), diagonal in zip(pairs, diagonals):
            self.state[p]["hessian_diag"] = block_average(diagonal, group["block"])

    def _update(self, p: torch.Tensor, group: dict) -> None:
        state = self.state[p]
        if "exp_avg" not in state:
            state.update(step=0, exp_avg=torch.zeros_like(p), exp_hessian_sq=torch.zeros_like(p))
        state["step"] += 1
        (beta1, beta2), k, diagonal = group["betas"], state["step"], state["hessian_diag"]
        state["exp_avg"].lerp_(p.grad, 1 - beta1)
        state["exp_hessian_sq"].mul_(beta2).addcmul_(diagonal, diagonal, value=1 - beta2)
        denominator = (state["exp_hessian_sq"] / (1 - beta2 ** k)).pow(group["hessian_power"] / 2).add_(group["eps"])
        p.mul_(1 - group["lr"] * group["weight_decay"])
        p.addcdiv_(state["exp_avg"], denominator, value=-group["lr"] / (1 - beta1 ** k))


class AdaHessianOptions(FirstOrderOptions):
    """AdaHessian's keys: the first-order schedule keys, its moments and the Hutchinson estimate."""

    optimizer: Literal["adahessian"]
    lr: float = Field(0.15, gt=0, description="the paper's default: the step is Newton-like, not Adam-sized")
    beta1: float = Field(0.9, ge=0, lt=1, description="decay of the gradient's moving average")
    beta2: float = Field(0.999, ge=0, lt=1, description="decay of the squared Hessian diagonal's moving average")
    eps: float = Field(1e-4, gt=0, le=1, description="added to the root of the second moment")
    hessian_power: float = Field(1.0, ge=0, le=1, description="k in m_hat / (v_hat^(k/2) + eps)")
    n_samples: int = Field(1, gt=0, le=100, description="Hutchinson vectors per estimate")
    update_every: int = Field(1, gt=0, description="re-estimate the Hessian diagonal every k steps")
    block: Literal["none", "row"] = Field("none", description='"row": average |diagonal| over weight rows')
    seed: int = Field(0, ge=0, lt=2**63, description="seed of the Hutchinson vectors, so that a run repeats exactly")


class AdaHessianPhase(FirstOrderPhase):
    """`optimizer = "adahessian"`: `AdaHessian` under a learning-rate schedule."""

    Options = AdaHessianOptions
    compilable = False  # the Hessian-vector products differentiate the gradient again
    create_graph = True
    distributed = False  # a gradient summed over processes has no graph for the Hessian-vector products

    def make_optimizer(self, groups: list[dict]) -> AdaHessian:
        o = self.options
        generator = torch.Generator(groups[0]["params"][0].device).manual_seed(o.seed)
        return AdaHessian(groups, lr=o.lr, betas=(o.beta1, o.beta2), eps=o.eps, weight_decay=o.weight_decay,
                          hessian_power=o.hessian_power, n_samples=o.n_samples, update_every=o.update_every,
                          block=o.block, generator=generator)
