"""Training workflows around single runs: k-fold cross-validation with the optimal epoch and a final model."""

from lightning_dl.workflow.cross_validation import FoldRecorder, KFoldError, run_kfold
from lightning_dl.data.folds import kfold, stratified_kfold

__all__ = ["FoldRecorder", "KFoldError", "kfold", "run_kfold", "stratified_kfold"]
