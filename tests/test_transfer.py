"""Transfer learning: the torchvision factory, the three methods (feature extraction on cached features, frozen
base, fine-tuning with BaseFinetuning) and their configs. Nothing here needs the network."""

from __future__ import annotations

import urllib.error

import pytest
import torch
import torchvision

from lightning_dl.errors import ConfigurationError, DatasetNotFoundError
from lightning_dl.nn.transfer import TorchvisionNetwork

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
