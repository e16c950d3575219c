"""Checkpoint files that are whole or refused: atomic writes, clear errors for unreadable or foreign files.

- :class:`AtomicCheckpointIO` writes each checkpoint to a temporary file in the same folder, flushes it to
  disk and renames it over the final name (``os.replace``): a process killed in the middle of a save (SIGKILL,
  a power cut) leaves the previous ``last.ckpt`` whole, never a truncated one. (Lightning's own
  ``TorchCheckpointIO`` writes through an fsspec transaction whose temporary file lies in the system's
  temporary folder: on another file system the final step is a copy, which is not atomic.) Reading, it turns a
  file that is not a readable checkpoint into a :class:`~lightning_dl.errors.CheckpointError` naming the file.
- :func:`checkpoint_origin` and :func:`check_checkpoint_fits` record in every checkpoint the classes of the
  model and DataModule that wrote it, and refuse one that belongs to another model or DataModule.

The CLI gives every trainer the atomic writer (:func:`lightning_dl.cli.LightningDLCLI.instantiate_trainer`);
Python users pass ``Trainer(plugins=[AtomicCheckpointIO()])``.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Callable

import torch
from pytorch_lightning.plugins import TorchCheckpointIO

from lightning_dl.errors import CheckpointError

#: The key under which a checkpoint records where it came from.
ORIGIN_KEY = "lightning_dl"


def write_atomically(path: str | os.PathLike, write: Callable[[Any], None]) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, flush it to disk, then rename it to ``path``.

    Until the rename, ``path`` keeps its previous content; if ``write`` fails (or the process dies) the
    temporary file is removed (or, after a SIGKILL, left under a hidden ``.<name>.*.tmp`` name, never ``path``).
    """
    path = Path(str(path).removeprefix("file://"))
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # as an ordinary new file, not mkstemp's owner-only
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    try:  # the rename itself reaches the disk with the folder's entry
        folder = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(folder)
    except OSError:
        pass
    finally:
        os.close(folder)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's ``torch.save`` checkpoints, written atomically on local disks; unreadable files are refused
    with a :class:`~lightning_dl.errors.CheckpointError` naming them. Remote paths (``s3://``...) are left to
    Lightning's writer."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None or not is_local(path):
            return super().save_checkpoint(checkpoint, path, storage_options)
        write_atomically(path, lambda file: torch.save(checkpoint, file))

    def load_checkpoint(self, path: Any, map_location: Any = lambda storage, loc: storage,
                        weights_only: bool | None = None) -> dict[str, Any]:
        return read_checkpoint(path, lambda: super(AtomicCheckpointIO, self).load_checkpoint(
            path, map_location=map_location, weights_only=weights_only))


def is_local(path: Any) -> bool:
    """Whether ``path`` names a file on a local disk (no ``s3://``-style protocol)."""
    text = str(path)
    return "://" not in text or text.startswith("file://")


def read_checkpoint(path: Any, load: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``load()``, with the errors of a file that is not a whole checkpoint turned into a
    :class:`~lightning_dl.errors.CheckpointError` naming ``path``. A missing file and torch's refusal of
    objects outside its safe ``weights_only`` list keep their own errors."""
    try:
        checkpoint = load()
    except FileNotFoundError:
        raise
    except pickle.UnpicklingError as error:
        if "weights only" in str(error).lower():
            raise
        raise _unreadable(path, error) from error
    except (OSError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError) as error:
        raise _unreadable(path, error) from error
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(f"{path} is not a Lightning checkpoint (it holds no state_dict): give --ckpt_path the "
                              "last.ckpt (or another .ckpt) that a training run wrote.")
    return checkpoint


def _unreadable(path: Any, error: BaseException) -> CheckpointError:
    size = os.path.getsize(path) if os.path.isfile(path) else None
    return CheckpointError(
        f"{path} cannot be read as a checkpoint ({type(error).__name__}: {error}"
        f"{'' if size is None else f'; the file has {size} bytes'}): it is truncated or not a checkpoint. "
        "Resume from another checkpoint of the run (e.g. an epoch's checkpoint beside it).")


def read_checkpoint_lazily(path: Any) -> dict[str, Any]:
    """The checkpoint at ``path`` with its tensors memory-mapped, not read (cheap for a large file), through torch's
    safe ``weights_only`` unpickler; an unreadable file gives a :class:`~lightning_dl.errors.CheckpointError`."""
    return read_checkpoint(path, lambda: torch.load(path, map_location="cpu", weights_only=True, mmap=True))


def check_model_class(checkpoint: dict[str, Any], path: Any, model_class: type) -> None:
    """Raise :class:`~lightning_dl.errors.CheckpointError` when ``checkpoint`` was written by another model class
    than ``model_class``."""
    saved = (checkpoint.get(ORIGIN_KEY) or {}).get("model") or checkpoint.get("hyper_parameters", {}).get("_class_path")
    if saved and saved.rsplit(".", 1)[-1] != model_class.__qualname__:
        raise CheckpointError(f"{path} belongs to another model: it was written by {saved}, this run's model is "
                              f"{model_class.__module__}.{model_class.__qualname__}. Resume with the config that "
                              "wrote it, or start without --ckpt_path.")


def class_path(obj: object) -> str:
    """``module.QualifiedName`` of an object's class."""
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def checkpoint_origin(model: object, datamodule: object | None) -> dict[str, str | None]:
    """What a checkpoint records about where it came from: the classes of its model and DataModule."""
    return {"model": class_path(model), "datamodule": None if datamodule is None else class_path(datamodule)}


def check_checkpoint_fits(checkpoint: dict[str, Any], path: Any, model: torch.nn.Module,
                          datamodule: object | None) -> None:
    """Raise :class:`~lightning_dl.errors.CheckpointError` when ``checkpoint`` (read from ``path``) belongs to
    another model class, holds weights of other names or shapes than ``model``'s, or was written with another
    DataModule class than ``datamodule``'s."""
    origin = checkpoint.get(ORIGIN_KEY) or {}
    check_model_class(checkpoint, path, type(model))
    this_model = class_path(model)
    saved_data = origin.get("datamodule")
    if saved_data and datamodule is not None and saved_data.rsplit(".", 1)[-1] != type(datamodule).__qualname__:
        raise CheckpointError(f"{path} was trained on other data: its DataModule is {saved_data}, this run's is "
                              f"{class_path(datamodule)}. Resume with the config that wrote it.")
    weights, own = checkpoint.get("state_dict", {}), model.state_dict()
    missing, unexpected = sorted(set(own) - set(weights)), sorted(set(weights) - set(own))
    if missing or unexpected:
        raise CheckpointError(f"{path} does not fit {this_model}: "
                              + "; ".join(part for part in (
                                  missing and f"{len(missing)} weights missing (e.g. {missing[0]})",
                                  unexpected and f"{len(unexpected)} unknown weights (e.g. {unexpected[0]})") if part)
                              + ". Resume with the config that wrote it.")
    for name, value in own.items():
        saved = weights[name]
        if isinstance(saved, torch.Tensor) and saved.shape != value.shape:
            raise CheckpointError(f"{path} does not fit {this_model}: {name} has shape {tuple(saved.shape)} in the "
                                  f"checkpoint and {tuple(value.shape)} in this model (another network size in the "
                                  "config?). Resume with the config that wrote it.")
