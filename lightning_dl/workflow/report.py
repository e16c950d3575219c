"""What k-fold cross-validation reports: the folds' curves averaged and smoothed, the epoch they point to,
each fold's scores with their mean and spread, and a plot of it all."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lightning_dl.callbacks.learning_curves import exponential_moving_average, focused_limits
from lightning_dl.types import MonitorMode

#: One fold's values of one key: ``{epoch: value}``.
Curve = dict[int, float]


def average_curve(curves: Sequence[Curve]) -> tuple[list[int], list[float]]:
    """The mean over folds at every epoch that each fold reached (folds stopped early shorten it)."""
    if not curves:
        return [], []
    epochs = sorted(set.intersection(*(set(curve) for curve in curves)))
    return epochs, [float(np.mean([curve[e] for curve in curves])) for e in epochs]


def best_index(values: Sequence[float], mode: MonitorMode) -> int:
    """Index of the best value: the smallest for ``min``, the largest for ``max``."""
    return int(np.argmin(values) if mode == "min" else np.argmax(values))


def mean_and_std(values: Sequence[float]) -> dict[str, Any]:
    """``{"per_fold", "mean", "std"}`` with the sample standard deviation (ddof 1; 0 for a single value)."""
    values = [float(v) for v in values]
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return {"per_fold": values, "mean": float(np.mean(values)), "std": std}


def summarize(folds: Sequence[dict[str, Any]], metric: str, mode: MonitorMode, ema: float) -> dict[str, Any]:
    """Average the folds' ``metric`` curves, smooth the average, choose the best epoch of the smoothed curve, and
    score every fold (its best value, and every validation value at the chosen epoch)."""
    curves = [fold["val"][metric] for fold in folds]
    epochs, average = average_curve(curves)
    smoothed = exponential_moving_average(average, ema)
    chosen = epochs[best_index(smoothed, mode)]
    best_epochs = [sorted(curve)[best_index([curve[e] for e in sorted(curve)], mode)] for curve in curves]
    common_keys = sorted(set.intersection(*(set(fold["val"]) for fold in folds)))
    return {
        "metric": metric, "mode": mode, "ema": ema,
        "epochs": epochs, "average_curve": average, "smoothed_curve": smoothed,
        "chosen_epoch": chosen, "final_epochs": chosen + 1,
        "best": mean_and_std([curve[e] for curve, e in zip(curves, best_epochs)]),
        "best_epochs": best_epochs,
        "at_chosen_epoch": {key: mean_and_std([fold["val"][key].get(chosen, math.nan) for fold in folds])
                            for key in common_keys},
        "folds": [{"fold": fold["fold"], "epochs": len(fold["val"][metric]), "train_size": fold.get("train_size"),
                   "val_size": fold.get("val_size"), "best_epoch": e, "best": curve[e]}
                  for fold, curve, e in zip(folds, curves, best_epochs)],
    }


def plot_folds(folds: Sequence[dict[str, Any]], summary: dict[str, Any], path: Path) -> Path:
    """Each fold's curve, their average and its smoothed version, and the chosen epoch, as a PNG."""
    from matplotlib.figure import Figure  # no pyplot: no global backend, no open windows
    from matplotlib.ticker import MaxNLocator

    metric, chosen = summary["metric"], summary["chosen_epoch"]
    figure = Figure(figsize=(6.5, 4.2), layout="constrained")
    axis = figure.subplots()
    curves = [tuple(zip(*sorted(fold["val"][metric].items()))) for fold in folds]  # (epochs, values) per fold
    for fold, (epochs, values) in zip(folds, curves):
        axis.plot(epochs, values, alpha=0.35, linewidth=1, label=f"fold {fold['fold']}")
    axis.plot(summary["epochs"], summary["average_curve"], "k--", linewidth=1.2, label="average")
    axis.plot(summary["epochs"], summary["smoothed_curve"], "k-", linewidth=2, label=f"average, EMA {summary['ema']:g}")
    axis.axvline(chosen, color="C3", linestyle=":", label=f"chosen epoch {chosen}")
    limits = focused_limits(curves)
    if limits is not None:  # the first tenth of the epochs (a loss that starts huge) does not set the scale
        axis.set_ylim(*limits)
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set(xlabel="epoch", ylabel=metric, title=f"{len(folds)}-fold cross-validation: {metric}")
    axis.legend(fontsize="small")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    return path


def table(summary: dict[str, Any]) -> str:
    """A few lines for the terminal: each fold's scores, their mean ± std, the chosen epoch, the test score."""
    metric = summary["metric"]
    keys = sorted(summary.get("at_chosen_epoch", {}))
    chosen = summary.get("chosen_epoch")
    lines = [f"{'fold':>4}  {'best ' + metric:>16}  {'at epoch':>8}  " + "  ".join(f"{k + '@' + str(chosen):>16}"
                                                                          for k in keys)]
    for i, fold in enumerate(summary.get("folds", [])):
        values = "  ".join(f"{summary['at_chosen_epoch'][k]['per_fold'][i]:16.4f}" for k in keys)
        lines.append(f"{fold['fold']:>4}  {fold['best']:16.4f}  {fold['best_epoch']:>8}  {values}")
    if "best" in summary:
        best = summary["best"]
        spread = "  ".join(f"{summary['at_chosen_epoch'][k]['mean']:9.4f}±{summary['at_chosen_epoch'][k]['std']:<6.4f}"
                           for k in keys)
        lines.append(f"{'mean':>4}  {best['mean']:9.4f}±{best['std']:<6.4f}  {'':>8}  {spread}")
        lines.append(f"chosen epoch {chosen} (EMA {summary['ema']:g} of the average {metric}): the final model trains "
                     f"{summary['final_epochs']} epochs on the whole training set")
    if summary.get("test"):
        lines.append("test: " + ", ".join(f"{k} {v:.4f}" for k, v in sorted(summary["test"].items())))
    for failure in summary.get("failed_folds", []):
        lines.append(f"fold {failure['fold']} FAILED: {failure['error']}")
    return "\n".join(lines)


def jsonable(value: Any) -> Any:
    """``value`` with NaN/infinite floats as ``None`` and integer keys as strings, so the file is strict JSON."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: Path, value: Any) -> None:
    """Write ``value`` as strict JSON, atomically (a crash leaves the old file or the new one, never half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(jsonable(value), indent=2))
    os.replace(partial, path)
