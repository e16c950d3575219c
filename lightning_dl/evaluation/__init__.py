"""Metrics that are not in torchmetrics: judging GANs with our own frozen classifier."""

from lightning_dl.evaluation.judge import (
    ClassifierFeatures,
    ConditionalAccuracy,
    class_coverage,
    classifier_fid,
    classifier_fid_metric,
    conditional_accuracy,
    match_codes_to_classes,
    predict_classes,
)
from lightning_dl.evaluation.saved_judge import Judge, load_judge, save_judge

__all__ = ["ClassifierFeatures", "ConditionalAccuracy", "Judge", "class_coverage", "classifier_fid",
           "classifier_fid_metric", "conditional_accuracy", "load_judge", "match_codes_to_classes",
           "predict_classes", "save_judge"]
