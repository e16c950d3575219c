"""Checks every deep convnet family shares: the Network interface, and freezing through a real training step."""

from __future__ import annotations

import copy

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from lightning_dl.models import Classifier
from lightning_dl.nn import Network


def parameter_count(network: torch.nn.Module) -> int:
    return sum(p.numel() for p in network.parameters())


def check_interface(network: Network, input_shape: tuple[int, ...], num_outputs: int) -> None:
    """forward = head(features), the feature size is what the head takes, reset_head gives a new head."""
    network.eval()
    x = torch.randn(2, *input_shape)
    features = network.forward_features(x)
    assert features.shape == (2, network.num_features)
    assert network(x).shape == (2, num_outputs)
    assert torch.equal(network(x), network.head(features))
    network.reset_head(3)
    assert network(x).shape == (2, 3)


def train_one_step(build, input_shape: tuple[int, ...], freeze: bool) -> tuple[dict, dict, Classifier]:
    """One Classifier training step (Adam, the network's penalties in the loss) with the body frozen or not;
    returns the state before and after."""
    torch.manual_seed(0)
    model = Classifier(lambda shape, outputs: build(shape, outputs), input_shape=input_shape, num_classes=4,
                       optimizer=lambda params: torch.optim.Adam(params, lr=1e-2))
    if freeze:
        model.network.freeze_features()
    before = copy.deepcopy(model.network.state_dict())
    data = TensorDataset(torch.randn(8, *input_shape), torch.arange(8) % 4)
    trainer = pl.Trainer(max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, accelerator="cpu", num_sanity_val_steps=0)
    trainer.fit(model, DataLoader(data, batch_size=8))
    return before, model.network.state_dict(), model


def check_freezing(build, input_shape: tuple[int, ...]) -> None:
    """Frozen: every body tensor (weights and batch-norm statistics) unchanged, the head changed.
    Not frozen: the body's weights change too."""
    before, after, model = train_one_step(build, input_shape, freeze=True)
    body = {f"features.{k}" for k in model.network.features.state_dict()}
    assert all(torch.equal(before[k], after[k]) for k in body)
    assert any(not torch.equal(before[k], after[k]) for k in after if k.startswith("head."))
    before, after, model = train_one_step(build, input_shape, freeze=False)
    weights = [k for k, p in model.network.features.named_parameters()]
    assert all(not torch.equal(before[f"features.{k}"], after[f"features.{k}"]) for k in weights)
