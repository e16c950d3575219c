"""Transfer learning: the torchvision factory, the three methods (feature extraction on cached features, frozen
base, fine-tuning with BaseFinetuning) and their configs. Nothing here needs the network."""

from __future__ import annotations

import copy
import urllib.error

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
import torchvision
from torch.optim.lr_scheduler import OneCycleLR, ReduceLROnPlateau, StepLR

from lightning_dl.callbacks import UnfreezeLastBlocks
from lightning_dl.data import ArrayDataModule
from lightning_dl.data.transfer import CachedFeaturesDataModule, FashionMNISTClassesDataModule
from lightning_dl.errors import ConfigurationError, DatasetNotFoundError
from lightning_dl.models import TransferClassifier
from lightning_dl.nn import ResNet
from lightning_dl.nn.transfer import TorchvisionNetwork

from conftest import make_images
from convnet_helpers import check_interface


# --- the torchvision factory ---------------------------------------------------------------------------
def saved_torchvision_model(tmp_path, name: str):
    torch.manual_seed(0)
    model = torchvision.models.get_model(name, weights=None).eval()
    path = tmp_path / f"{name}.pt"
    torch.save(model.state_dict(), path)
    return model, path


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_small"])
def test_a_weights_file_gives_the_torchvision_models_outputs(tmp_path, name):
    model, path = saved_torchvision_model(tmp_path, name)
    network = TorchvisionNetwork((3, 64, 64), 1000, name=name, weights_file=str(path)).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(network(x), model(x), atol=1e-5)  # body + kept classifier = the model
        assert torch.equal(network(x[:, :1]), network(x[:, :1].expand(-1, 3, -1, -1)))  # grey repeated
    check_interface(network, (3, 64, 64), 1000)


def test_random_weights_new_head_and_feature_blocks():
    network = TorchvisionNetwork((3, 32, 32), 5, name="resnet18", weights=None)
    assert network.num_features == 512 and isinstance(network.head, torch.nn.Linear)
    assert [type(b).__name__ for b in network.feature_blocks()][-4:] == ["Sequential"] * 4  # layer1-4
    assert network.feature_blocks()[-1] is network.features.layer4
    mobile = TorchvisionNetwork((3, 32, 32), 5, name="mobilenet_v3_small", weights=None)
    assert len(mobile.feature_blocks()) == 13  # features' 13 layers one by one


def test_cut_at_an_earlier_layer(tmp_path):
    model, path = saved_torchvision_model(tmp_path, "resnet18")
    network = TorchvisionNetwork((3, 64, 64), 4, name="resnet18", weights_file=str(path), cut_at="layer2").eval()
    assert network.num_features == 128 and not hasattr(network.features, "layer3")
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = model.layer2(model.layer1(model.maxpool(model.relu(model.bn1(model.conv1(x)))))).mean((2, 3))
        assert torch.allclose(network.forward_features(x), expected, atol=1e-5)
    inner = TorchvisionNetwork((3, 32, 32), 4, name="mobilenet_v3_small", weights=None, cut_at="features.3")
    assert inner.num_features == 24 and len(inner.features.features) == 4
    for bad in ("layer9", "features.99"):
        with pytest.raises(ConfigurationError, match="cut_at"):
            TorchvisionNetwork((3, 32, 32), 4, name="mobilenet_v3_small" if "." in bad else "resnet18", weights=None,
                               cut_at=bad)


def test_enum_weights_from_torch_hubs_cache_and_offline_error(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def offline(self, *args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torchvision.models.WeightsEnum, "get_state_dict", offline)
    with pytest.raises(DatasetNotFoundError, match=r"resnet18-f37072fd\.pth.*weights_file"):
        TorchvisionNetwork((3, 32, 32), 4, name="resnet18", weights="IMAGENET1K_V1")
    with pytest.raises(ConfigurationError, match="IMAGENET1K_V1"):
        TorchvisionNetwork((3, 32, 32), 4, name="resnet18", weights="IMAGENET9K")
    model, path = saved_torchvision_model(tmp_path, "resnet18")
    (tmp_path / "hub/checkpoints").mkdir(parents=True)
    path.rename(tmp_path / "hub/checkpoints/resnet18-f37072fd.pth")
    network = TorchvisionNetwork((3, 32, 32), 4, name="resnet18", weights="IMAGENET1K_V1")
    assert torch.equal(network.features.conv1.weight, model.conv1.weight)


# --- the three methods -----------------------------------------------------------------------------------


def small_resnet(shape, outputs):
    return ResNet(shape, outputs, depth=8, l2=0.0)


def image_data(**kwargs) -> ArrayDataModule:
    train_images, train_labels = make_images(64, seed=0)
    test_images, test_labels = make_images(16, seed=1)
    return ArrayDataModule(train_images, train_labels, test_images, test_labels, batch_size=16, val_fraction=0.25,
                           **kwargs)


def fit(model, data, epochs: int) -> pl.Trainer:
    trainer = pl.Trainer(max_epochs=epochs, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, accelerator="cpu", num_sanity_val_steps=0)
    trainer.fit(model, datamodule=data)
    return trainer


def transfer_model(method: str, **kwargs) -> TransferClassifier:
    torch.manual_seed(0)
    options = {"optimizer": lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9), **kwargs}
    return TransferClassifier(method=method, network=small_resnet, input_shape=(1, 8, 8), num_classes=4, **options)


def changed(before: dict, after: dict, prefix: str) -> dict[str, bool]:
    """Which floating tensors under ``prefix`` (weights, batch-norm statistics) changed."""
    return {k: not torch.equal(before[k], after[k]) for k in after
            if k.startswith(prefix) and after[k].is_floating_point()}


@pytest.mark.parametrize("train_bn", [False, True])
def test_fine_tuning_unfreezes_the_last_block_at_a_lower_rate(train_bn):
    model = transfer_model("fine_tuning", unfreeze_at_epoch=1, unfreeze_blocks=1, fine_tune_lr_factor=0.1,
                           train_bn=train_bn, lr_scheduler=lambda optimizer: StepLR(optimizer, step_size=1, gamma=0.5))
    stage3 = model.network.features[3]
    assert UnfreezeLastBlocks(num_blocks=1).blocks(model)[0] is stage3
    before = copy.deepcopy(model.network.state_dict())
    trainer = fit(model, image_data(), epochs=2)
    after = model.network.state_dict()
    for prefix in ("features.0.", "features.1.", "features.2."):  # stem, stages 1-2: frozen throughout
        assert not any(changed(before, after, prefix).values()), prefix
    assert any(changed(before, after, "head.").values())
    stage = changed(before, after, "features.3.")
    convs = [k for k in stage if k.endswith("weight") and before[k].ndim == 4]
    norms = [k for k in stage if not (k.endswith("weight") and before[k].ndim == 4) and "shortcut" not in k]
    assert convs and all(stage[k] for k in convs)  # the unfrozen block learnt
    assert norms and all(stage[k] == train_bn for k in norms)  # BN weights and statistics: frozen unless train_bn
    optimizer = trainer.optimizers[0]
    assert len(optimizer.param_groups) == 2
    # StepLR halved both groups once after the unfreeze (end of epoch 1): the block's rate is 0.1 × the head's.
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 ** 2)
    assert optimizer.param_groups[1]["lr"] == pytest.approx(0.1 * optimizer.param_groups[0]["lr"])


@pytest.mark.parametrize("scheduler", [lambda o: OneCycleLR(o, max_lr=0.1, total_steps=100),
                                       lambda o: ReduceLROnPlateau(o)], ids=["one_cycle", "plateau"])
def test_fine_tuning_refuses_schedulers_that_miss_the_new_group(scheduler):
    model = transfer_model("fine_tuning", unfreeze_at_epoch=1, lr_scheduler=scheduler)
    with pytest.raises(ConfigurationError, match="StepLR"):
        fit(model, image_data(), epochs=2)


def test_frozen_base_trains_only_the_head_with_augmentation():
    model = transfer_model("frozen_base")
    before = copy.deepcopy(model.network.state_dict())
    fit(model, image_data(augmentation=[{"HorizontalFlip": {"p": 0.5}}], random_flip=True, random_crop_padding=1),
        epochs=2)
    after = model.network.state_dict()
    assert not any(changed(before, after, "features.").values())  # weights and BN statistics
    assert all(changed(before, after, "head.").values())


def test_feature_extraction_runs_the_base_once_and_trains_the_head():
    model = transfer_model("feature_extraction")
    calls = []
    model.network.features.register_forward_hook(lambda module, inputs, output: calls.append(
        (module.training, torch.is_grad_enabled(), len(inputs[0]))))
    before = copy.deepcopy(model.network.state_dict())
    data = CachedFeaturesDataModule(image_data())
    fit(model, data, epochs=3)
    assert data.extractions == 1 and data.cached["train"].inputs.shape == (48, model.network.num_features)
    assert sum(n for _, _, n in calls) == 64 + 16  # train + validation + test, each image once, for 3 epochs
    assert all(not training and not grad for training, grad, _ in calls)  # evaluation mode, no gradients
    after = model.network.state_dict()
    assert not any(changed(before, after, "features.").values()) and all(changed(before, after, "head.").values())
    with torch.no_grad():  # the trained model still classifies images
        assert model.eval()(torch.rand(2, 1, 8, 8)).shape == (2, 4)
    with pytest.raises(ConfigurationError, match="augment"):
        CachedFeaturesDataModule(image_data(augmentation=[{"HorizontalFlip": {"p": 0.5}}]))


def test_base_weights_load_the_body_and_a_new_head(tmp_path):
    torch.manual_seed(1)
    source = small_resnet((1, 8, 8), 5)
    torch.save(source.state_dict(), tmp_path / "base.pt")
    model = transfer_model("frozen_base", base_weights=str(tmp_path / "base.pt"))
    source_body = source.features.state_dict()
    assert all(torch.equal(v, source_body[k]) for k, v in model.network.features.state_dict().items())
    assert model.network.head.out_features == 4
    torch.save(ResNet((1, 8, 8), 5, depth=14, l2=0.0).state_dict(), tmp_path / "deeper.pt")
    with pytest.raises(ConfigurationError, match="does not fit"):
        transfer_model("frozen_base", base_weights=str(tmp_path / "deeper.pt"))
    with pytest.raises(ConfigurationError, match="num_blocks"):
        transfer_model("fine_tuning", unfreeze_blocks=9)


def test_fashion_mnist_classes_relabels_and_keeps_per_class(monkeypatch):
    from lightning_dl.data import sources
    from lightning_dl.data.sources import ImageArrays

    labels = np.repeat(np.arange(10), 30)
    images = labels[:, None, None, None].repeat(28, 1).repeat(28, 2).astype(np.uint8)
    monkeypatch.setattr(sources, "load_fashion_mnist", lambda *a, **k: ImageArrays(images, labels, images, labels, ()))
    data = FashionMNISTClassesDataModule(classes=[7, 5], per_class=10, test_per_class=4, val_fraction=0.2)
    arrays = data.load_arrays()
    assert data.num_classes == 2 and data.class_names == ("Sneaker", "Sandal")
    assert np.bincount(arrays.train_labels).tolist() == [10, 10] and len(arrays.test_labels) == 8
    assert (arrays.train_images[arrays.train_labels == 0] == 7).all()  # class 7 became 0
