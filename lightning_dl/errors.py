"""Errors a user can cause, each saying what was wrong and how to fix it."""

from __future__ import annotations


class DatasetNotFoundError(FileNotFoundError):
    """The files of a dataset are neither on disk nor downloadable from here."""


class DataValidationError(ValueError):
    """Data that cannot be trained on: NaN values, labels out of range, wrong shapes, corrupt files."""


class ConfigurationError(ValueError):
    """A configuration value that cannot work, e.g. a network that does not fit the data layout."""
