"""Run the notebooks and save them with their outputs, so their figures show on a code host and in the docs.

Each notebook runs top to bottom in a fresh kernel (this interpreter's ``python3`` kernel) from an empty
temporary folder, by default in its full (short) mode; ``--quick`` sets ``LIGHTNING_DL_NOTEBOOK_QUICK=1``. The
outputs are then cleaned so a committed notebook carries no machine detail and no logs: stderr streams (warnings,
progress bars) are dropped, long text outputs are cut, and paths of this machine (the checkout, the temporary
folder, the home and the interpreter's folders) are replaced by short placeholders. The number of figures each
notebook produced is stored in its metadata (``lightning_dl.figures``), which ``tests/test_notebooks.py`` holds
it to.

    python scripts/execute_notebooks.py                        # every notebook, full mode (several CPU-minutes)
    python scripts/execute_notebooks.py notebooks/04_gans.ipynb --quick
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
#: Text outputs longer than this many lines are cut to their first and last lines.
MAX_TEXT_LINES = 40


def figure_count(nb: nbformat.NotebookNode) -> int:
    """How many images (PNG or JPEG) the notebook's outputs hold."""
    return sum(any(kind.startswith("image/") for kind in output.get("data", {})) for cell in nb.cells
               if cell.cell_type == "code" for output in cell.get("outputs", []))


def machine_paths(*extra: str | Path) -> list[str]:
    """Paths of this machine that must not appear in a committed notebook, longest first."""
    paths = {str(REPO), str(Path.home()), tempfile.gettempdir(), sys.prefix, sys.base_prefix,
             *sysconfig.get_paths().values(), *map(str, extra)}
    return sorted((p for p in paths if p and p != "/"), key=len, reverse=True)


def clean_text(text: str, paths: list[str]) -> str:
    """``text`` with machine paths replaced and cut to :data:`MAX_TEXT_LINES` lines."""
    for path in paths:
        text = text.replace(path, "…")
    text = re.sub(r"…/[\w.-]*(tmp|kfold-|curves-|lightning_dl_notebook_)[\w.-]*", "…", text)
    lines = text.splitlines(keepends=True)
    if len(lines) > MAX_TEXT_LINES:
        half = MAX_TEXT_LINES // 2
        text = "".join(lines[:half] + [f"… ({len(lines) - MAX_TEXT_LINES} lines cut)\n"] + lines[-half:])
    return text


def shrink_png(data: str, colours: int = 64) -> str:
    """A base64 PNG re-encoded with an adaptive palette of ``colours`` (grids and plots keep their look at a
    fraction of the size), or the original when that is not smaller."""
    import base64
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")
    buffer = io.BytesIO()
    image.quantize(colours).save(buffer, format="PNG", optimize=True)
    smaller = base64.b64encode(buffer.getvalue()).decode()
    return smaller if len(smaller) < len(data) else data


def clean(nb: nbformat.NotebookNode, paths: list[str]) -> nbformat.NotebookNode:
    """Drop stderr streams and execution timings; replace machine paths in every text output; shrink images."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        outputs = []
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                if output.name == "stderr":
                    continue
                output.text = clean_text(output.text, paths)
            elif "data" in output:
                if "text/plain" in output.data:
                    output.data["text/plain"] = clean_text(output.data["text/plain"], paths)
                if "image/png" in output.data:
                    output.data["image/png"] = shrink_png(output.data["image/png"])
            elif output.output_type == "error":
                output.traceback = [clean_text(line, paths) for line in output.traceback]
            outputs.append(output)
        cell.outputs = outputs
    return nb


def execute(path: Path, quick: bool) -> tuple[nbformat.NotebookNode, int]:
    """Run the notebook at ``path`` in an empty folder; the executed notebook and its figure count."""
    nb = nbformat.read(path, as_version=4)
    os.environ.update(LIGHTNING_DL_NOTEBOOK_QUICK="1" if quick else "0", WANDB_MODE="disabled",
                      NO_ALBUMENTATIONS_UPDATE="1")
    with tempfile.TemporaryDirectory(prefix="notebook-") as workdir:
        NotebookClient(nb, timeout=3600, kernel_name="python3", resources={"metadata": {"path": workdir}}).execute()
        nb = clean(nb, machine_paths(workdir, Path(workdir).resolve()))
    figures = figure_count(nb)
    nb.metadata.setdefault("lightning_dl", {})["figures"] = figures
    return nb, figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, default=sorted((REPO / "notebooks").glob("*.ipynb")))
    parser.add_argument("--quick", action="store_true", help="LIGHTNING_DL_NOTEBOOK_QUICK=1: a few batches only")
    parser.add_argument("--clean-only", action="store_true", help="do not run: only clean the saved outputs")
    args = parser.parse_args(argv)
    for path in args.notebooks:
        if args.clean_only:
            nbformat.write(clean(nbformat.read(path, as_version=4), machine_paths()), path)
            print(f"{path}: {path.stat().st_size / 1024:.0f} KiB", flush=True)
            continue
        start = time.perf_counter()
        nb, figures = execute(path, args.quick)
        nbformat.write(nb, path)
        print(f"{path}: {figures} figures, {path.stat().st_size / 1024:.0f} KiB, "
              f"{time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
