"""Errors a user can cause, each saying what was wrong and how to fix it."""

from __future__ import annotations

from typing import get_args


class DatasetNotFoundError(FileNotFoundError):
    """The files of a dataset are neither on disk nor downloadable from here."""


class DataValidationError(ValueError):
    """Data that cannot be trained on: NaN values, labels out of range, wrong shapes, corrupt files."""


class ConfigurationError(ValueError):
    """A configuration value that cannot work, e.g. a network that does not fit the data layout."""


class CheckpointError(ValueError):
    """A checkpoint that cannot be read (truncated, not a checkpoint) or that belongs to another model or DataModule."""


class NonFiniteLossError(FloatingPointError):
    """A training loss became NaN or infinite: the run stops instead of training on silently."""


def check_choice(what: str, value: object, choices: object) -> None:
    """Raise :class:`ConfigurationError` unless ``value`` is one of the options of the ``Literal`` ``choices``."""
    options = get_args(choices)
    if value not in options:
        raise ConfigurationError(f"Unknown {what} {value!r}; choose one of {', '.join(map(str, options))}.")
