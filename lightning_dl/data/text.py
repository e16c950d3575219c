"""Text preprocessing written out, as in the notes (Keras' text utilities, in the project's terms).

- :func:`tokenize`: lowercase words (letters, digits, inner apostrophes), optionally without the
  :data:`STOP_WORDS`; :func:`characters` for character-level models;
- the vocabulary of the ``max_words`` most frequent training words is
  :class:`~lightning_dl.data.preprocessing.Vocabulary` (index 0 padding, 1 unknown), fitted on the training
  split only by :class:`~lightning_dl.data.text_datamodule.TextDataModule`;
- :class:`HashingVocabulary`: the hashing trick instead of a fitted vocabulary — each word hashed into one of
  ``num_buckets`` indices, no table to store, at the price of collisions (counted on the training words);
- encodings: :func:`pad_sequences` (padded or truncated integer sequences, for embeddings), :func:`multi_hot`
  (bag of words), :func:`one_hot_words` and :func:`one_hot_characters`.
"""

from __future__ import annotations

import re
import string
import zlib
from typing import Any, Iterable, Literal, Sequence

import numpy as np
import torch
from torch import Tensor

from lightning_dl.data.preprocessing import Preprocessor
from lightning_dl.errors import ConfigurationError, check_choice

#: A short English stop-word list: words too common to tell texts apart (negations are kept: they carry sentiment).
STOP_WORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between both
but by can could did do does doing down during each few for from further had has have having he her here hers
herself him himself his how i if in into is it its itself just let me more most my myself of off on once only or
other our ours ourselves out over own same she should so some such than that the their theirs them themselves
then there these they this those through to too under until up very was we were what when where which while who
whom why will with would you your yours yourself yourselves s t ll d re ve m
""".split())

TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)*")
#: The characters a character-level encoding knows; any other character is "unknown".
ALPHABET = string.ascii_lowercase + string.digits + string.punctuation + " "
Side = Literal["pre", "post"]


def tokenize(text: str, lowercase: bool = True, stop_words: Iterable[str] | None = None) -> list[str]:
    """The words of ``text``: runs of letters and digits (with inner apostrophes: ``don't``), lowercased, without
    ``stop_words`` (e.g. :data:`STOP_WORDS`) when given."""
    words = TOKEN.findall(text.lower() if lowercase else text)
    if stop_words is None:
        return words
    stop = stop_words if isinstance(stop_words, (set, frozenset)) else set(stop_words)
    return [word for word in words if word not in stop]


def characters(text: str, lowercase: bool = True) -> list[str]:
    """The characters of ``text``, whitespace runs as one space."""
    text = " ".join(text.split())
    return list(text.lower() if lowercase else text)


def pad_sequences(sequences: Sequence[Sequence[int]], max_length: int, padding: Side = "pre",
                  truncating: Side = "pre", value: int = 0) -> Tensor:
    """``(N, max_length)`` int64: each sequence padded with ``value`` or truncated to ``max_length``, at its start
    (``pre``, Keras' default: the end of a text, nearest the prediction, is kept) or its end (``post``)."""
    check_choice("padding", padding, Side)
    check_choice("truncating", truncating, Side)
    out = np.full((len(sequences), max_length), value, dtype=np.int64)
    for row, sequence in enumerate(sequences):
        kept = list(sequence[-max_length:] if truncating == "pre" else sequence[:max_length])
        if kept:
            if padding == "pre":
                out[row, max_length - len(kept):] = kept
            else:
                out[row, :len(kept)] = kept
    return torch.from_numpy(out)


def multi_hot(sequences: Sequence[Sequence[int]], size: int) -> Tensor:
    """``(N, size)`` float bag of words: 1 where the text holds the word of that index (padding never)."""
    out = torch.zeros(len(sequences), size)
    for row, sequence in enumerate(sequences):
        indices = [i for i in set(sequence) if 0 < i < size]
        out[row, indices] = 1.0
    return out


def one_hot_words(padded: Tensor, size: int) -> Tensor:
    """``(N, steps, size)`` float: each word index of a padded ``(N, steps)`` batch as a one-hot row (padding:
    zeros)."""
    out = torch.nn.functional.one_hot(padded.long(), size).float()
    out[..., 0] = 0.0
    return out


def character_indices(text: str, lowercase: bool = True) -> list[int]:
    """Each character as its index in :data:`ALPHABET` + 2 (0 padding, 1 unknown)."""
    return [ALPHABET.find(c) + 2 if c in ALPHABET else 1 for c in characters(text, lowercase)]


def one_hot_characters(texts: Sequence[str], max_length: int, padding: Side = "post", truncating: Side = "post"
                       ) -> Tensor:
    """``(N, max_length, len(ALPHABET) + 2)`` float: every character one-hot (index 1: a character outside the
    alphabet; padding rows are zeros)."""
    return one_hot_words(pad_sequences([character_indices(t) for t in texts], max_length, padding, truncating),
                         len(ALPHABET) + 2)


def stable_hash(word: str) -> int:
    """A hash that is the same in every process and run (Python's ``hash`` of a string is salted per process)."""
    return zlib.crc32(word.encode("utf-8"))


class HashingVocabulary(Preprocessor):
    """The hashing trick: word ``w`` gets index ``1 + crc32(w) mod (num_buckets - 1)``; index 0 stays padding.

    Nothing has to be learned or stored, and words never seen in training still get an index, but different
    words can share one (a collision): fitting counts the collisions among the training words
    (``distinct words - buckets they occupy``) so the cost of the chosen ``num_buckets`` is visible.
    """

    pad_index = 0

    def __init__(self, num_buckets: int = 10000) -> None:
        if num_buckets < 2:
            raise ConfigurationError(f"hashing_buckets={num_buckets} must be at least 2 (index 0 is padding).")
        self.num_buckets = num_buckets
        self.distinct_words: int | None = None
        self.collisions: int | None = None

    @property
    def fitted(self) -> bool:
        return self.collisions is not None

    def __len__(self) -> int:
        return self.num_buckets

    def index_of(self, word: str) -> int:
        return 1 + stable_hash(word) % (self.num_buckets - 1)

    def fit(self, train: Iterable[Sequence[str]]) -> HashingVocabulary:
        words = {word for text in train for word in text}
        self.distinct_words = len(words)
        self.collisions = len(words) - len({self.index_of(word) for word in words})
        return self

    def encode(self, tokens: Sequence[str]) -> list[int]:
        return [self.index_of(token) for token in tokens]

    def __call__(self, texts: Iterable[Sequence[str]]) -> list[list[int]]:
        return [self.encode(text) for text in texts]

    def inverse(self, encoded: Any) -> Any:
        raise NotImplementedError("A hash cannot be inverted: several words share each index.")

    def statistics(self) -> dict[str, Any]:
        self._require_fitted()
        return {"buckets": self.num_buckets, "distinct_train_words": self.distinct_words,
                "collisions": self.collisions}

    def state_dict(self) -> dict[str, Any]:
        return {"num_buckets": self.num_buckets, "distinct_words": self.distinct_words, "collisions": self.collisions}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.num_buckets, self.distinct_words = state["num_buckets"], state["distinct_words"]
        self.collisions = state["collisions"]
