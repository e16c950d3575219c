"""Metrics that are not in torchmetrics: judging GANs with our own frozen classifier."""

from lightning_dl.evaluation.judge import (ClassifierFeatures, ConditionalAccuracy, class_coverage, classifier_fid,
                                           classifier_fid_metric, conditional_accuracy, match_codes_to_classes,
                                           predict_classes)

__all__ = ["ClassifierFeatures", "ConditionalAccuracy", "class_coverage", "classifier_fid", "classifier_fid_metric",
           "conditional_accuracy", "match_codes_to_classes", "predict_classes"]
