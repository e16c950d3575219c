"""Every notebook under notebooks/ runs from top to bottom without an error, in its quick mode, and draws the
figures it promises; the committed notebooks carry those figures (so they show on a code host and in the docs)
and no machine paths or logs.

The notebooks read ``LIGHTNING_DL_NOTEBOOK_QUICK=1`` and then train on a few batches only. They run in a
``python3`` Jupyter kernel, which inherits this process's environment; run pytest with the virtualenv's
interpreter (``.venv/bin/python -m pytest``) so that the kernel is that interpreter too. The promise is the
notebook's metadata ``lightning_dl.figures``, written by ``scripts/execute_notebooks.py`` from a full run.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
#: What must not appear in a committed notebook's outputs: this machine's folders.
MACHINE_PATH = re.compile(r"(/work/|/root/|/home/|/tmp/|/private/var/|/Users/|[A-Z]:\\\\)")
#: A committed notebook stays small enough to read on a code host.
MAX_BYTES = 2_000_000


def figures(nb: nbformat.NotebookNode) -> int:
    """How many images (PNG or JPEG) the notebook's outputs hold."""
    return sum(any(kind.startswith("image/") for kind in output.get("data", {})) for cell in nb.cells
               if cell.cell_type == "code" for output in cell.get("outputs", []))


def promised(nb: nbformat.NotebookNode) -> int:
    return nb.metadata.get("lightning_dl", {}).get("figures", 0)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_notebook_runs(notebook: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIGHTNING_DL_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.setenv("NO_ALBUMENTATIONS_UPDATE", "1")
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:  # run from scratch: the committed outputs must not count
        if cell.cell_type == "code":
            cell.outputs = []
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, naming the cell and its traceback, if any cell fails
    assert promised(nb) > 0, f"{notebook.name} promises no figure (metadata lightning_dl.figures)"
    assert figures(nb) >= promised(nb), f"{notebook.name} drew {figures(nb)} of its {promised(nb)} figures"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_committed_notebook_shows_its_figures_and_no_machine_details(notebook: Path) -> None:
    nb = nbformat.read(notebook, as_version=4)
    assert promised(nb) > 0 and figures(nb) == promised(nb), \
        f"{notebook.name}: {figures(nb)} figures committed, {promised(nb)} promised; run scripts/execute_notebooks.py"
    assert notebook.stat().st_size < MAX_BYTES
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            assert not (output.get("output_type") == "stream" and output.get("name") == "stderr"), \
                f"{notebook.name} cell {index} keeps a stderr log"
            text = json.dumps({k: v for k, v in output.get("data", {}).items() if not k.startswith("image/")}) \
                + output.get("text", "") + "".join(output.get("traceback", []))
            assert not MACHINE_PATH.search(text), f"{notebook.name} cell {index} shows a machine path"
