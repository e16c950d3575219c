"""Classifier and Regressor on the module base: heads, labels, metrics by hand, injected optimisers and
schedulers, regularisation in the loss, label checks without host syncs."""

from __future__ import annotations

from functools import partial

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from lightning_dl.data import ArrayDataModule
from lightning_dl.errors import ConfigurationError, DataValidationError
from lightning_dl.models import Classifier, LinearWarmup, Regressor
from lightning_dl.nn import MLP, Penalty, regularization_loss


def trainer(epochs: int = 1, **kwargs) -> pl.Trainer:
    return pl.Trainer(max_epochs=epochs, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, accelerator="cpu", **kwargs)


def loader(x, y, batch_size=16):
    return DataLoader(TensorDataset(x, y), batch_size=batch_size)


def test_binary_head_learns_a_separable_problem():
    torch.manual_seed(0)
    x = torch.randn(256, 2)
    y = (x[:, 0] > 0).long()
    model = Classifier(partial(MLP, hidden_sizes=[8]), input_shape=(2,), num_classes=2, head="binary",
                       optimizer=partial(torch.optim.Adam, lr=0.05))
    fitted = trainer(5)
    fitted.fit(model, loader(x, y), loader(x, y))
    assert model.network.num_outputs == 1
    assert fitted.callback_metrics["val/accuracy"] > 0.9


def test_accuracy_and_loss_equal_those_computed_by_hand(arrays):
    """Metrics over several batches (and chunks) match a plain computation over the whole validation set."""
    dm = ArrayDataModule(*arrays, layout="flat", batch_size=7)
    torch.manual_seed(0)
    model = Classifier(partial(MLP, hidden_sizes=[16]), input_shape=(64,), num_classes=4)
    metrics = trainer().test(model, dm, verbose=False)[0]
    x, y = dm.test_set.inputs, dm.test_set.targets
    with torch.no_grad():
        logits = model(x)
    assert metrics["test/accuracy"] == pytest.approx((logits.argmax(1) == y).float().mean().item(), abs=1e-6)
    assert metrics["test/loss"] == pytest.approx(F.cross_entropy(logits, y).item(), rel=1e-5)


def test_regressor_metrics_equal_those_computed_by_hand():
    torch.manual_seed(0)
    x, y = torch.randn(50, 3), torch.randn(50, 2)
    model = Regressor(partial(MLP, hidden_sizes=[8]), input_shape=(3,), num_outputs=2, loss="mae")
    metrics = trainer().validate(model, loader(x, y, batch_size=8), verbose=False)[0]
    with torch.no_grad():
        errors = model(x) - y
    assert metrics["val/mse"] == pytest.approx(errors.pow(2).mean().item(), rel=1e-5)
    assert metrics["val/rmse"] == pytest.approx(errors.pow(2).mean().sqrt().item(), rel=1e-5)
    assert metrics["val/mae"] == pytest.approx(errors.abs().mean().item(), rel=1e-5)
    assert metrics["val/loss"] == pytest.approx(errors.abs().mean().item(), rel=1e-5)  # loss: mae


def test_regressor_names_the_mismatch_of_targets_and_outputs():
    model = Regressor(MLP, input_shape=(3,), num_outputs=1)
    with pytest.raises(DataValidationError, match="num_outputs"):
        trainer().validate(model, loader(torch.randn(8, 3), torch.randn(8, 2)), verbose=False)


def test_one_hot_and_integer_labels_give_the_same_loss(arrays):
    losses = {}
    for label_format in ("integer", "one_hot"):
        dm = ArrayDataModule(*arrays, layout="flat", label_format=label_format, batch_size=32)
        torch.manual_seed(0)
        model = Classifier(partial(MLP, hidden_sizes=[8]), input_shape=(64,), num_classes=4)
        losses[label_format] = trainer().validate(model, dm, verbose=False)[0]["val/loss"]
    assert losses["integer"] == pytest.approx(losses["one_hot"], rel=1e-5)


def test_top_k_errors(arrays):
    dm = ArrayDataModule(*arrays, layout="flat", num_classes=10, batch_size=32)
    model = Classifier(partial(MLP, hidden_sizes=[16]), input_shape=(64,), num_classes=10)
    metrics = trainer().test(model, dm, verbose=False)[0]
    assert metrics["test/top1_error"] == pytest.approx(1 - metrics["test/accuracy"])
    assert 0 <= metrics["test/top5_error"] <= metrics["test/top1_error"]
    four = Classifier(partial(MLP, hidden_sizes=[16]), input_shape=(64,), num_classes=4)
    assert "test/top5_error" not in trainer().test(four, ArrayDataModule(*arrays, layout="flat"), verbose=False)[0]


def test_any_optimiser_and_scheduler_are_injected():
    model = Classifier(MLP, input_shape=(4,), num_classes=3,
                       optimizer=partial(torch.optim.SGD, lr=0.1, momentum=0.9, nesterov=True),
                       lr_scheduler=partial(torch.optim.lr_scheduler.MultiStepLR, milestones=[1], gamma=0.5))
    x, y = torch.randn(32, 4), torch.arange(32) % 3
    fitted = trainer(2, limit_val_batches=0)
    fitted.fit(model, loader(x, y))
    optimizer = fitted.optimizers[0]
    assert type(optimizer) is torch.optim.SGD and optimizer.param_groups[0]["nesterov"]
    assert fitted.lr_scheduler_configs[0].scheduler.last_epoch == 2  # stepped at the end of each epoch
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5)  # halved once, at milestone 1


def test_one_cycle_gets_its_total_steps_from_the_trainer():
    model = Classifier(MLP, input_shape=(4,), num_classes=3, optimizer=partial(torch.optim.SGD, lr=0.1),
                       lr_scheduler=partial(torch.optim.lr_scheduler.OneCycleLR, max_lr=0.1))
    x, y = torch.randn(40, 4), torch.arange(40) % 3
    fitted = trainer(3, limit_val_batches=0)
    fitted.fit(model, loader(x, y, batch_size=8))  # 5 batches x 3 epochs
    scheduler = fitted.lr_scheduler_configs[0].scheduler
    assert scheduler.total_steps == 15 and scheduler.last_epoch == 15
    assert fitted.lr_scheduler_configs[0].interval == "step"


def test_linear_warmup_then_cosine():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = LinearWarmup(optimizer, warmup_steps=4, decay="cosine", total_steps=12, start_factor=0.0)
    rates = []
    for _ in range(13):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates[:5] == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])
    assert rates[8] == pytest.approx(0.5) and rates[12] == pytest.approx(0.0, abs=1e-12)


def test_plateau_scheduler_watches_what_the_model_monitors():
    model = Classifier(MLP, input_shape=(4,), num_classes=3, optimizer=partial(torch.optim.SGD, lr=0.1),
                       lr_scheduler=partial(torch.optim.lr_scheduler.ReduceLROnPlateau, patience=0, factor=0.5))
    seen = []

    class Record(pl.Callback):
        def on_validation_end(self, trainer, pl_module):
            seen.append(trainer.callback_metrics["val/loss"].item())

    x, y = torch.randn(32, 4), torch.arange(32) % 3
    fitted = trainer(4, num_sanity_val_steps=0, callbacks=[Record()])
    fitted.fit(model, loader(x, y), loader(x[:8], y[:8]))
    scheduler = fitted.lr_scheduler_configs[0].scheduler
    assert len(seen) == 4 and scheduler.last_epoch == 4  # stepped once per epoch...
    assert scheduler.best == pytest.approx(min(seen), rel=1e-6)  # ...with val/loss


def test_plateau_scheduler_is_refused_for_a_model_that_monitors_nothing():
    class Unmonitored(Classifier):
        monitor = None

    model = Unmonitored(MLP, input_shape=(4,), num_classes=3,
                        lr_scheduler=partial(torch.optim.lr_scheduler.ReduceLROnPlateau))
    with pytest.raises(ConfigurationError, match="monitors nothing"):
        trainer().fit(model, loader(torch.randn(8, 4), torch.arange(8) % 3))


def test_the_regularisation_penalty_is_part_of_the_training_loss():
    torch.manual_seed(0)
    network = partial(MLP, hidden_sizes=[8], weight_penalty=Penalty(l2=0.5), activity_penalty=Penalty(l1=0.1))
    model = Classifier(network, input_shape=(4,), num_classes=3)
    x, y = torch.randn(16, 4), torch.arange(16) % 3
    loss = model.training_step((x, y), 0)
    expected = F.cross_entropy(model(x), y) + regularization_loss(model.network)
    assert regularization_loss(model.network) > 0.1
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_regularisation_and_max_norm_apply_during_training(arrays):
    dm = ArrayDataModule(*arrays, layout="flat", batch_size=32)
    network = partial(MLP, hidden_sizes=[16], weight_penalty=Penalty(l2=1e-3))
    model = Classifier(network, input_shape=(64,), num_classes=4, max_norm=0.5,
                       optimizer=partial(torch.optim.Adam, lr=0.05))
    fitted = trainer(log_every_n_steps=1)
    fitted.fit(model, dm)
    assert fitted.callback_metrics["train/regularization"] > 0
    for layer in (m for m in model.modules() if isinstance(m, torch.nn.Linear)):
        assert torch.all(layer.weight.norm(dim=1) <= 0.5 + 1e-5)


def test_predict_returns_probabilities(arrays):
    dm = ArrayDataModule(*arrays, layout="flat", batch_size=32)
    model = Classifier(MLP, input_shape=(64,), num_classes=4)
    probabilities = torch.cat(pl.Trainer(logger=False, enable_progress_bar=False, accelerator="cpu").predict(model, dm))
    assert probabilities.shape == (40, 4) and torch.allclose(probabilities.sum(1), torch.ones(40))


# --- labels are checked on every batch, without stopping the device for it ------------------------------
def labels_with_a_bad_batch(bad_batch: int, batches: int = 5, batch_size: int = 4):
    y = torch.arange(batches * batch_size) % 3
    y[bad_batch * batch_size + 1] = 7
    return loader(torch.randn(batches * batch_size, 4), y, batch_size=batch_size)


@pytest.mark.parametrize("stage", ["train", "val"])
def test_a_bad_label_in_a_later_batch_is_named(stage):
    model = Classifier(MLP, input_shape=(4,), num_classes=3)
    good = loader(torch.randn(20, 4), torch.arange(20) % 3, batch_size=4)
    train, val = (labels_with_a_bad_batch(3), good) if stage == "train" else (good, labels_with_a_bad_batch(3))
    with pytest.raises(DataValidationError, match=rf"{stage} batch 3 has labels in \[0, 7\].*integers in \[0, 2\]"):
        trainer(num_sanity_val_steps=0).fit(model, train, val)


def test_label_checks_do_not_sync_with_the_host_on_every_batch(monkeypatch):
    model = Classifier(MLP, input_shape=(4,), num_classes=3)
    syncs = []
    for name in ("item", "tolist", "__bool__", "__int__", "__float__"):
        original = getattr(torch.Tensor, name)
        monkeypatch.setattr(torch.Tensor, name, lambda self, *a, _o=original, _n=name: syncs.append(_n) or _o(self, *a))
    x, y = torch.randn(4, 4), torch.tensor([0, 1, 2, 9])
    for batch_idx in range(5):
        model.training_step((x, y), batch_idx)
    monkeypatch.undo()
    assert syncs == []
    with pytest.raises(DataValidationError, match=r"train batch 0 has labels in \[0, 9\]"):
        model.check_labels("train")


def test_one_hot_labels_of_the_wrong_width_are_named():
    model = Classifier(MLP, input_shape=(4,), num_classes=3)
    data = loader(torch.randn(8, 4), torch.eye(4)[torch.arange(8) % 4], batch_size=8)
    with pytest.raises(DataValidationError, match="one-hot vectors of length 3"):
        trainer(fast_dev_run=True).fit(model, data)


@pytest.mark.parametrize("option, value", [("head", "softmax"), ("loss", "l3")])
def test_unknown_model_options(option, value):
    build = Classifier if option == "head" else Regressor
    with pytest.raises(ConfigurationError, match=f"Unknown {option} '{value}'; choose one of"):
        build(MLP, input_shape=(4,), **{option: value})


def test_multiclass_needs_two_classes():
    with pytest.raises(ConfigurationError, match="multiclass head needs num_classes >= 2"):
        Classifier(MLP, input_shape=(4,), num_classes=1)
