"""Resume exactly: the global random generators travel in the checkpoint."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch


class RandomStateCheckpoint(pl.Callback):
    """Save torch's, numpy's and Python's random states in every checkpoint and restore them on resume.

    Without it, a resumed run draws different dropout masks and augmentations than the run it
    continues, and ends with different weights. States are stored as tensors and plain Python values
    (no numpy objects), which torch's safe ``weights_only`` unpickler accepts.
    """

    def state_dict(self) -> dict[str, Any]:
        kind, keys, position, has_gauss, cached = np.random.get_state()
        return {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "position": position,
                      "has_gauss": has_gauss, "cached": cached},
            "python": random.getstate(),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        torch.set_rng_state(state_dict["torch"])
        if state_dict["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state_dict["cuda"])
        numpy_state = state_dict["numpy"]
        np.random.set_state((numpy_state["kind"], numpy_state["keys"].numpy().astype(np.uint32),
                             numpy_state["position"], numpy_state["has_gauss"], numpy_state["cached"]))
        version, internal, gauss = state_dict["python"]
        random.setstate((version, tuple(internal), gauss))
