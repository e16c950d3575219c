"""Recurrent layers with variational dropout, stacking, a bidirectional wrapper and a Conv1D front.

Dropout in a recurrent layer (Gal & Ghahramani; Keras' ``dropout`` and ``recurrent_dropout``) drops the
**same** units at every timestep of a sequence: one mask per sequence for the inputs and one for the
recurrent state. A fresh mask at each step would be noise that the recurrence amplifies; a fixed mask
regularises the same way dropout does in a dense layer.

:class:`Recurrent` runs PyTorch's fused ``nn.RNN``/``nn.LSTM``/``nn.GRU`` whenever ``recurrent_dropout`` is 0
(input dropout is applied to the whole input sequence before the fused kernel). With recurrent dropout the
state must be masked between steps, which the fused kernel cannot do, so the layer steps through time with
the fused module's own weights (same parameters, same results in evaluation mode), at a cost the docs page
measures (``scripts/benchmark_sequences.py``).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from lightning_dl.errors import ConfigurationError, DataValidationError, check_choice

CellName = Literal["simple", "lstm", "gru"]
FUSED: dict[str, type[nn.RNNBase]] = {"simple": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def sequence_mask(batch: int, features: int, p: float, like: Tensor) -> Tensor:
    """A dropout mask of one row per sequence, ``(batch, features)``, scaled by ``1 / (1 - p)``: the same units
    are dropped at every timestep of a sequence, and different ones in different sequences."""
    keep = torch.empty(batch, features, dtype=like.dtype, device=like.device).bernoulli_(1 - p)
    return keep.div_(1 - p)


def _check_probability(name: str, p: float) -> None:
    if not 0 <= p < 1:
        raise ConfigurationError(f"{name}={p} must lie in [0, 1).")


class Recurrent(nn.Module):
    """One recurrent layer (SimpleRNN, LSTM or GRU) over ``(batch, steps, features)`` inputs.

    Args:
        input_size: Features per timestep.
        units: Hidden units.
        cell: ``simple`` (Elman), ``lstm`` or ``gru``.
        dropout: Share of input features dropped, one mask per sequence for all its timesteps.
        recurrent_dropout: Share of the recurrent state dropped, one mask per sequence (stepped cell).
        return_sequences: Return the state at every step ``(batch, steps, units)``; else the last ``(batch, units)``.
    """

    def __init__(self, input_size: int, units: int, cell: CellName = "lstm", dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, return_sequences: bool = False) -> None:
        super().__init__()
        check_choice("cell", cell, CellName)
        _check_probability("dropout", dropout)
        _check_probability("recurrent_dropout", recurrent_dropout)
        self.cell, self.units, self.input_size = cell, units, input_size
        self.dropout, self.recurrent_dropout, self.return_sequences = dropout, recurrent_dropout, return_sequences
        self.fused = FUSED[cell](input_size, units, batch_first=True)

    @property
    def output_size(self) -> int:
        return self.units

    def uses_fused_kernel(self) -> bool:
        """Whether the next call runs the fused kernel: always, unless recurrent dropout is active (training)."""
        return not (self.training and self.recurrent_dropout > 0)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise DataValidationError(f"A recurrent layer reads (batch, steps, {self.input_size}) inputs; got "
                                      f"{tuple(x.shape)}.")
        if self.training and self.dropout > 0:
            x = x * sequence_mask(x.shape[0], x.shape[2], self.dropout, x)[:, None, :]
        if self.uses_fused_kernel():
            outputs, _ = self.fused(x)
        else:
            outputs = self.stepped(x, sequence_mask(x.shape[0], self.units, self.recurrent_dropout, x))
        return outputs if self.return_sequences else outputs[:, -1]

    def stepped(self, x: Tensor, state_mask: Tensor | None = None) -> Tensor:
        """Step through time with the fused module's weights, multiplying the state by ``state_mask`` (one row per
        sequence) where it enters the recurrent weights. Returns the state at every step."""
        weight_ih, weight_hh = self.fused.weight_ih_l0, self.fused.weight_hh_l0
        bias_ih, bias_hh = self.fused.bias_ih_l0, self.fused.bias_hh_l0
        projected = torch.nn.functional.linear(x, weight_ih, bias_ih)  # every step's input part at once
        batch, steps = x.shape[:2]
        h = x.new_zeros(batch, self.units)
        c = x.new_zeros(batch, self.units)
        outputs = []
        for t in range(steps):
            recurrent = torch.nn.functional.linear(h if state_mask is None else h * state_mask, weight_hh, bias_hh)
            if self.cell == "simple":
                h = torch.tanh(projected[:, t] + recurrent)
            elif self.cell == "lstm":
                i, f, g, o = (projected[:, t] + recurrent).chunk(4, dim=1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
            else:  # gru, PyTorch's gate order and reset placement
                xr, xz, xn = projected[:, t].chunk(3, dim=1)
                hr, hz, hn = recurrent.chunk(3, dim=1)
                r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
                n = torch.tanh(xn + r * hn)
                h = (1 - z) * n + z * h
            outputs.append(h)
        return torch.stack(outputs, dim=1)


class Bidirectional(nn.Module):
    """Reads the sequence both ways with two layers of the same settings; their outputs side by side.

    With ``return_sequences`` each step holds both directions' states for that step; otherwise the forward
    layer's last state and the backward layer's last state (which has read the sequence from its end back to
    its first step).
    """

    def __init__(self, forward_layer: Recurrent, backward_layer: Recurrent) -> None:
        super().__init__()
        self.forward_layer, self.backward_layer = forward_layer, backward_layer

    @property
    def output_size(self) -> int:
        return self.forward_layer.output_size + self.backward_layer.output_size

    def forward(self, x: Tensor) -> Tensor:
        ahead, back = self.forward_layer(x), self.backward_layer(x.flip(1))
        if self.backward_layer.return_sequences:
            back = back.flip(1)
        return torch.cat([ahead, back], dim=-1)


class RecurrentStack(nn.Module):
    """Stacked recurrent layers: every layer but the last returns its whole sequence, the last its final state.

    Args:
        input_size: Features per timestep.
        units: Hidden units of each layer, bottom first (one entry per layer).
        cell: ``simple``, ``lstm`` or ``gru``.
        dropout: Input dropout of each layer (one mask per sequence).
        recurrent_dropout: Recurrent-state dropout of each layer (one mask per sequence).
        bidirectional: Wrap every layer in :class:`Bidirectional`.
        return_sequences: Whether the top layer returns its whole sequence too.
    """

    def __init__(self, input_size: int, units: list[int], cell: CellName = "lstm", dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, bidirectional: bool = False, return_sequences: bool = False) -> None:
        super().__init__()
        if not units:
            raise ConfigurationError("A recurrent stack needs at least one layer: give units, e.g. [64].")
        layers: list[nn.Module] = []
        size = input_size
        for depth, width in enumerate(units):
            sequences = return_sequences or depth < len(units) - 1

            def make() -> Recurrent:
                return Recurrent(size, width, cell, dropout, recurrent_dropout, sequences)

            layer = Bidirectional(make(), make()) if bidirectional else make()
            layers.append(layer)
            size = layer.output_size
        self.layers = nn.Sequential(*layers)
        self.output_size = size

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class ConvFront(nn.Module):
    """Conv1D + ReLU + max pooling blocks over ``(batch, steps, features)`` that shorten a long sequence before
    the recurrent part (each block divides the number of steps by ``pool_size``); ``(batch, steps', channels)``.

    Args:
        input_size: Features per timestep.
        channels: Filters of each block.
        kernel_size: Width of each convolution window in timesteps (``same`` padding).
        pool_size: Max-pooling window and stride after each block.
    """

    def __init__(self, input_size: int, channels: list[int], kernel_size: int = 5, pool_size: int = 2) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        size = input_size
        for width in channels:
            blocks += [nn.Conv1d(size, width, kernel_size, padding=kernel_size // 2), nn.ReLU(),
                       nn.MaxPool1d(pool_size, ceil_mode=True)]
            size = width
        self.blocks = nn.Sequential(*blocks)
        self.output_size, self.pool_size, self.depth = size, pool_size, len(channels)

    def output_steps(self, steps: int) -> int:
        """Timesteps left of a sequence of ``steps`` after the blocks."""
        for _ in range(self.depth):
            steps = -(-steps // self.pool_size)
        return steps

    def forward(self, x: Tensor) -> Tensor:
        return self.blocks(x.transpose(1, 2)).transpose(1, 2)
