"""Text classification: a :class:`~lightning_dl.models.Classifier` whose network may start with a word embedding,
sized by the DataModule's vocabulary and, optionally, filled with pre-trained GloVe vectors."""

from __future__ import annotations

import inspect
from functools import partial
from typing import Sequence

import torch
from pytorch_lightning.cli import LRSchedulerCallable, OptimizerCallable
from pytorch_lightning.utilities import rank_zero_info

from lightning_dl.models.base import _target_class
from lightning_dl.models.supervised import Classifier, Head
from lightning_dl.nn.base import NetworkFactory
from lightning_dl.nn.embeddings import EmbeddingReport


def takes_vocab_size(factory: NetworkFactory) -> bool:
    """Whether the network a factory builds has an embedding to size (a ``vocab_size`` argument)."""
    target = _target_class(factory)
    try:
        return "vocab_size" in inspect.signature(target).parameters
    except (TypeError, ValueError):
        return False


class TextClassifier(Classifier):
    """A classifier of encoded texts: a bag of words into an MLP, or word indices into an embedding and a
    recurrent network (``lightning_dl.nn.SequenceNetwork``), whose embedding gets ``vocab_size`` rows.

    When the network names ``pretrained_embeddings`` (GloVe), they are loaded for the DataModule's vocabulary as
    training starts (not again when a checkpoint is restored); how many vocabulary words had no vector is logged
    and kept in :attr:`embedding_report`. Logged as the :class:`Classifier` logs.

    Args:
        network: Builds the network from ``(input_shape, num_outputs)`` (and ``vocab_size`` when it takes one).
        input_shape: Shape of one encoded text; the CLI links it from the TextDataModule.
        num_classes: Number of classes; linked from the DataModule.
        class_names: Names of the classes; linked from the DataModule.
        vocab_size: Rows of the network's embedding; linked from the DataModule.
        head: ``multiclass`` or ``binary``.
        optimizer: Any ``torch.optim`` optimiser.
        lr_scheduler: Any ``torch.optim.lr_scheduler`` scheduler.
        label_smoothing: Share of each label's probability spread over the other classes.
        max_norm: Max-norm constraint on each unit's incoming weights.
    """

    def __init__(self, network: NetworkFactory, input_shape: tuple[int, ...] = (100,), num_classes: int = 2,
                 class_names: Sequence[str] | None = None, vocab_size: int = 10000, head: Head = "multiclass",
                 optimizer: OptimizerCallable = torch.optim.Adam, lr_scheduler: LRSchedulerCallable | None = None,
                 label_smoothing: float = 0.0, max_norm: float | None = None) -> None:
        factory = partial(network, vocab_size=vocab_size) if takes_vocab_size(network) else network
        super().__init__(factory, input_shape, num_classes, class_names, head, optimizer, lr_scheduler,
                         label_smoothing, max_norm)
        self.save_hyperparameters()
        self.vocab_size = vocab_size
        self.embedding_report: EmbeddingReport | None = None
        self.register_buffer("pretrained_loaded", torch.tensor(False))

    def setup(self, stage: str) -> None:
        datamodule = getattr(self.attached_trainer(), "datamodule", None)
        vocabulary = getattr(datamodule, "vocabulary", None)
        if stage != "fit" or bool(self.pretrained_loaded) or vocabulary is None or not hasattr(self.network,
                                                                                                 "load_pretrained"):
            return
        if getattr(vocabulary, "tokens", None) is None:
            if getattr(self.network, "pretrained_embeddings", None):
                raise ValueError("Pre-trained embeddings need a vocabulary of words; the hashing trick has none. "
                                 "Leave hashing_buckets unset.")
            return
        report = self.load_pretrained(vocabulary.tokens)
        if report is not None:
            rank_zero_info(f"Pre-trained embeddings: {report.found} of {report.found + len(report.out_of_vocabulary)} "
                           f"vocabulary words found ({report.coverage:.1%}); {len(report.out_of_vocabulary)} have no "
                           f"vector (zero rows), e.g. {', '.join(report.out_of_vocabulary[:8])}.")

    def load_pretrained(self, tokens: Sequence[str]) -> EmbeddingReport | None:
        """Fill the network's embedding from its ``pretrained_embeddings`` for the vocabulary ``tokens``."""
        report = self.network.load_pretrained(tokens)
        if report is not None:
            self.embedding_report = report
            self.pretrained_loaded.fill_(True)
        return report
