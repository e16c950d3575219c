"""Convnet visualisation: conv activations by hooks, filter patterns by gradient ascent, Grad-CAM against captum
and on a task where the answer is known (a bright square on the left or the right), and the callbacks' PNGs."""

from __future__ import annotations

from functools import partial

import pytest
import pytorch_lightning as pl
import torch
from torch import nn

from lightning_dl.callbacks.convnet_maps import (ConvActivationMaps, FilterPatterns, GradCAMMaps, channel_grid,
                                                 conv_activations, conv_layers, filter_pattern, grad_cam, heatmap,
                                                 overlay)
from lightning_dl.data import ArrayDataModule
from lightning_dl.errors import ConfigurationError
from lightning_dl.models import Classifier
from lightning_dl.nn import CNN, ResNet


def small_cnn(seed: int = 0) -> CNN:
    torch.manual_seed(seed)
    return CNN((1, 16, 16), 2, channels=[8, 16], batch_norm=True, hidden_sizes=[16])


def test_activations_of_every_conv_layer_match_the_layers_outputs():
    network = small_cnn().train()
    image = torch.randn(1, 16, 16)
    maps = conv_activations(network, image)
    assert list(maps) == ["features.0", "features.4"]
    assert maps["features.0"].shape == (8, 16, 16) and maps["features.4"].shape == (16, 8, 8)
    network.eval()
    with torch.no_grad():
        assert torch.allclose(maps["features.0"], network.features[0](image[None])[0])
    assert network.training is False  # left as it was set just above
    grid = channel_grid(maps["features.4"], columns=4)
    assert grid.shape == (1, 4 * 9 + 1, 4 * 9 + 1) and 0 <= grid.min() and grid.max() <= 1


def test_activations_work_where_fx_tracing_does_not():
    network = ResNet((1, 12, 12), 3, depth=8)
    assert len(conv_activations(network, torch.randn(1, 12, 12))) == 9  # stem + 3×2 + 2 projections


def test_gradient_ascent_makes_the_filter_respond_more():
    network = small_cnn()
    layer = network.features[4]
    start = filter_pattern(network, layer, channel=3, input_shape=(1, 16, 16), steps=0)
    found = filter_pattern(network, layer, channel=3, input_shape=(1, 16, 16), steps=30)
    network.eval()
    with torch.no_grad():
            response = network.features[4](network.features[:4](torch.stack([start, found])))[:, 3].mean((1, 2))
    assert response[1] > response[0] + 0.1
    assert found.shape == (1, 16, 16) and 0 <= found.min() and found.max() <= 1
    with pytest.raises(ConfigurationError, match="channels"):
        filter_pattern(network, layer, channel=99, input_shape=(1, 16, 16), steps=1)


@pytest.mark.parametrize("layer", ["features.0", "features.4"])
def test_grad_cam_equals_captums_layer_grad_cam(layer):
    captum_attr = pytest.importorskip("captum.attr")
    network = small_cnn().eval()
    images, targets = torch.randn(4, 1, 16, 16), torch.tensor([0, 1, 1, 0])
    ours = grad_cam(network, layer, images, targets)
    module = dict(network.named_modules())[layer]
    theirs = captum_attr.LayerGradCam(network, module).attribute(images, target=targets, relu_attributions=True)
    assert ours.shape == theirs[:, 0].shape
    assert torch.allclose(ours, theirs[:, 0], atol=1e-6)
    assert ours.abs().sum() > 0


def squares(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Dark noisy 16×16 images with one bright 4×4 square, in the left half (class 0) or the right (class 1),
    at a random height and offset; also each square's mask."""
    generator = torch.Generator().manual_seed(seed)
    images = 0.2 * torch.rand(n, 1, 16, 16, generator=generator)
    labels = torch.randint(0, 2, (n,), generator=generator)
    masks = torch.zeros(n, 16, 16, dtype=torch.bool)
    rows = torch.randint(0, 13, (n,), generator=generator)
    columns = torch.randint(0, 5, (n,), generator=generator) + 8 * labels
    for i in range(n):
        r, c = rows[i].item(), columns[i].item()
        images[i, 0, r:r + 4, c:c + 4] = 1.0
        masks[i, r:r + 4, c:c + 4] = True
    return images, labels, masks


def test_grad_cam_of_a_trained_model_puts_its_mass_on_the_square():
    torch.manual_seed(0)
    network = CNN((1, 16, 16), 2, channels=[8, 16], batch_norm=True, hidden_sizes=[])
    optimizer = torch.optim.Adam(network.parameters(), lr=3e-3)
    images, labels, _ = squares(512, seed=0)
    for _ in range(6):
        for start in range(0, 512, 64):
            loss = nn.functional.cross_entropy(network(images[start:start + 64]), labels[start:start + 64])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    test_images, test_labels, masks = squares(64, seed=1)
    network.eval()
    assert (network(test_images).argmax(1) == test_labels).float().mean() > 0.95
    maps = heatmap(grad_cam(network, None, test_images, test_labels), (16, 16))  # the last conv layer
    near = nn.functional.max_pool2d(masks[:, None].float(), 5, stride=1, padding=2)[:, 0].bool()  # square ± 2 px
    share = (maps * near).sum((1, 2)) / maps.sum((1, 2))
    assert near.float().mean() < 0.25 and share.median() > 0.5  # over half the mass on under a quarter of the image
    peaks = maps.flatten(1).argmax(1)
    assert near.flatten(1)[torch.arange(64), peaks].float().mean() > 0.85  # the hottest pixel is at the square
    left = torch.zeros(16, 16, dtype=torch.bool)
    left[:, :8] = True
    square_half = torch.where(test_labels[:, None, None] == 0, left, ~left)
    assert ((maps * square_half).sum((1, 2)) / maps.sum((1, 2))).median() > 0.6
    assert overlay(test_images, maps).shape == (64, 3, 16, 16)


def test_the_callbacks_save_their_pictures(tmp_path):
    train = squares(64, seed=0)
    test = squares(16, seed=1)
    dm = ArrayDataModule((train[0][:, 0, :, :, None] * 255).byte().numpy(), train[1].numpy(),
                         (test[0][:, 0, :, :, None] * 255).byte().numpy(), test[1].numpy(), batch_size=16,
                         val_fraction=0.25)
    model = Classifier(partial(CNN, channels=[4, 8], hidden_sizes=[8]), input_shape=(1, 16, 16), num_classes=2)
    callbacks = [ConvActivationMaps(), FilterPatterns(channels=2, steps=3), GradCAMMaps(num_images=4)]
    trainer = pl.Trainer(max_epochs=1, default_root_dir=tmp_path, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, accelerator="cpu", callbacks=callbacks)
    trainer.fit(model, dm)
    saved = {p.relative_to(tmp_path / "convnet_maps").as_posix() for c in callbacks for p in c.saved}
    convs = list(conv_layers(model.network))
    assert convs == ["features.0", "features.3"]
    assert saved == {*(f"activations/{n}.png" for n in convs), *(f"filters/{n}.png" for n in convs),
                     "grad_cam/predicted_class.png"}
    assert all(p.stat().st_size > 0 for c in callbacks for p in c.saved)
