"""Saving and loading the judge: a trained, frozen classifier plus the normalisation its inputs had.

``scripts/train_judge.py`` writes one with :func:`save_judge`; :func:`load_judge` gives it back, and
``load_judge(path).features(image_normalization)`` is the :class:`~lightning_dl.evaluation.ClassifierFeatures`
extractor that every judging function and torchmetrics' FID take.

The file holds no code: the network's weights (a ``state_dict``), the configuration that builds it (its
``class_path`` and ``init_args``, plain values as in a YAML config; the ``input_shape`` and ``num_outputs`` a
model would give its network factory), the pixel normalisation and a few facts about how it was trained.
:func:`load_judge` reads it with ``torch.load(weights_only=True)``, which refuses any other Python object
instead of running it, rebuilds the network from its configuration (only a
:class:`~lightning_dl.nn.base.Network` subclass) and loads the weights into it. A judge file of format 1 (a
whole pickled network) only loads by running the code it names: it is refused with how to re-create it.
"""

from __future__ import annotations

import importlib
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, NamedTuple

import torch
from torch import Tensor

from lightning_dl.errors import ConfigurationError
from lightning_dl.evaluation.judge import ClassifierFeatures, NormalizationSpec, _shift_scale
from lightning_dl.nn.base import Network

#: Bumped when the file layout changes (1: a whole pickled network; 2: weights + the configuration).
JUDGE_FORMAT = 2
#: What re-creates a judge file.
RETRAIN = "python scripts/train_judge.py --output {path}"


class Judge(NamedTuple):
    """A loaded judge: the frozen classifier and how to prepare images for it."""

    #: The classifier, frozen and in evaluation mode.
    network: Network
    #: ``(shift, scale)`` per channel, ``(C, 1, 1)`` each: the judge reads ``(pixels - shift) / scale``.
    normalization: tuple[Tensor, Tensor]
    #: ``(C, H, W)`` of the images it reads.
    image_shape: tuple[int, int, int]
    #: How it was trained: dataset, epochs, test accuracy, class names, ...
    info: dict[str, Any]

    def features(self, image_normalization: NormalizationSpec = (0.0, 1.0),
                 layer: Literal["penultimate", "features"] = "penultimate") -> ClassifierFeatures:
        """The judge as a feature extractor for images normalised by ``image_normalization`` (a tanh
        generator trained on ``symmetric_range`` 0–255 data: ``(127.5, 127.5)``)."""
        return ClassifierFeatures(self.network, self.image_shape, judge_normalization=self.normalization,
                                  image_normalization=image_normalization, layer=layer)


def save_judge(path: str | Path, network: Network, normalization: NormalizationSpec,
               image_shape: tuple[int, int, int], *, init_args: Mapping[str, Any], **info: Any) -> Path:
    """Freeze ``network`` (evaluation mode, no gradients; moved to the CPU) and write its weights, the
    configuration that builds it, the normalisation of its training inputs and ``info`` (plain values, e.g.
    ``test_accuracy``) to ``path``; returns ``path``.

    ``init_args`` are the arguments ``network`` was built with besides ``input_shape`` and ``num_outputs`` (its
    config's ``init_args``, e.g. ``{"channels": [16, 32], "hidden_sizes": [64]}``). They are checked here: the
    network they build, given these weights, must compute what ``network`` computes.
    """
    if not isinstance(network, Network):
        raise ConfigurationError(f"A judge must be a Network with features and head; got {type(network).__name__}.")
    image_shape = tuple(int(size) for size in image_shape)
    shift, scale = _shift_scale(normalization, image_shape[0], "normalization")
    network = network.cpu().eval().requires_grad_(False)
    config = {"class_path": f"{type(network).__module__}.{type(network).__qualname__}",
              "input_shape": list(image_shape), "num_outputs": int(network.num_outputs),
              "init_args": plain(dict(init_args), "init_args")}
    saved = {"format": JUDGE_FORMAT, "network": config, "state_dict": network.state_dict(), "shift": shift,
             "scale": scale, "image_shape": list(image_shape), "info": plain(dict(info), "info")}
    check_rebuilds(network, config)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(saved, path)
    return path


def load_judge(path: str | Path) -> Judge:
    """The judge saved at ``path`` by :func:`save_judge` (on the CPU, frozen, in evaluation mode).

    Raises ``FileNotFoundError`` where there is no file and :class:`~lightning_dl.errors.ConfigurationError`,
    naming the file, where it is no judge of this format or holds anything but weights and plain values (it is
    refused unexecuted)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No judge at {path}: train one with `{RETRAIN.format(path=path)}`.")
    saved = safe_load(path)
    if not isinstance(saved, dict) or saved.get("format") != JUDGE_FORMAT:
        raise ConfigurationError(f"{path} is not a judge file of format {JUDGE_FORMAT} (made by save_judge); "
                                 f"re-create it with `{RETRAIN.format(path=path)}`.")
    with torch.random.fork_rng():  # a fresh network's initialisation leaves the caller's random state alone
        network = build_network(saved["network"], path)
    try:
        network.load_state_dict(saved["state_dict"])
    except RuntimeError as error:
        raise ConfigurationError(f"The weights in {path} do not fit the network its configuration builds "
                                 f"({' '.join(str(error).split())}); re-create it with "
                                 f"`{RETRAIN.format(path=path)}`.") from error
    network.eval().requires_grad_(False)
    return Judge(network, (saved["shift"], saved["scale"]), tuple(saved["image_shape"]), saved["info"])


def safe_load(path: Path) -> Any:
    """``torch.load(path, weights_only=True)``: tensors and plain values only. A file that holds any other
    object (a pickled module, a crafted payload) is refused with a :class:`ConfigurationError` naming the
    file and the objects it would have run, before any of them is executed."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        unsafe = unsafe_globals(path)
        if unsafe and all(name.startswith(("lightning_dl.", "torch.")) for name in unsafe):
            raise ConfigurationError(
                f"{path} is a judge file of the old format 1: a whole pickled network ({', '.join(unsafe)}), "
                f"which only loads by running the code it names, so it is refused. Re-create it (weights and "
                f"configuration only) with `{RETRAIN.format(path=path)}`.") from None
        named = f" ({', '.join(unsafe)})" if unsafe else ""
        raise ConfigurationError(
            f"{path} holds Python objects that are not weights or plain values{named}; loading it would run "
            f"code from the file, so it is refused. Use only judge files made by save_judge, or re-create it "
            f"with `{RETRAIN.format(path=path)}`.") from None
    except (RuntimeError, EOFError, OSError) as error:  # a truncated or corrupt file, not a torch.save archive
        raise ConfigurationError(f"{path} cannot be read as a judge file ({' '.join(str(error).split())}); "
                                 f"re-create it with `{RETRAIN.format(path=path)}`.") from None


def unsafe_globals(path: Path) -> list[str]:
    """The Python objects (``module.name``) a torch file would import and call when unpickled, read without
    unpickling it; empty where torch cannot tell."""
    try:
        return sorted(set(torch.serialization.get_unsafe_globals_in_checkpoint(path)))
    except Exception:  # noqa: BLE001 - only a better message depends on it
        return []


def build_network(config: Any, path: Path | str) -> Network:
    """The network a judge configuration describes, freshly initialised. Only a subclass of
    :class:`~lightning_dl.nn.base.Network` is built, so a configuration cannot call an arbitrary function."""
    try:
        module, _, name = config["class_path"].rpartition(".")
        network_class = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, KeyError, TypeError, ValueError) as error:
        raise ConfigurationError(f"The network of the judge in {path} cannot be found ({error!r}); is the package "
                                 f"that defines it installed?") from error
    if not (isinstance(network_class, type) and issubclass(network_class, Network)):
        raise ConfigurationError(f"The judge in {path} names {config['class_path']}, which is no Network; "
                                 f"refused.")
    return network_class(tuple(config["input_shape"]), config["num_outputs"], **config["init_args"])


def check_rebuilds(network: Network, config: dict[str, Any]) -> None:
    """Raise :class:`ConfigurationError` unless the network ``config`` builds, given ``network``'s weights,
    computes what ``network`` computes (same weights' names and shapes, same outputs on a probe input)."""
    with torch.random.fork_rng():
        rebuilt = build_network(config, "the file being saved")
    try:
        rebuilt.load_state_dict(network.state_dict())
    except RuntimeError as error:
        raise ConfigurationError(f"init_args {config['init_args']} build a {type(network).__name__} whose weights "
                                 f"differ from the network's ({' '.join(str(error).split())[:300]}); pass the "
                                 f"arguments the network was built with.") from error
    probe = torch.randn(2, *config["input_shape"], generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        same = torch.allclose(rebuilt.eval()(probe), network(probe), rtol=1e-4, atol=1e-5)
    if not same:
        raise ConfigurationError(f"init_args {config['init_args']} build a {type(network).__name__} that computes "
                                 f"something else than the network with the same weights (an activation or "
                                 f"another setting differs); pass the arguments the network was built with.")


def plain(value: Any, what: str) -> Any:
    """``value`` as plain values (``None``, bools, numbers, strings, lists and dicts of them), the only
    things a judge file holds besides tensors; tuples become lists, numpy scalars Python numbers."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [plain(item, what) for item in value]
    if isinstance(value, Mapping) and all(isinstance(key, str) for key in value):
        return {key: plain(item, f"{what}.{key}") for key, item in value.items()}
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # a numpy or torch scalar
        return value.item()
    raise ConfigurationError(f"{what} holds a {type(value).__name__} ({value!r}); a judge file keeps only plain "
                             "values (numbers, strings, lists, dicts).")
