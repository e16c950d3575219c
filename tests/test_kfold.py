"""K-fold cross-validation: fold indices against scikit-learn, then ``run_kfold`` on the digits set with 3 tiny
folds (a crash in fold 2, a rerun that resumes there, the averaged curve, the chosen epoch, the final model on
all training data), the refusal of a model that monitors nothing, and the ``kfold`` command line."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import REPO
from sklearn.model_selection import KFold as SklearnKFold
from sklearn.model_selection import StratifiedKFold as SklearnStratifiedKFold

import lightning_dl.__main__
import lightning_dl.cli
from lightning_dl.data import make_split
from lightning_dl.data.sources import load_digits
from lightning_dl.errors import ConfigurationError
from lightning_dl.models import Classifier
from lightning_dl.workflow import KFoldError, command, cross_validation, kfold, run_kfold, stratified_kfold
from lightning_dl.workflow.command import kfold_main, split_arguments
from lightning_dl.workflow.cross_validation import fold_failure

DIGITS = str(REPO / "configs/classifiers/cnn_digits.yaml")
TINY = ["--config", DIGITS, "--trainer.max_epochs", "2", "--trainer.limit_train_batches", "2",
        "--trainer.limit_val_batches", "2", "--trainer.limit_test_batches", "2", "--trainer.accelerator", "cpu",
        "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]
#: Unbalanced classes (50/23/7/3 samples), so that balance is not an accident of equal class sizes.
LABELS = np.random.default_rng(0).permutation(np.repeat([0, 1, 2, 3], [50, 23, 7, 3]))


# --- fold indices, without scikit-learn --------------------------------------------------------------
def check_partition(folds: list, n: int) -> None:
    for train, val in folds:
        assert not set(train) & set(val) and len(train) + len(val) == n
    assert sorted(np.concatenate([val for _, val in folds]).tolist()) == list(range(n))


@pytest.mark.parametrize("num_folds", [2, 3, 5])
def test_stratified_folds_balance_classes_as_scikit_learn_does(num_folds):
    folds = stratified_kfold(LABELS, num_folds, seed=0)
    check_partition(folds, len(LABELS))
    counts = np.array([np.bincount(LABELS[val], minlength=4) for _, val in folds])  # fold x class
    assert (counts.max(axis=0) - counts.min(axis=0) <= 1).all()  # each class within 1 across folds
    reference = np.array([np.bincount(LABELS[val], minlength=4) for _, val in
                          SklearnStratifiedKFold(num_folds, shuffle=True, random_state=0).split(LABELS, LABELS)])
    assert np.sort(counts, axis=0).tolist() == np.sort(reference, axis=0).tolist()  # each class split as sklearn does
    sizes = counts.sum(axis=1)
    assert sizes.max() - sizes.min() <= 1


def test_stratified_folds_are_seeded():
    same = [v.tolist() for _, v in stratified_kfold(LABELS, 3, seed=1)]
    assert same == [v.tolist() for _, v in stratified_kfold(LABELS, 3, seed=1)]
    assert same != [v.tolist() for _, v in stratified_kfold(LABELS, 3, seed=2)]


@pytest.mark.parametrize("n, num_folds", [(10, 3), (83, 5), (7, 7)])
def test_plain_folds_partition_like_scikit_learn(n, num_folds):
    folds = kfold(n, num_folds, seed=0)
    check_partition(folds, n)
    sizes = [len(val) for _, val in folds]
    assert sizes == [len(val) for _, val in SklearnKFold(num_folds).split(np.zeros(n))]
    assert [v.tolist() for _, v in folds] != [v.tolist() for _, v in kfold(n, num_folds, seed=1)] or n == num_folds


def test_the_data_cores_k_fold_splits_are_these_folds():
    """One k-fold in the project: a DataModule's ``num_folds``/``fold`` (and so ``lightning-dl kfold``) takes fold
    ``fold`` of these functions."""
    for k in range(3):
        for split, expected in (("stratified", stratified_kfold(LABELS, 3, seed=5)[k]),
                                ("shuffled", kfold(len(LABELS), 3, seed=5)[k])):
            got = make_split(split, num_folds=3, fold=k, seed=5)(LABELS)
            assert all(np.array_equal(g, e) for g, e in zip(got, expected)), (split, k)


@pytest.mark.parametrize("call", [lambda: kfold(5, 1), lambda: kfold(3, 4), lambda: stratified_kfold(LABELS[:, None], 3)])
def test_impossible_folds_are_configuration_errors(call):
    with pytest.raises(ConfigurationError):
        call()


# --- run_kfold on digits: a crash in fold 2, then a rerun that resumes there -----------------------------
@pytest.fixture(scope="module")
def kfold_run(tmp_path_factory):
    """Run 3 tiny folds with fold 2 crashing, then the same command again; keep what each saw and wrote."""
    output = tmp_path_factory.mktemp("kfold") / "digits"
    fits: list[tuple[str, object]] = []
    original_train = cross_validation.train

    def recording_train(cli, base, name, *args, **kwargs):
        fits.append((name, None))
        fit = original_train(cli, base, name, *args, **kwargs)
        fits[-1] = (name, fit)
        return fit

    original_step = Classifier.training_step

    def crash_in_fold_2(self, batch, batch_idx):
        if self.trainer.datamodule.hparams.fold == 2 and self.trainer.datamodule.hparams.num_folds:
            raise RuntimeError("simulated crash")
        return original_step(self, batch, batch_idx)

    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(output.parent)
        patch.setattr(cross_validation, "train", recording_train)
        patch.setattr(Classifier, "training_step", crash_in_fold_2)
        with pytest.raises(KFoldError) as failed:
            run_kfold(TINY, folds=3, output=output)
        first_fits = [name for name, _ in fits]
        results = {k: (output / f"fold_{k}" / "result.json") for k in range(3)}
        stamps = {k: path.stat().st_mtime_ns for k, path in results.items() if path.is_file()}
        patch.setattr(Classifier, "training_step", original_step)
        summary = run_kfold(TINY, folds=3, output=output)
    return SimpleNamespace(output=output, error=failed.value, first_fits=first_fits, stamps=stamps, summary=summary,
                           rerun_fits=fits[len(first_fits):], results=results)


def fold_of(name: str) -> str:
    """The fold a training was ("final" for the final model)."""
    return name.removeprefix("fold-")


def test_a_failing_fold_is_reported_by_number_and_the_finished_folds_are_kept(kfold_run):
    error = kfold_run.error
    assert [f["fold"] for f in error.failed_folds] == [2] and "simulated crash" in error.failed_folds[0]["error"]
    assert "(2)" in str(error) and "rerun" in str(error)
    assert [fold_of(name) for name in kfold_run.first_fits] == ["0", "1", "2"]  # no final model after a failure
    assert sorted(kfold_run.stamps) == [0, 1]  # fold 2 left no result to resume from


def test_a_rerun_resumes_at_the_unfinished_fold(kfold_run):
    assert [fold_of(name) for name, _ in kfold_run.rerun_fits] == ["2", "final"]  # folds 0 and 1 not retrained
    fold_2 = kfold_run.rerun_fits[0][1].datamodule  # the workflow set the fold on the DataModule it built
    assert (fold_2.num_folds, fold_2.fold) == (3, 2) and len(fold_2.val_set) == kfold_run.summary["folds"][2]["val_size"]
    assert {k: kfold_run.results[k].stat().st_mtime_ns for k in (0, 1)} == kfold_run.stamps
    assert kfold_run.summary["failed_folds"] == [] and len(kfold_run.summary["folds"]) == 3


def test_the_folds_are_disjoint_and_cover_the_training_set(kfold_run):
    records = [json.loads(kfold_run.results[k].read_text()) for k in range(3)]
    data = [r["data"] for r in records]
    assert [(d["num_folds"], d["fold"]) for d in data] == [(3, 0), (3, 1), (3, 2)]
    assert len({d["seed"] for d in data}) == 1
    whole = kfold_run.summary["final"]["train_size"]
    assert all(r["train_size"] + r["val_size"] == whole for r in records)
    # The validation sets those settings give the data core are disjoint and cover the training set.
    labels = load_digits().train_labels
    vals = [make_split(num_folds=3, fold=d["fold"], seed=d["seed"])(labels)[1] for d in data]
    assert [len(v) for v in vals] == [r["val_size"] for r in records]
    assert sorted(np.concatenate(vals).tolist()) == list(range(whole))


def test_the_averaged_curve_has_one_value_per_epoch_and_picks_the_epoch(kfold_run):
    summary = kfold_run.summary
    assert summary["epochs"] == [0, 1] and len(summary["average_curve"]) == len(summary["smoothed_curve"]) == 2
    curves = [json.loads(kfold_run.results[k].read_text())["val"]["val/loss"] for k in range(3)]
    assert summary["average_curve"] == pytest.approx([np.mean([c[str(e)] for c in curves]) for e in (0, 1)])
    first, second = summary["average_curve"]
    assert summary["smoothed_curve"] == pytest.approx([first, 0.6 * first + 0.4 * second])
    assert summary["chosen_epoch"] == int(np.argmin(summary["smoothed_curve"])) and summary["chosen_epoch"] in (0, 1)
    assert summary["final_epochs"] == summary["chosen_epoch"] + 1
    assert summary["metric"] == "val/loss" and summary["mode"] == "min"


def test_the_final_model_trains_on_all_training_data_and_is_tested(kfold_run):
    (_, cli), = [fit for fit in kfold_run.rerun_fits if fold_of(fit[0]) == "final"]
    assert cli.datamodule.num_folds is None and cli.datamodule.val_fraction == 0
    assert len(cli.datamodule.train_set) == len(load_digits().train_labels) == kfold_run.summary["final"]["train_size"]
    assert cli.trainer.current_epoch == kfold_run.summary["final_epochs"]  # trained exactly the chosen epochs
    assert kfold_run.summary["test_score"] == kfold_run.summary["test"]["test/loss"] and \
        math.isfinite(kfold_run.summary["test_score"])


def test_the_summary_is_strict_json_and_the_plot_a_png(kfold_run):
    def refuse(constant):
        raise ValueError(constant)

    summary = json.loads((kfold_run.output / "summary.json").read_text(), parse_constant=refuse)
    assert summary["chosen_epoch"] == kfold_run.summary["chosen_epoch"]
    scores = summary["at_chosen_epoch"]["val/accuracy"]
    assert len(scores["per_fold"]) == 3 and scores["mean"] == pytest.approx(np.mean(scores["per_fold"]))
    assert scores["std"] == pytest.approx(np.std(scores["per_fold"], ddof=1))
    assert (kfold_run.output / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_another_run_in_the_same_folder_is_refused(kfold_run):
    with pytest.raises(ConfigurationError, match="folds differ"):
        run_kfold(TINY, folds=4, output=kfold_run.output)


def test_a_nan_in_the_curve_fails_the_fold_naming_the_epoch():
    record = {"val": {"val/loss": {0: 1.0, 1: math.nan, 2: math.nan}}}
    assert fold_failure(record, "val/loss", interrupted=False) == "val/loss is nan at epoch 1"
    assert fold_failure({"val": {"val/loss": {0: 1.0}}}, "val/loss", interrupted=False) is None
    with pytest.raises(ConfigurationError, match="val/mae was never logged"):
        fold_failure(record, "val/mae", interrupted=False)


def test_a_model_that_monitors_nothing_is_refused(tmp_path):
    with pytest.raises(ConfigurationError, match="monitors nothing"):
        kfold_main([*TINY, "--model", "cli_helpers.Unmonitored", "--folds", "3", "--output", str(tmp_path / "out")])
    assert not list((tmp_path / "out").rglob("*.ckpt")) and not list((tmp_path / "out").rglob("result.json"))


# --- the command line ------------------------------------------------------------------------------------
@pytest.fixture
def captured_run(monkeypatch):
    calls = []
    monkeypatch.setattr(command, "run_kfold", lambda *args: calls.append(args) or {})
    return calls


def test_kfold_options_are_read_and_the_rest_goes_to_fit_in_order(captured_run, monkeypatch):
    monkeypatch.setattr("sys.argv", ["lightning-dl", "kfold", "--config", "a.yaml", "--folds", "3", "--ema=0.5",
                                     "--trainer.max_epochs", "4", "--config", "b.yaml", "--early_stopping"])
    lightning_dl.__main__.main()
    (passed, folds, output, ema, metric, mode, early_stopping), = captured_run
    assert passed == ["--config", "a.yaml", "--trainer.max_epochs", "4", "--config", "b.yaml"]
    assert (folds, output, ema, metric, mode, early_stopping) == (3, None, 0.5, None, None, True)
    assert split_arguments(["--metric", "val/mae", "--mode", "min"]) == (["--metric", "val/mae", "--mode", "min"], [])


def test_kfold_help_and_usage_errors(captured_run, capsys):
    with pytest.raises(SystemExit) as exit_:
        kfold_main(["--help"])
    assert exit_.value.code == 0 and "--folds" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        kfold_main(["--folds", "3"])
    assert exit_.value.code == 2 and "--config" in capsys.readouterr().err and not captured_run


def test_failed_folds_exit_with_status_1(monkeypatch, capsys):
    def fail(*args):
        raise KFoldError("1 of 3 folds failed (2)", [{"fold": 2, "error": "x"}], {})

    monkeypatch.setattr(command, "run_kfold", fail)
    with pytest.raises(SystemExit) as exit_:
        kfold_main(["--config", "a.yaml"])
    assert exit_.value.code == 1 and "folds failed (2)" in capsys.readouterr().err


def test_output_defaults_to_the_config_name_and_names_the_wandb_group(tmp_path):
    assert cross_validation.output_folder(["--config", "a/b.yaml", "--config=c/d.yaml"]) == Path("runs/kfold/d")
    assert cross_validation.output_folder(["--config", "a/b.yaml"], tmp_path) == tmp_path
    group = cross_validation.prepare_output(tmp_path / "x", {"folds": 3})
    assert group.startswith("kfold-x-") and cross_validation.prepare_output(tmp_path / "x", {"folds": 3}) == group
