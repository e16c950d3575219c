"""Focal loss, class-weighted cross-entropy and label smoothing, each against a value computed by hand, and as
the Classifier's loss option."""

from __future__ import annotations

import math
from functools import partial

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from lightning_dl.errors import ConfigurationError
from lightning_dl.models import Classifier
from lightning_dl.nn import MLP, ClassificationLoss, binary_focal_loss, categorical_focal_loss

LN3 = math.log(3.0)
#: Two samples over two classes: softmax probabilities (0.75, 0.25) and (0.5, 0.5).
LOGITS = torch.tensor([[LN3, 0.0], [0.0, 0.0]])
LABELS = torch.tensor([0, 1])


def test_binary_focal_loss_by_hand():
    # p = 0.5 for both; positive: 0.25 · 0.5² · ln 2, negative: 0.75 · 0.5² · ln 2
    loss = binary_focal_loss(torch.zeros(2), torch.tensor([1, 0]))
    assert loss.item() == pytest.approx((0.25 * 0.25 + 0.75 * 0.25) * math.log(2) / 2)
    torchvision_ops = pytest.importorskip("torchvision.ops")
    logits, targets = torch.randn(20), (torch.rand(20) > 0.5).float()
    assert binary_focal_loss(logits, targets).item() == pytest.approx(
        torchvision_ops.sigmoid_focal_loss(logits, targets, alpha=0.25, gamma=2, reduction="mean").item(), rel=1e-5)


def test_categorical_focal_loss_by_hand():
    # sample 1: p_true = 0.75; sample 2: p_true = 0.5
    expected = (-0.25 * 0.25 ** 2 * math.log(0.75) - 0.25 * 0.5 ** 2 * math.log(0.5)) / 2
    assert categorical_focal_loss(LOGITS, LABELS).item() == pytest.approx(expected)
    one_hot = torch.nn.functional.one_hot(LABELS, 2).float()
    assert categorical_focal_loss(LOGITS, one_hot).item() == pytest.approx(expected)


def test_focal_loss_with_gamma_0_and_alpha_1_is_cross_entropy():
    logits, labels = torch.randn(6, 4), torch.arange(6) % 4
    focal = ClassificationLoss("focal", focal_alpha=1.0, focal_gamma=0.0)
    assert focal(logits, labels).item() == pytest.approx(torch.nn.functional.cross_entropy(logits, labels).item(),
                                                         rel=1e-5)


def test_class_weighted_cross_entropy_by_hand():
    # per-sample losses -ln 0.75 and ln 2, weights 1 and 3 (by true class)
    expected = (1 * -math.log(0.75) + 3 * math.log(2)) / 4
    loss = ClassificationLoss("cross_entropy", class_weights=[1.0, 3.0])
    assert loss(LOGITS, LABELS).item() == pytest.approx(expected)
    binary = ClassificationLoss("cross_entropy", binary=True, class_weights=[1.0, 3.0])
    # sigmoid(0) = 0.5 for the negative (weight 1), sigmoid(ln 3) = 0.75 for the positive (weight 3)
    assert binary(torch.tensor([0.0, LN3]), torch.tensor([0, 1])).item() == pytest.approx(
        (math.log(2) + 3 * -math.log(0.75)) / 4)


def test_class_weighted_focal_loss_by_hand():
    expected = (1 * -0.25 * 0.25 ** 2 * math.log(0.75) + 3 * -0.25 * 0.5 ** 2 * math.log(0.5)) / 4
    assert ClassificationLoss("focal", class_weights=[1, 3])(LOGITS, LABELS).item() == pytest.approx(expected)


def test_label_smoothing_by_hand():
    # ε = 0.2 over 2 classes: targets (0.9, 0.1) and (0.1, 0.9)
    expected = (-(0.9 * math.log(0.75) + 0.1 * math.log(0.25)) - (0.1 * math.log(0.5) + 0.9 * math.log(0.5))) / 2
    assert ClassificationLoss(label_smoothing=0.2)(LOGITS, LABELS).item() == pytest.approx(expected)
    focal = ClassificationLoss("focal", label_smoothing=0.2)
    smoothed = (-0.25 * (0.9 * 0.25 ** 2 * math.log(0.75) + 0.1 * 0.75 ** 2 * math.log(0.25))
                - 0.25 * (0.1 * 0.5 ** 2 * math.log(0.5) + 0.9 * 0.5 ** 2 * math.log(0.5))) / 2
    assert focal(LOGITS, LABELS).item() == pytest.approx(smoothed)


def test_bad_loss_settings_are_reported():
    with pytest.raises(ConfigurationError, match="label_smoothing"):
        ClassificationLoss(label_smoothing=1.0)
    with pytest.raises(ConfigurationError, match="negative"):
        ClassificationLoss(class_weights=[1.0, -1.0])
    with pytest.raises(ConfigurationError, match="one weight per class"):
        Classifier(partial(MLP, hidden_sizes=[8]), input_shape=(4,), num_classes=3, class_weights=[1.0, 2.0])


@pytest.mark.parametrize("head, options", [("multiclass", {"loss": "focal", "class_weights": [1, 2, 3]}),
                                           ("binary", {"loss": "focal", "focal_gamma": 1.0}),
                                           ("multiclass", {"class_weights": [3, 2, 1], "label_smoothing": 0.1})])
def test_the_classifier_trains_on_the_loss_it_is_given(head, options):
    torch.manual_seed(0)
    x, y = torch.randn(12, 4), torch.arange(12) % (2 if head == "binary" else 3)
    model = Classifier(partial(MLP, hidden_sizes=[8]), input_shape=(4,), num_classes=3 if head != "binary" else 2,
                       head=head, **options)
    trainer = pl.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    logged = trainer.validate(model, DataLoader(TensorDataset(x, y), batch_size=12), verbose=False)[0]
    with torch.no_grad():
        outputs = model(x)
    expected = ClassificationLoss(options.get("loss", "cross_entropy"), head == "binary", options.get("class_weights"),
                                  options.get("label_smoothing", 0.0), focal_gamma=options.get("focal_gamma", 2.0))
    value = expected(outputs.squeeze(-1) if head == "binary" else outputs, y).item()
    assert logged["val/loss"] == pytest.approx(value, rel=1e-5)
    plain = torch.nn.functional.cross_entropy(outputs, y).item() if head != "binary" else None
    assert value != pytest.approx(plain if plain is not None else 0.0)
