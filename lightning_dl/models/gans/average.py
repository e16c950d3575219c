"""An exponential moving average of a generator's weights, sampled from instead of the generator itself."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel


class GeneratorAverage(AveragedModel):
    """An exponential moving average of a generator's weights and buffers whose decay warms up:
    ``min(decay, (1 + n) / (10 + n))`` at the ``n``-th update (the first one copies). A fixed 0.999 would
    still give the random initial weights a share of 0.999¹⁰⁰⁰ ≈ 0.37 after 1,000 generator steps; warmed
    up, the average follows the generator early and smooths it late.

    An ``AveragedModel`` (same state: ``module.*`` and ``n_averaged``) whose update never waits for the
    device: ``AveragedModel.update_parameters`` reads its counter on the host, and a decay computed on the host
    from it would stall a GPU on every parameter of every generator step.
    """

    def __init__(self, generator: nn.Module, decay: float) -> None:
        super().__init__(generator, use_buffers=True)
        self.decay = decay
        self.requires_grad_(False)

    def current_decay(self) -> Tensor:
        """The decay of the next update, as a tensor on the average's device (0 for the first: a copy)."""
        n = self.n_averaged
        return torch.where(n > 0, ((1 + n) / (10 + n)).clamp(max=self.decay), 0.0)

    @torch.no_grad()
    def update_parameters(self, model: nn.Module) -> None:
        """``average ← lerp(average, current, 1 - decay)`` for every floating-point weight and buffer (public
        ``Tensor.lerp_`` with the weight as a device tensor: no host sync); integer buffers (batch norm's
        counter) are copied."""
        weight = 1 - self.current_decay()
        averages = [*self.module.parameters(), *self.module.buffers()]
        currents = [*model.parameters(), *model.buffers()]
        for average, current in zip(averages, currents):
            if average.is_floating_point():
                average.lerp_(current.detach(), weight.to(average.dtype))
            else:
                average.copy_(current)
        self.n_averaged += 1
