"""Shared fixtures: tiny synthetic image data, an isolated working directory, quiet wandb."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


def load_script(name: str):
    """A module of scripts/ (not a package), loaded by file path."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def make_images(n: int, num_classes: int = 4, shape: tuple[int, ...] = (8, 8, 1), seed: int = 0):
    """Images whose mean brightness encodes the class, so a model can learn them; labels balanced."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % num_classes
    rng.shuffle(labels)
    images = rng.integers(0, 64, size=(n, *shape)) + (labels * 48)[:, None, None, None]
    return images.astype(np.uint8), labels.astype(np.int64)


@pytest.fixture(autouse=True)
def _torch_threads_restored():
    """A test (or a script's ``main`` run in-process, e.g. ``--threads 1``) that changes torch's thread count does
    not change it for the tests after it: float sums depend on it, and some tests compare runs bit for bit."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def one_thread():
    """Run the test on one torch thread (put back afterwards)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def arrays():
    """A small synthetic 4-class dataset: 200 train and 40 test 8×8 grey images."""
    train_images, train_labels = make_images(200, seed=0)
    test_images, test_labels = make_images(40, seed=1)
    return train_images, train_labels, test_images, test_labels


def run_two_processes(script: Path, out_dir: Path, *arguments: str, timeout: int = 600) -> list[dict]:
    """Run a DDP script (2 processes on the CPU) in a subprocess and return what each rank wrote to
    ``out_dir/rank<r>.json``. Lightning's ``ddp`` strategy starts rank 1 by re-running the command line,
    which is why DDP runs are scripts and not test functions (inside pytest it would re-run pytest)."""
    # The script's folder (the test helpers) and this checkout, ahead of whatever lightning_dl is installed.
    env = {**os.environ, "WANDB_MODE": "disabled", "PYTHONPATH": os.pathsep.join([str(script.parent), str(REPO)])}
    env.pop("LOCAL_RANK", None)
    result = subprocess.run([sys.executable, str(script), str(out_dir), *arguments], capture_output=True, text=True,
                            timeout=timeout, env=env, cwd=out_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [json.loads((out_dir / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2]
    return ranks
