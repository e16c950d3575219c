"""Shared fixtures: tiny synthetic image data, an isolated working directory, quiet wandb."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test runs in its own directory, so ``runs/`` and ``data/`` never land in the repo."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def make_images(n: int, num_classes: int = 4, shape: tuple[int, ...] = (8, 8, 1), seed: int = 0):
    """Images whose mean brightness encodes the class, so a model can learn them; labels balanced."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % num_classes
    rng.shuffle(labels)
    images = rng.integers(0, 64, size=(n, *shape)) + (labels * 48)[:, None, None, None]
    return images.astype(np.uint8), labels.astype(np.int64)


@pytest.fixture
def arrays():
    """A small synthetic 4-class dataset: 200 train and 40 test 8×8 grey images."""
    train_images, train_labels = make_images(200, seed=0)
    test_images, test_labels = make_images(40, seed=1)
    return train_images, train_labels, test_images, test_labels
