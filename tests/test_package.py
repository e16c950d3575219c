"""The package is importable from other projects without side effects."""

from __future__ import annotations

import subprocess
import sys


def test_import_has_no_side_effects(tmp_path):
    code = (
        "import os, sys, torch\n"
        "threads, grad = torch.get_num_threads(), torch.is_grad_enabled()\n"
        "import lightning_dl, lightning_dl.data, lightning_dl.models, lightning_dl.nn, lightning_dl.callbacks\n"
        "import lightning_dl.workflow, lightning_dl.evaluation\n"
        "import lightning_dl.cli\n"
        "assert torch.get_num_threads() == threads and torch.is_grad_enabled() == grad\n"
        "assert 'WANDB_MODE' not in os.environ, 'importing must not configure wandb'\n"
        "assert getattr(sys.modules.get('wandb'), 'run', None) is None, 'no wandb run at import'\n"
        "assert os.listdir('.') == [], os.listdir('.')\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "WANDB_MODE"}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env,
                            timeout=120)
    assert result.returncode == 0, result.stderr


def test_subpackages_export_their_public_classes():
    import lightning_dl.data as data
    import lightning_dl.models as models
    import lightning_dl.nn as nn

    assert {"FashionMNISTDataModule", "MNISTDataModule", "DigitsDataModule", "ArrayDataModule"} <= set(data.__all__)
    assert {"MLP", "CNN", "RNN", "Penalty"} <= set(nn.__all__) and {"Classifier", "Regressor", "GAN", "CGAN"} <= set(models.__all__)


def test_the_cli_is_below_the_workflows():
    """``lightning_dl.cli`` imports no workflow (the workflows build on it), and the console script's module
    imports both: no import cycle, and none hidden inside a function."""
    code = (
        "import sys\n"
        "import lightning_dl.cli\n"
        "assert not any(name.startswith('lightning_dl.workflow') for name in sys.modules), 'cli imported a workflow'\n"
        "import lightning_dl.__main__ as console\n"
        "assert 'lightning_dl.workflow.command' in sys.modules\n"
        "from lightning_dl.workflow import cross_validation\n"
        "assert cross_validation.cli_main is lightning_dl.cli.cli_main\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
