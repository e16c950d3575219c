"""Every notebook under notebooks/ runs from top to bottom without an error, in its quick mode.

The notebooks read ``LIGHTNING_DL_NOTEBOOK_QUICK=1`` and then train on a few batches only. They run in a
``python3`` Jupyter kernel, which inherits this process's environment; run pytest with the virtualenv's
interpreter (``.venv/bin/python -m pytest``) so that the kernel is that interpreter too.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_notebook_runs(notebook: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIGHTNING_DL_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.setenv("NO_ALBUMENTATIONS_UPDATE", "1")
    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, naming the cell and its traceback, if any cell fails
