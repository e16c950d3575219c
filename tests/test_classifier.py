"""The Classifier LightningModule: heads, labels, metrics, optimisers, regularisation."""

from __future__ import annotations

from functools import partial

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from lightning_dl.data import ArrayDataModule
from lightning_dl.models import Classifier
from lightning_dl.nn import MLP, Penalty


def fit(model, train, val=None, epochs: int = 1, **trainer_kwargs) -> pl.Trainer:
    trainer = pl.Trainer(max_epochs=epochs, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, accelerator="cpu", **trainer_kwargs)
    trainer.fit(model, train, val)
    return trainer


def loader(x, y, batch_size=16):
    return DataLoader(TensorDataset(x, y), batch_size=batch_size)


def test_binary_head_learns_a_separable_problem():
    torch.manual_seed(0)
    x = torch.randn(256, 2)
    y = (x[:, 0] > 0).long()
    model = Classifier(partial(MLP, hidden_sizes=[8]), input_shape=(2,), num_classes=2, head="binary", lr=0.05)
    trainer = fit(model, loader(x, y), loader(x, y), epochs=5)
    assert model.network.layers[-1].out_features == 1
    assert trainer.callback_metrics["val/accuracy"] > 0.9


def test_regression_head_logs_mse_and_mae():
    x = torch.randn(64, 3)
    y = x.sum(1, keepdim=True)
    model = Classifier(partial(MLP, hidden_sizes=[8]), input_shape=(3,), num_classes=1, head="regression")
    trainer = fit(model, loader(x, y), loader(x, y))
    assert {"val/mse", "val/mae", "val/loss"} <= set(trainer.callback_metrics)


def test_one_hot_and_integer_labels_give_the_same_loss(arrays):
    losses = {}
    for label_format in ("integer", "one_hot"):
        dm = ArrayDataModule(*arrays, layout="flat", label_format=label_format, batch_size=32)
        torch.manual_seed(0)
        model = Classifier(partial(MLP, hidden_sizes=[8]), input_shape=(64,), num_classes=4)
        trainer = pl.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
        losses[label_format] = trainer.validate(model, dm, verbose=False)[0]["val/loss"]
    assert losses["integer"] == pytest.approx(losses["one_hot"], rel=1e-5)


def test_metrics_are_top_k_errors(arrays):
    dm = ArrayDataModule(*arrays, layout="flat", num_classes=10, batch_size=32)
    model = Classifier(partial(MLP, hidden_sizes=[16]), input_shape=(64,), num_classes=10)
    trainer = pl.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    metrics = trainer.test(model, dm, verbose=False)[0]
    assert metrics["test/top1_error"] == pytest.approx(1 - metrics["test/accuracy"])
    assert 0 <= metrics["test/top5_error"] <= metrics["test/top1_error"]


@pytest.mark.parametrize("optimizer, expected", [("adam", torch.optim.Adam), ("rmsprop", torch.optim.RMSprop),
                                                 ("sgd", torch.optim.SGD)])
def test_optimisers(optimizer, expected):
    model = Classifier(MLP, input_shape=(4,), num_classes=3, optimizer=optimizer, lr=0.123)
    configured = model.configure_optimizers()
    assert type(configured) is expected and configured.param_groups[0]["lr"] == 0.123


def test_reduce_lr_on_plateau_watches_validation_loss():
    model = Classifier(MLP, input_shape=(4,), num_classes=3, reduce_lr_on_plateau=True, lr_patience=5)
    scheduler = model.configure_optimizers()["lr_scheduler"]
    assert scheduler["monitor"] == "val/loss" and scheduler["scheduler"].patience == 5


def test_regularisation_and_max_norm_apply_during_training(arrays):
    dm = ArrayDataModule(*arrays, layout="flat", batch_size=32)
    network = partial(MLP, hidden_sizes=[16], weight_penalty=Penalty(l2=1e-3))
    model = Classifier(network, input_shape=(64,), num_classes=4, max_norm=0.5, lr=0.05)
    trainer = fit(model, dm, log_every_n_steps=1)
    assert trainer.callback_metrics["train/regularization"] > 0
    for layer in (m for m in model.modules() if isinstance(m, torch.nn.Linear)):
        assert torch.all(layer.weight.norm(dim=1) <= 0.5 + 1e-5)


def test_predict_returns_probabilities(arrays):
    dm = ArrayDataModule(*arrays, layout="flat", batch_size=32)
    model = Classifier(MLP, input_shape=(64,), num_classes=4)
    trainer = pl.Trainer(logger=False, enable_progress_bar=False, accelerator="cpu")
    probabilities = torch.cat(trainer.predict(model, dm))
    assert probabilities.shape == (40, 4) and torch.allclose(probabilities.sum(1), torch.ones(40))
