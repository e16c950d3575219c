"""Recurrent building blocks: variational dropout, the fused and stepped paths, stacking, both directions, the
Conv1D front, and the sequence network built from them."""

from __future__ import annotations

import pytest
import torch

from lightning_dl.errors import ConfigurationError
from lightning_dl.nn import Bidirectional, ConvFront, Recurrent, RecurrentStack, SequenceNetwork

CELLS = ["simple", "lstm", "gru"]



#: Small recurrent steps run many times faster on one thread than on two contended ones (a shared machine).
pytestmark = pytest.mark.usefixtures("one_thread")


def captured_fused_input(layer: Recurrent, x: torch.Tensor) -> torch.Tensor:
    seen = []
    handle = layer.fused.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach()))
    layer(x)
    handle.remove()
    return seen[0]


@pytest.mark.parametrize("cell", CELLS)
def test_input_dropout_mask_is_constant_over_time_and_differs_between_sequences(cell):
    torch.manual_seed(0)
    layer = Recurrent(6, 8, cell, dropout=0.5).train()
    masked = captured_fused_input(layer, torch.ones(16, 10, 6))
    assert torch.equal(masked, masked[:, :1].expand_as(masked))  # every timestep: the same mask
    assert set(masked.unique().tolist()) == {0.0, 2.0}  # dropped, or kept and scaled by 1 / (1 - p)
    assert len({tuple(row.tolist()) for row in masked[:, 0]}) > 1  # ...and another one for another sequence
    assert torch.equal(captured_fused_input(layer.eval(), torch.ones(16, 10, 6)), torch.ones(16, 10, 6))


@pytest.mark.parametrize("cell", CELLS)
def test_recurrent_dropout_uses_one_state_mask_per_sequence_for_every_step(cell, monkeypatch):
    torch.manual_seed(0)
    layer = Recurrent(3, 32, cell, recurrent_dropout=0.5).train()
    masks, steps = [], []
    original = Recurrent.stepped

    def stepped(self, x, state_mask=None):
        masks.append(state_mask)
        return original(self, x, state_mask)

    monkeypatch.setattr(Recurrent, "stepped", stepped)
    monkeypatch.setattr(torch.nn.functional, "linear", _counting(torch.nn.functional.linear, steps))
    layer(torch.randn(4, 7, 3))
    mask = masks[0]
    assert mask.shape == (4, 32)  # one row per sequence, no time axis: every step multiplies the state by it
    assert set(mask.unique().tolist()) == {0.0, 2.0} and len({tuple(r.tolist()) for r in mask}) == 4
    hidden_inputs = [args for args in steps if args[0].shape[-1] == 32]
    assert len(hidden_inputs) == 7  # the state enters the recurrent weights once per step...
    for state, in hidden_inputs[1:]:
        assert (state[mask == 0] == 0).all() and (state[mask != 0] != 0).all()  # ...always through that mask


def _counting(function, calls):
    def wrapper(input, *args, **kwargs):
        calls.append((input.detach(),))
        return function(input, *args, **kwargs)
    return wrapper


@pytest.mark.parametrize("cell", CELLS)
def test_the_fused_kernel_runs_whenever_recurrent_dropout_is_zero(cell, monkeypatch):
    def refuse(self, x, state_mask=None):
        raise AssertionError("stepped cell")

    monkeypatch.setattr(Recurrent, "stepped", refuse)
    x = torch.randn(2, 5, 3)
    Recurrent(3, 4, cell, dropout=0.3).train()(x)  # input dropout alone keeps the fused kernel
    Recurrent(3, 4, cell, recurrent_dropout=0.3).eval()(x)  # ...and so does evaluation
    with pytest.raises(AssertionError, match="stepped"):
        Recurrent(3, 4, cell, recurrent_dropout=0.3).train()(x)


@pytest.mark.parametrize("cell", CELLS)
def test_the_stepped_cell_computes_what_the_fused_kernel_computes(cell):
    torch.manual_seed(1)
    layer = Recurrent(5, 6, cell, return_sequences=True)
    x = torch.randn(3, 9, 5)
    fused, _ = layer.fused(x)
    assert torch.allclose(layer.stepped(x), fused, atol=1e-5)
    assert torch.allclose(layer.stepped(x, torch.ones(3, 6)), fused, atol=1e-5)


def test_stacking_returns_sequences_below_and_the_final_state_on_top():
    stack = RecurrentStack(4, [8, 6, 5], "lstm")
    assert [layer.return_sequences for layer in stack.layers] == [True, True, False]
    assert stack(torch.randn(2, 7, 4)).shape == (2, 5)
    assert RecurrentStack(4, [8, 6], "gru", return_sequences=True)(torch.randn(2, 7, 4)).shape == (2, 7, 6)
    with pytest.raises(ConfigurationError, match="at least one layer"):
        RecurrentStack(4, [])


def test_bidirectional_reads_the_sequence_both_ways():
    torch.manual_seed(0)
    both = Bidirectional(Recurrent(3, 4, "gru"), Recurrent(3, 4, "gru"))
    x = torch.randn(2, 6, 3)
    out = both(x)
    assert out.shape == (2, 8) and both.output_size == 8
    assert torch.allclose(out[:, :4], both.forward_layer(x))
    assert torch.allclose(out[:, 4:], both.backward_layer(x.flip(1)))
    assert not torch.allclose(out[:, 4:], both.backward_layer(x))  # the backward half did read it reversed
    sequences = Bidirectional(*(Recurrent(3, 4, "gru", return_sequences=True) for _ in range(2)))
    assert sequences(x).shape == (2, 6, 8)
    stack = RecurrentStack(3, [4, 4], "lstm", bidirectional=True)
    assert stack(x).shape == (2, 8) and stack.output_size == 8


def test_conv_front_shortens_the_sequence():
    front = ConvFront(3, [8, 16], kernel_size=5, pool_size=3)
    out = front(torch.randn(2, 100, 3))
    assert out.shape == (2, front.output_steps(100), 16) == (2, 12, 16)


@pytest.mark.parametrize("cell", CELLS)
def test_sequence_network_on_series_and_on_tokens(cell):
    series = SequenceNetwork((20, 3), 4, cell, units=[8, 8], bidirectional=True, conv_channels=[6], dropout=0.2,
                             recurrent_dropout=0.2)
    assert series(torch.randn(5, 20, 3)).shape == (5, 4) and series.num_features == 16
    tokens = SequenceNetwork((12,), 2, cell, units=[8], vocab_size=30, embedding_dim=5)
    assert tokens(torch.randint(0, 30, (5, 12))).shape == (5, 2)
    assert tokens.embedding.padding_idx == 0
    with pytest.raises(ConfigurationError, match="vocab_size"):
        SequenceNetwork((12,), 2)
