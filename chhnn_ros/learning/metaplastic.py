"""Metaplastic Adam (Laborieux et al. 2021), adapted to real-valued synapses.

Written by hand because no maintained library ships it.  For every weight in
a *metaplastic* group, an update that would shrink |w| is multiplied by
f(m·|w|); an update that grows |w| passes unchanged.  Large (consolidated)
weights therefore resist being unlearned while small ones stay plastic.
``m = 0`` turns it into plain Adam (the ablation).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

# f(z) for z = m·|w| ≥ 0; each may overwrite z (a temporary), in place to save memory passes.
META_FUNCTIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "exp": lambda z: z.neg_().exp_(),
    "tanh": lambda z: z.tanh_().square_().neg_().add_(1.0),
    "sigmoid": lambda z: z.exp_().add_(1.0).reciprocal_().mul_(2.0),
}


def meta_factor(weight: torch.Tensor, update: torch.Tensor, m: float, fn: str = "exp") -> torch.Tensor:
    """Multiplier for ``update`` (the quantity *subtracted* from ``weight``):
    f(m·|w|) where the step moves w toward 0 (w and update of the same sign), else 1.

    Float masks instead of ``torch.where`` on a bool mask: the latter was the
    single most expensive op of a teach on CPU (about 8x a float pass here).
    """
    shrinks = torch.gt(torch.mul(weight, update), 0.0, out=torch.empty_like(weight))
    f = META_FUNCTIONS[fn](weight.abs().mul_(m))
    return f.sub_(1.0).mul_(shrinks).add_(1.0)  # 1 + shrinks·(f − 1)


class MetaplasticAdam(torch.optim.Optimizer):
    """Adam (or SGD with momentum, ``betas[1] = 0``) whose groups with ``meta > 0``
    apply :func:`meta_factor`.

    With ``betas[1] == 0`` the update is the momentum-averaged gradient itself
    (no per-weight normalisation), which moves weights in proportion to their
    gradient: in online learning with a fresh optimizer per teach, Adam's first
    steps move *every* weight by ~lr whatever its gradient, which costs memory.
    """

    def __init__(
        self,
        params: Iterable[torch.nn.Parameter] | Iterable[dict],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        meta: float = 0.0,
        meta_fn: str = "exp",
        weight_decay: float = 0.0,
    ) -> None:
        if meta_fn not in META_FUNCTIONS:
            raise ValueError(f"meta_fn must be one of {sorted(META_FUNCTIONS)}")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "meta": meta, "meta_fn": meta_fn,
                    "weight_decay": weight_decay}
        super().__init__(params, defaults)
        self.last_scaled_fraction = 0.0  # share of entries damped in the last step (diagnostics)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = closure() if closure is not None else None
        damped = total = 0
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                if group["weight_decay"]:
                    grad = grad.add(p, alpha=group["weight_decay"])
                st = self.state[p]
                if not st:
                    st["step"] = 0
                    st["m"] = torch.zeros_like(p)
                    if b2:
                        st["v"] = torch.zeros_like(p)
                st["step"] += 1
                st["m"].mul_(b1).add_(grad, alpha=1 - b1)
                lr = group["lr"] / (1 - b1 ** st["step"])  # bias correction of m folded into the step size
                if b2 == 0:  # SGD with (bias-corrected) momentum: the update is m itself
                    update = st["m"]
                else:
                    st["v"].mul_(b2).addcmul_(grad, grad, value=1 - b2)
                    update = st["m"] / ((st["v"] / (1 - b2 ** st["step"])).sqrt() + group["eps"])
                if group["meta"] > 0:
                    factor = meta_factor(p, update, group["meta"], group["meta_fn"])
                    damped += int(torch.count_nonzero(factor.lt(1.0)))
                    total += factor.numel()
                    p.addcmul_(update, factor, value=-lr)
                else:
                    p.add_(update, alpha=-lr)
        if total:
            self.last_scaled_fraction = damped / total
        return loss
