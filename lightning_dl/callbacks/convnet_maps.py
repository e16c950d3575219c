"""What a convnet learned, as the learning notes show it: the activations of every conv layer for one input
image (a grid of its channels per layer), filter patterns found by gradient ascent on the input, and Grad-CAM
class-activation heatmaps overlaid on the inputs.

The functions work on any ``nn.Module``; the callbacks run them at the end of training on a validation batch,
save each picture as ``<run>/convnet_maps/<kind>/<name>.png`` and log it to wandb as ``convnet_maps/<kind>/<name>``.
Layers are reached with forward hooks, not FX tracing (which fails on data-dependent padding).
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from pytorch_lightning.loggers import WandbLogger
from torch import Tensor, nn

from lightning_dl.callbacks.samples import run_directory, save_grid
from lightning_dl.errors import ConfigurationError


def conv_layers(network: nn.Module) -> dict[str, nn.Conv2d]:
    """Every 2-D convolution of ``network`` by its module name, in the order they were registered."""
    return {name: module for name, module in network.named_modules() if isinstance(module, nn.Conv2d)}


def find_layer(network: nn.Module, layer: str | nn.Module | None) -> nn.Module:
    """``layer`` by module name (``features.3``), the module itself, or the last conv layer when ``None``."""
    if isinstance(layer, nn.Module):
        return layer
    modules = dict(network.named_modules())
    if layer is None:
        convs = conv_layers(network)
        if not convs:
            raise ConfigurationError(f"{type(network).__name__} has no Conv2d layer; name the layer to look at.")
        return list(convs.values())[-1]
    if layer not in modules:
        raise ConfigurationError(f"{type(network).__name__} has no layer {layer!r}; conv layers: "
                                 f"{', '.join(conv_layers(network)) or 'none'}.")
    return modules[layer]


@contextmanager
def evaluation_mode(network: nn.Module) -> Iterator[nn.Module]:
    """Run ``network`` in evaluation mode (no dropout, fixed batch-norm statistics), then restore its mode."""
    training = network.training
    network.eval()
    try:
        yield network
    finally:
        network.train(training)


def conv_activations(network: nn.Module, image: Tensor, layers: Sequence[str] | None = None) -> dict[str, Tensor]:
    """The output of every conv layer (or those named in ``layers``) for one ``(C, H, W)`` image, as ``(channels,
    h, w)`` tensors by layer name, captured with forward hooks in evaluation mode."""
    chosen = {name: m for name, m in conv_layers(network).items() if layers is None or name in layers}
    captured: dict[str, Tensor] = {}
    handles = [module.register_forward_hook(lambda m, i, o, name=name: captured.__setitem__(name, o[0].detach()))
               for name, module in chosen.items()]
    try:
        with evaluation_mode(network), torch.no_grad():
            network(image[None])
    finally:
        for handle in handles:
            handle.remove()
    return {name: captured[name].float().cpu() for name in chosen if name in captured}


def scale_each(images: Tensor) -> Tensor:
    """Scale each ``(…, H, W)`` map on its own to [0, 1] (a constant map becomes 0)."""
    flat = images.flatten(-2)
    low, high = flat.min(-1, keepdim=True).values, flat.max(-1, keepdim=True).values
    return ((flat - low) / (high - low).clamp_min(1e-12)).view_as(images)


def channel_grid(maps: Tensor, columns: int = 16) -> Tensor:
    """A ``(channels, h, w)`` activation as one grey picture ``(1, H, W)``: each channel scaled to [0, 1] on its
    own, ``columns`` channels per row, a white line between them."""
    from torchvision.utils import make_grid

    grid = make_grid(scale_each(maps)[:, None], nrow=columns, padding=1, pad_value=1.0)
    return grid[:1]


def filter_pattern(network: nn.Module, layer: str | nn.Module, channel: int, input_shape: Sequence[int],
                   steps: int = 40, step_size: float = 1.0, seed: int = 0) -> Tensor:
    """The input that makes ``channel`` of ``layer`` respond most, found by gradient ascent from grey noise: each
    step moves the input along the L2-normalised gradient of the channel's mean activation (the notes'
    recipe). Returns a ``(C, H, W)`` picture in [0, 1] (standardised, scaled to 0.15 std around 0.5)."""
    module = find_layer(network, layer)
    generator = torch.Generator().manual_seed(seed)
    parameter = next(network.parameters())
    image = (0.1 * torch.randn(1, *input_shape, generator=generator)).to(parameter.device, parameter.dtype)
    image.requires_grad_(True)
    captured: list[Tensor] = []
    handle = module.register_forward_hook(lambda m, i, o: captured.append(o))
    try:
        with evaluation_mode(network), torch.enable_grad():
            for _ in range(steps):
                captured.clear()
                network(image)
                output = captured[0]
                if channel >= output.shape[1]:
                    raise ConfigurationError(f"The layer has {output.shape[1]} channels; channel {channel} "
                                             "does not exist.")
                (gradient,) = torch.autograd.grad(output[0, channel].mean(), image)
                with torch.no_grad():
                    image += step_size * gradient / (gradient.norm() + 1e-8)
    finally:
        handle.remove()
    picture = image.detach()[0].float().cpu()
    picture = (picture - picture.mean()) / (picture.std() + 1e-8)
    return (0.5 + 0.15 * picture).clamp(0, 1)


def grad_cam(network: nn.Module, layer: str | nn.Module | None, images: Tensor,
             targets: Tensor | int | None = None) -> Tensor:
    """Grad-CAM (Selvaraju et al.): for each image, ``ReLU(Σ_k α_k A_k)`` where ``A_k`` is channel ``k`` of
    ``layer``'s output and ``α_k`` the spatial mean of the gradient of the target class's score with respect to
    it. ``targets``: a class per image, one class for all, or ``None`` for each image's predicted class.
    Returns ``(N, h, w)`` maps at the layer's resolution (``captum``'s ``LayerGradCam(relu_attributions=True)``)."""
    module = find_layer(network, layer)
    captured: list[Tensor] = []
    handle = module.register_forward_hook(lambda m, i, o: captured.append(o))
    try:
        with evaluation_mode(network), torch.enable_grad():
            outputs = network(images)
            if targets is None:
                targets = outputs.argmax(-1)
            targets = torch.as_tensor(targets, device=outputs.device).expand(len(images))
            score = outputs.gather(1, targets[:, None]).sum()
            activations = captured[-1]
            (gradients,) = torch.autograd.grad(score, activations)
    finally:
        handle.remove()
    weights = gradients.mean(dim=(2, 3), keepdim=True)
    return F.relu((weights * activations).sum(dim=1)).detach()


def heatmap(cam: Tensor, size: Sequence[int]) -> Tensor:
    """``(N, h, w)`` Grad-CAM maps upsampled (bilinear) to ``size = (H, W)`` and scaled to [0, 1] per image."""
    upsampled = F.interpolate(cam[:, None].float(), size=tuple(size), mode="bilinear", align_corners=False)[:, 0]
    return scale_each(upsampled)


def overlay(images: Tensor, heatmaps: Tensor, alpha: float = 0.4) -> Tensor:
    """``(N, C, H, W)`` images (any range; each scaled to [0, 1]) with ``(N, H, W)`` heatmaps in [0, 1] laid over them
    in the jet colour map: ``(1 - alpha) · image + alpha · colour``, as ``(N, 3, H, W)``."""
    from matplotlib import colormaps

    base = scale_each(images.detach().float().cpu())
    base = base.expand(-1, 3, -1, -1) if base.shape[1] == 1 else base[:, :3]
    colours = torch.as_tensor(colormaps["jet"](heatmaps.detach().cpu().numpy())[..., :3], dtype=torch.float32)
    return (1 - alpha) * base + alpha * colours.permute(0, 3, 1, 2)


class ConvnetMaps(pl.Callback):
    """At the end of training, make pictures from the first ``num_images`` images of a validation batch (a
    training batch when validation is off), save each as ``<run>/convnet_maps/<kind>/<name>.png`` and log it to
    wandb. Subclasses say what the pictures are (:meth:`pictures`)."""

    kind = "maps"

    def __init__(self, num_images: int = 1) -> None:
        self.num_images = num_images
        self.saved: list[Path] = []

    def pictures(self, network: nn.Module, images: Tensor) -> dict[str, Tensor]:
        """Pictures by name, each ``(C, H, W)`` or ``(N, C, H, W)`` in [0, 1]."""
        raise NotImplementedError

    def sample_images(self, trainer: pl.Trainer) -> Tensor:
        loaders = trainer.val_dataloaders or trainer.train_dataloader
        loader = loaders[0] if isinstance(loaders, (list, tuple)) else loaders
        return next(iter(loader))[0][:self.num_images]

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        network = getattr(pl_module, "network", pl_module)
        images = self.sample_images(trainer).to(pl_module.device)
        folder = run_directory(trainer) / "convnet_maps" / self.kind
        for name, picture in self.pictures(network, images).items():
            batch = picture if picture.ndim == 4 else picture[None]
            path = save_grid(batch, folder / f"{name}.png", nrow=min(8, len(batch)))
            self.saved.append(path)
            for logger in trainer.loggers:
                if isinstance(logger, WandbLogger):
                    logger.log_image(key=f"convnet_maps/{self.kind}/{name}", images=[str(path)],
                                     step=trainer.global_step)


class ConvActivationMaps(ConvnetMaps):
    """The activations of every conv layer for one validation image, one grid of its channels per layer.

    Args:
        columns: Channels per row of a grid.
    """

    kind = "activations"

    def __init__(self, columns: int = 16) -> None:
        super().__init__(num_images=1)
        self.columns = columns

    def pictures(self, network: nn.Module, images: Tensor) -> dict[str, Tensor]:
        return {name: channel_grid(maps, self.columns) for name, maps in conv_activations(network, images[0]).items()}


class FilterPatterns(ConvnetMaps):
    """The patterns the first ``channels`` filters of each chosen conv layer respond to most, by gradient ascent.

    Args:
        layers: Module names of the conv layers (default: every conv layer).
        channels: Filters per layer.
        steps: Gradient-ascent steps per filter.
        step_size: Length of each step (the gradient is L2-normalised).
    """

    kind = "filters"

    def __init__(self, layers: list[str] | None = None, channels: int = 8, steps: int = 40,
                 step_size: float = 1.0) -> None:
        super().__init__(num_images=1)
        self.layers, self.channels, self.steps, self.step_size = layers, channels, steps, step_size

    def pictures(self, network: nn.Module, images: Tensor) -> dict[str, Tensor]:
        shape = tuple(images.shape[1:])
        result = {}
        for name, module in conv_layers(network).items():
            if self.layers is not None and name not in self.layers:
                continue
            count = min(self.channels, module.out_channels)
            result[name] = torch.stack([filter_pattern(network, module, c, shape, self.steps, self.step_size)
                                        for c in range(count)])
        return result


class GradCAMMaps(ConvnetMaps):
    """Grad-CAM heatmaps of the predicted class, over ``num_images`` validation images.

    Args:
        num_images: Images to explain.
        layer: Module name of the layer whose activations are weighted (default: the last conv layer).
        alpha: Opacity of the heatmap over the image.
    """

    kind = "grad_cam"

    def __init__(self, num_images: int = 8, layer: str | None = None, alpha: float = 0.4) -> None:
        super().__init__(num_images=num_images)
        self.layer, self.alpha = layer, alpha

    def pictures(self, network: nn.Module, images: Tensor) -> dict[str, Tensor]:
        maps = heatmap(grad_cam(network, self.layer, images).cpu(), images.shape[-2:])
        return {"predicted_class": overlay(images, maps, self.alpha)}
