"""K-fold cross-validation of any ``lightning-dl fit`` config, with the optimal epoch and a final model.

The config is parsed once, as ``lightning-dl fit`` parses it (:func:`~lightning_dl.cli.cli_main` with
``run=False``). For ``k`` in ``0 .. folds-1`` the run is seeded as ``fit`` seeds it, a fresh DataModule,
model and Trainer are built from the parsed config, and the DataModule is told its fold
(``datamodule.change_split(num_folds=folds, fold=k)``): its k-fold split (stratified for classes, shuffled
for regression targets, seeded by the data's ``seed``; :mod:`lightning_dl.data.folds`) makes fold ``k`` of
the training set the validation set. Any config of any family whose DataModule is built on the data core
works, and under DDP every fold runs distributed. A :class:`FoldRecorder` callback keeps each fold's
per-epoch validation values. The folds' curves of the chosen metric are averaged, smoothed with an
exponential moving average, and the best epoch of the smoothed average is chosen; a final model then trains
on the whole training set (``val_fraction: 0``) for that many epochs and is tested once on the test set.

The output folder holds ``settings.json``, ``fold_<k>/result.json`` for every finished fold (written as it
finishes, so rerunning the same command resumes at the first unfinished fold), ``fold_<k>/history.json``
(written as the fold trains), each fold's checkpoints, ``final/``, ``summary.json`` and ``curves.png``.
Each fold is a run of one wandb group (set through wandb's ``WANDB_RUN_GROUP``/``WANDB_NAME``/
``WANDB_JOB_TYPE`` variables, so it works whatever logger the config names).

Under DDP with ``strategy: ddp`` Lightning relaunches the command line for every process, so each process
runs the same sequence of folds and the folds run distributed; only the main process writes files. A
crash in one process ends the run (finished folds are kept). ``ddp_spawn`` works as well: the history
comes back through the file the main training process writes.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import math
import os
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from jsonargparse import Namespace
from pytorch_lightning.utilities import rank_zero_info
from pytorch_lightning.utilities.rank_zero import rank_zero_only

from lightning_dl.callbacks.learning_curves import MetricHistory, exponential_moving_average
from lightning_dl.cli import LightningDLCLI, checkpoint_to_test, cli_main
from lightning_dl.errors import ConfigurationError
from lightning_dl.types import NEVER, MonitorMode
from lightning_dl.workflow.report import plot_folds, summarize, table, write_json


class KFoldError(RuntimeError):
    """Some folds failed (an exception, or a NaN in the monitored curve); the finished folds are kept.

    Attributes:
        failed_folds: ``[{"fold": k, "error": "..."}]``.
        summary: What was written to ``summary.json``.
    """

    def __init__(self, message: str, failed_folds: list[dict[str, Any]], summary: dict[str, Any]) -> None:
        super().__init__(message)
        self.failed_folds, self.summary = failed_folds, summary


def resolve_metric(model_name: str, monitor: str | None, monitor_mode: MonitorMode, metric: str | None,
                   mode: MonitorMode | None) -> tuple[str, MonitorMode]:
    """The validation key to choose the epoch by and its direction: ``metric``/``mode`` where given, else what
    the model monitors. A model that monitors nothing is refused."""
    if monitor is None:
        raise ConfigurationError(
            f"k-fold cross-validation chooses the epoch by what the model monitors, but {model_name} monitors "
            "nothing (monitor = None, e.g. a GAN). Use a model that monitors a validation value.")
    metric = metric or monitor
    if mode is None:
        if metric != monitor:
            raise ConfigurationError(f"{metric} is not what {model_name} monitors ({monitor}): say whether lower or "
                                     "higher is better with mode (--mode min or --mode max).")
        mode = monitor_mode
    return metric, mode


class FoldRecorder(MetricHistory):
    """Records one k-fold run's per-epoch validation values, its data sizes and its test values, and writes
    them to ``path`` (JSON) as they come. Refuses, before training, a model that monitors nothing.

    Args:
        path: The JSON file to write (on the main process).
        metric: The validation key k-fold chooses the epoch by (default: what the model monitors).
        mode: ``min`` or ``max`` for ``metric`` (default: the model's ``monitor_mode``).
    """

    def __init__(self, path: str, metric: str | None = None, mode: MonitorMode | None = None) -> None:
        super().__init__()
        self.path, self.metric, self.mode = Path(path), metric, mode
        self.info: dict[str, Any] = {}
        self.test: dict[str, float] = {}

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        monitor, monitor_mode = getattr(pl_module, "monitor", None), getattr(pl_module, "monitor_mode", "min")
        resolve_metric(type(pl_module).__name__, monitor, monitor_mode, self.metric, self.mode)
        self.info.update(model=type(pl_module).__name__, monitor=monitor, monitor_mode=monitor_mode)

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        data = trainer.datamodule
        for name in ("train", "val"):
            dataset = getattr(data, f"{name}_set", None)
            self.info[f"{name}_size"] = len(dataset) if dataset is not None else None
        hparams = getattr(data, "hparams", {})
        self.info["data"] = {k: hparams.get(k) for k in ("num_folds", "fold", "seed", "split", "val_fraction")}
        self.save(trainer)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_validation_end(trainer, pl_module)
        self.save(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_end(trainer, pl_module)
        self.save(trainer)

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.test = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")}
        self.save(trainer)

    def record(self) -> dict[str, Any]:
        """What was recorded: model, monitor, sizes, ``val`` curves ``{key: {epoch: value}}``, ``test`` values."""
        val = {k: dict(v) for k, v in self.history.items() if k.startswith("val/")}
        return {**self.info, "val": val, "test": dict(self.test)}

    def save(self, trainer: pl.Trainer) -> None:
        if trainer.is_global_zero:
            write_json(self.path, self.record())


def read_record(path: Path) -> dict[str, Any]:
    """A record written by :class:`FoldRecorder` (or a fold's ``result.json``), epochs as integers, missing
    values (non-finite when written) as NaN."""
    record = json.loads(path.read_text())
    record["val"] = {key: {int(e): math.nan if v is None else float(v) for e, v in curve.items()}
                     for key, curve in record.get("val", {}).items()}
    return record


@contextlib.contextmanager
def wandb_run(group: str, name: str, job_type: str) -> Iterator[None]:
    """Name the next wandb run and put it in ``group`` (wandb's environment variables), then restore them and
    end the wandb session, which reads those variables only when it starts. ``WANDB_MODE``, which
    ``WandbLogger(offline=True)`` sets for the whole process, is put back as well (as ``cli_main`` does)."""
    values = {"WANDB_RUN_GROUP": group, "WANDB_NAME": name, "WANDB_JOB_TYPE": job_type}
    saved = {key: os.environ.get(key) for key in (*values, "WANDB_MODE")}
    os.environ.update(values)
    crashed = False
    try:
        yield
    except BaseException:
        crashed = True
        raise
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        wandb = sys.modules.get("wandb")
        if wandb is not None:
            if wandb.run is not None:  # a crashed fold's run is still open: close it as failed
                wandb.finish(exit_code=1 if crashed else 0)
            wandb.teardown()  # wandb reads its environment once per session: the next fold starts a new one


def config_fingerprint(config_args: Sequence[str]) -> dict[str, str]:
    """The SHA-256 of every ``--config`` file named in ``config_args``, so a changed file is noticed on resume."""
    paths = [b for a, b in itertools.pairwise(config_args) if a == "--config"]
    paths += [a.split("=", 1)[1] for a in config_args if a.startswith("--config=")]
    return {p: hashlib.sha256(Path(p).read_bytes()).hexdigest() if Path(p).is_file() else "" for p in paths}


def prepare_output(output: Path, settings: dict[str, Any]) -> str:
    """Check that ``output`` is empty or holds a run with these ``settings`` (then its folds are reused);
    write the settings; return the run's wandb group."""
    path = output / "settings.json"
    if path.is_file():
        saved = json.loads(path.read_text())
        differing = [key for key in settings if saved.get(key) != settings[key]]
        if differing:
            raise ConfigurationError(
                f"{output} holds the folds of a different k-fold run ({', '.join(differing)} differ), so they cannot "
                "be resumed. Choose another output folder, or delete this one to start over.")
        return saved["group"]
    group = f"kfold-{output.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    if rank_zero_only.rank == 0:
        write_json(path, {**settings, "group": group})
    return group


def output_folder(config_args: Sequence[str], output: str | Path | None = None) -> Path:
    """``output`` if given, else ``runs/kfold/<name of the last --config file>``."""
    if output is not None:
        return Path(output)
    configs = list(config_fingerprint(config_args))
    return Path("runs/kfold") / (Path(configs[-1]).stem if configs else "run")


@dataclass
class Fit:
    """One training of a k-fold run (a fold, or the final model): the objects it was built as, and its record.

    Attributes:
        name: ``fold-<k>`` or ``final``.
        datamodule, model, trainer: What trained.
        record: What the :class:`FoldRecorder` kept (see :meth:`FoldRecorder.record`).
        interrupted: Whether training was stopped before its end.
    """

    name: str
    datamodule: pl.LightningDataModule
    model: pl.LightningModule
    trainer: pl.Trainer
    record: dict[str, Any]
    interrupted: bool


def parse_config(config_args: Sequence[str]) -> LightningDLCLI:
    """The config of ``lightning-dl fit`` parsed once (``--config`` files and overrides in order, checked, the run
    seeded and its objects built once, nothing trained): each fold then builds its own objects from it."""
    with warnings.catch_warnings():
        # `lightning-dl kfold` keeps its own sys.argv (DDP relaunches it for every process), so Lightning would
        # warn that the arguments given differ from the command line.
        warnings.filterwarnings("ignore", message=".*args parameter is intended to run from within Python")
        return cli_main(list(config_args), run=False)


def check_datamodule(datamodule: Any) -> None:
    """Refuse a DataModule whose split the workflow cannot set (not built on the data core)."""
    if not callable(getattr(datamodule, "change_split", None)):
        raise ConfigurationError(
            f"k-fold cross-validation sets each fold on the DataModule, but {type(datamodule).__name__} has no "
            "change_split(num_folds=..., fold=...). Use a DataModule built on lightning_dl.data.core.InMemoryDataModule.")


def record_split(config: Namespace, datamodule: Any) -> None:
    """Write the split the DataModule trains on into the config the run saves (``config.yaml``), so that file
    reproduces the fold."""
    init_args = config.get("data", Namespace()).get("init_args")
    if isinstance(init_args, Namespace):
        for key in ("num_folds", "fold", "val_fraction"):
            if key in init_args:
                init_args[key] = datamodule.hparams[key]


def train(cli: LightningDLCLI, base: Namespace, name: str, group: str, folder: Path, split: dict[str, Any],
          metric: str | None, mode: MonitorMode | None, settings: dict[str, Any], test: bool) -> Fit:
    """Train once: seed as ``fit`` seeds, build a fresh DataModule, model and Trainer from the parsed config
    ``base`` with ``settings`` (dotted config keys) applied, give the DataModule its ``split``
    (:meth:`~lightning_dl.data.core.InMemoryDataModule.change_split`), record with a :class:`FoldRecorder`
    into ``folder``, fit, and test afterwards when ``test``. Under ``ddp_spawn`` the record comes back through
    the file the training process wrote."""
    with wandb_run(group, name, "fold" if name.startswith("fold") else name):
        cli.config = config = base.clone()
        for key, value in {**settings, "checkpoint.dirpath": str(folder / "checkpoints")}.items():
            config[key] = value
        if config.get("seed_everything") is not False:
            pl.seed_everything(config.get("seed_everything"), workers=True, verbose=False)
        cli.instantiate_classes()
        datamodule, model, trainer = cli.datamodule, cli.model, cli.trainer
        check_datamodule(datamodule)
        datamodule.change_split(**split)
        record_split(config, datamodule)
        recorder = FoldRecorder(str(folder / "history.json"), metric, mode)
        trainer.callbacks.append(recorder)
        trainer.fit(model, datamodule=datamodule)
        has_test_step = type(model).test_step is not pl.LightningModule.test_step
        if test and has_test_step and not trainer.interrupted:
            trainer.test(model, datamodule=datamodule, ckpt_path=checkpoint_to_test(trainer))
    record = recorder.record()
    if not record["val"] and not record["test"] and recorder.path.is_file():
        record = read_record(recorder.path)
    return Fit(name, datamodule, model, trainer, record, trainer.interrupted)


def fold_failure(record: dict[str, Any], metric: str, interrupted: bool) -> str | None:
    """Why a fold that ran does not count, or ``None``: interrupted, never validated, or non-finite values."""
    if interrupted:
        return "training was interrupted"
    curve = record["val"].get(metric)
    if not curve:
        logged = ", ".join(sorted(record["val"])) or "nothing"
        raise ConfigurationError(f"{metric} was never logged in validation (logged: {logged}). Choose a logged "
                                 "validation key with --metric, and keep validation on (limit_val_batches > 0).")
    bad = [epoch for epoch, value in sorted(curve.items()) if not math.isfinite(value)]
    return f"{metric} is {curve[bad[0]]} at epoch {bad[0]}" if bad else None


def run_kfold(config_args: Sequence[str], folds: int = 5, output: str | Path | None = None, ema: float = 0.6,
              metric: str | None = None, mode: MonitorMode | None = None,
              early_stopping: bool = False) -> dict[str, Any]:
    """K-fold cross-validation of a config, the optimal epoch from the folds' averaged curve, then a final
    model trained on the whole training set for that many epochs and tested.

    Args:
        config_args: What follows ``lightning-dl fit``: ``["--config", "X.yaml", "--trainer.max_epochs", "50"]``.
        folds: Number of folds (at least 2).
        output: Folder of the results; rerunning with the same folder resumes at the first unfinished fold.
            Default ``runs/kfold/<name of the last config>``.
        ema: Smoothing factor of the exponential moving average of the averaged curve (0: none).
        metric: Validation key to choose the epoch by (default: what the model monitors).
        mode: ``min`` or ``max`` for ``metric`` (default: the model's ``monitor_mode``).
        early_stopping: Let the config's early stopping end folds early (the average then covers the epochs
            every fold reached); by default folds train for ``max_epochs`` (a NaN still stops them).

    Returns:
        The summary written to ``summary.json``: per-fold scores, their mean and std, the averaged and
        smoothed curves, the chosen epoch, the final model's test values.

    Raises:
        ConfigurationError: A model that monitors nothing, a metric never logged, an output folder of another run.
        KFoldError: Some folds failed; it names them, and the finished ones are kept for a rerun.
    """
    exponential_moving_average([], ema)  # checks the factor before any training
    config_args = list(config_args)
    cli = parse_config(config_args)
    check_datamodule(cli.datamodule)
    cli.datamodule.change_split(num_folds=folds, fold=0)  # the one check of the fold count, before any training
    model = cli.model
    resolve_metric(type(model).__name__, getattr(model, "monitor", None), getattr(model, "monitor_mode", "min"),
                   metric, mode)
    parsed = cli.config.clone()
    for_folds = parsed.clone()
    if not early_stopping:
        for_folds["early_stopping.patience"] = NEVER
    output = output_folder(config_args, output)
    settings = {"config_args": config_args, "config_files": config_fingerprint(config_args), "folds": folds,
                "early_stopping": early_stopping}
    group = prepare_output(output, settings)
    writes = rank_zero_only.rank == 0

    records, failures = [], []
    for k in range(folds):
        fold_dir = output / f"fold_{k}"
        if (fold_dir / "result.json").is_file():
            rank_zero_info(f"k-fold: fold {k} finished earlier; reusing {fold_dir / 'result.json'}")
            records.append(read_record(fold_dir / "result.json"))
            continue
        rank_zero_info(f"k-fold: training fold {k} of {folds}")
        try:
            run = train(cli, for_folds, f"fold-{k}", group, fold_dir, {"num_folds": folds, "fold": k}, metric, mode, {},
                        test=False)
            record, interrupted = run.record, run.interrupted
        except (ConfigurationError, SystemExit, KeyboardInterrupt):
            raise  # the whole run is misconfigured (or stopped): no point trying the other folds
        except Exception as error:  # noqa: BLE001 - a crashed fold is reported, the others go on
            failures.append({"fold": k, "error": f"{type(error).__name__}: {error}"})
            rank_zero_info(f"k-fold: fold {k} failed: {failures[-1]['error']}")
            continue
        fold_metric, _ = resolve_metric(record.get("model", "the model"), record.get("monitor"),
                                        record.get("monitor_mode", "min"), metric, mode)
        problem = fold_failure(record, fold_metric, interrupted)
        if problem is not None:
            failures.append({"fold": k, "error": problem})
            rank_zero_info(f"k-fold: fold {k} failed: {problem}")
            if interrupted:
                break
            continue
        record["fold"] = k
        records.append(record)
        if writes:
            write_json(fold_dir / "result.json", record)

    base = {"config_args": config_args, "folds": folds, "output": str(output), "wandb_group": group,
            "failed_folds": failures}
    if failures:
        summary = {**base, "finished_folds": [r["fold"] for r in records]}
        if writes:
            write_json(output / "summary.json", summary)
        numbers = ", ".join(str(f["fold"]) for f in failures)
        details = "; ".join(f"fold {f['fold']}: {f['error']}" for f in failures)
        raise KFoldError(f"{len(failures)} of {folds} folds failed ({numbers}) - {details}. The finished folds are "
                         f"kept in {output}; rerun the same command to retry the unfinished ones.", failures, summary)

    first = records[0]
    metric, mode = resolve_metric(first.get("model", "the model"), first.get("monitor"),
                                  first.get("monitor_mode", "min"), metric, mode)
    summary = {**base, **summarize(records, metric, mode, ema)}
    rank_zero_info(f"k-fold: chosen epoch {summary['chosen_epoch']}; training the final model for "
                   f"{summary['final_epochs']} epochs on the whole training set")
    final_dir = output / "final"
    final = train(cli, parsed, "final", group, final_dir,
                  {"num_folds": None, "val_fraction": 0}, metric, mode,
                  {"trainer.limit_val_batches": 0, "trainer.max_epochs": summary["final_epochs"]}, test=True).record
    summary["final"] = {"epochs": summary["final_epochs"], "train_size": final.get("train_size"),
                        "checkpoints": str(final_dir / "checkpoints")}
    summary["test"] = final["test"]
    summary["test_score"] = final["test"].get(metric.replace("val/", "test/", 1))
    if writes:
        write_json(output / "summary.json", summary)
        plot_folds(records, summary, output / "curves.png")
        rank_zero_info("k-fold cross-validation\n" + table(summary) + f"\nwritten to {output}")
    return summary
