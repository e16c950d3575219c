"""A user's mistake on the command line ends in one ``error:`` line and exit status 2, not a traceback.

What counts as the user's mistake (each printed as ``error: <config key>=<value>: <what is wrong>``):

- a config the parser refuses: an unknown key, a value of the wrong type, a ``class_path`` that cannot be
  imported (jsonargparse's nested, many-line message, reduced to its key, value and reason);
- a project error raised while the run is built or runs (:class:`~lightning_dl.errors.ConfigurationError`,
  :class:`~lightning_dl.errors.DataValidationError`, :class:`~lightning_dl.errors.DatasetNotFoundError`),
  with the config key it names where exactly one key of the config matches;
- a torch optimiser refusing a hyperparameter when it is built (``Invalid learning rate: -0.1``, raised in
  ``configure_optimizers`` during fit), mapped back to the config key that set it.

Everything else is a bug and keeps its traceback (status 1). ``LIGHTNING_DL_DEBUG=1`` keeps the traceback of
the user's mistakes too. :func:`user_errors_reported` wraps the console script's run.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import jsonargparse

from lightning_dl.errors import CheckpointError, ConfigurationError, DatasetNotFoundError, DataValidationError

#: The environment variable that keeps full tracebacks (``LIGHTNING_DL_DEBUG=1``).
DEBUG_VARIABLE = "LIGHTNING_DL_DEBUG"
#: The project's errors that a user causes (a bad value, bad data, missing files): one line, status 2.
USER_ERRORS = (ConfigurationError, DataValidationError, DatasetNotFoundError, CheckpointError)
#: Exit status of a usage error (argparse's and jsonargparse's).
USAGE_ERROR_STATUS = 2
#: What each ``Invalid <what>`` of a torch optimiser's constructor checks, by argument name.
OPTIMIZER_ARGUMENTS = {"learning rate": "lr", "epsilon": "eps", "beta": "betas", "eta": "etas"}

_INVALID_OPTIMIZER_VALUE = re.compile(r"^Invalid (?P<what>.+?)(?: values?| parameter at index \d+)?: (?P<value>.+)$")
_PARSER_NOISE = re.compile(r"^(Does not validate against any of the Union subtypes|Subtypes:|Errors:|Given value type:"
                           r"|Expected a <class 'NoneType'>|Expected a path but .* either not accessible or invalid$)")


def debug_requested() -> bool:
    """Whether ``LIGHTNING_DL_DEBUG`` asks for full tracebacks (any value but empty, 0, false, no)."""
    return os.environ.get(DEBUG_VARIABLE, "").strip().lower() not in ("", "0", "false", "no")


def hint() -> str:
    """The end of every one-line error: where the details are."""
    subcommand = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else "fit"
    return f"(run with {DEBUG_VARIABLE}=1 for the traceback; lightning-dl {subcommand} --help lists the options)"


@contextmanager
def user_errors_reported() -> Iterator[None]:
    """Run the block; a user's mistake in it ends the process with one ``error:`` line on stderr and status 2.

    Inside the block the config parser raises its errors instead of printing its usage and exiting, so
    they can be reduced to one line. With ``LIGHTNING_DL_DEBUG=1`` every error propagates with its traceback.
    """
    try:
        with _parser_errors_raised():
            yield
    except argparse.ArgumentError as error:
        _exit_with(describe_parser_error(str(error)), error)
    except USER_ERRORS as error:
        _exit_with(describe_user_error(error), error)
    except ValueError as error:
        line = describe_optimizer_error(error)
        if line is None:
            raise
        _exit_with(line, error)


def _exit_with(line: str, error: BaseException) -> None:
    if debug_requested():
        raise error
    print(f"error: {line} {hint()}", file=sys.stderr, flush=True)
    raise SystemExit(USAGE_ERROR_STATUS)


@contextmanager
def _parser_errors_raised() -> Iterator[None]:
    """Every jsonargparse parser raises ``ArgumentError`` instead of printing usage and exiting (as it does
    with ``exit_on_error=False``; its own code that expects that exception keeps working)."""
    error = jsonargparse.ArgumentParser.error

    def raise_instead(parser: jsonargparse.ArgumentParser, message: str, ex: Exception | None = None) -> None:
        parser.exit_on_error = False
        error(parser, message, ex)

    with mock.patch.object(jsonargparse.ArgumentParser, "error", raise_instead):
        yield


# --- a parser's refusal --------------------------------------------------------------------------------
def describe_parser_error(message: str) -> str:
    """jsonargparse's nested message as ``<key>=<value>: <reason>``: the key is followed down through every
    ``Parser key`` and ``class_path`` (into its ``init_args``); the reason is the innermost line."""
    key: list[str] = []
    value: str | None = None
    reasons: list[str] = []
    for line in (line.strip().removeprefix("- ").strip() for line in message.splitlines()):
        if not line or _PARSER_NOISE.match(line):
            continue
        if match := re.match(r'Parser key "([^"]+)":?\s*(.*)$', line):
            key.append(match[1])
            reasons += [match[2]] if match[2] else []
        elif re.match(r"Problem with given class_path '[^']+'", line):
            key.append("init_args")
        elif match := re.match(r"Given value: (.*)$", line):
            value = value or _given_value(match[1])
        else:
            if match := re.match(r"(?:Option|Key) '([^']+)' is not accepted", line):
                key.append(match[1])
            reasons.append(line)
    while key and key[-1] == "init_args":  # the class path itself was refused, not one of its arguments
        key.pop()
    reason = reasons[-1] if reasons else " ".join(message.split())
    if match := re.search(r"\. Got value: (.*)$", reason):
        value, reason = _given_value(match[1]), reason[:match.start()]
    reason = re.sub(r"^Type .+? expects a function or a callable class: ", "", reason)
    reason = re.sub(r"Expected an? <class '([\w.]+)'>", r"expected a value of type \1", reason)
    if not key:
        return reason
    return f"{'.'.join(key)}{'' if value is None else '=' + value}: {reason}"


def _given_value(text: str) -> str:
    """The value a parser was given, from its repr in the message (an override's or a class path's)."""
    for pattern in (r"NestedArg\(key='[^']*', val='(.*)'\)$", r"class_path='([^']*)'"):
        if match := re.search(pattern, text):
            return match[1]
    return text


# --- an error raised while the run is built or runs ------------------------------------------------------
def describe_user_error(error: BaseException) -> str:
    """A project error's message on one line, after the config key it is about where exactly one key of the
    config has a name and a value that the message mentions."""
    message = " ".join(str(error).split())
    if isinstance(error, FileNotFoundError) and error.args and not isinstance(error.args[0], str):
        message = " ".join(str(error.args[-1]).split())
    named = [key for key, value in config_values(error).items()
             if _mentions(message, key.rpartition(".")[2]) and _mentions(message, str(value))]
    return f"{named[0]}: {message}" if len(named) == 1 else message


def describe_optimizer_error(error: ValueError) -> str | None:
    """``<key>=<value>: ...`` for a torch optimiser's ``Invalid ...`` refusal of a hyperparameter, mapped
    back to the config key(s) that set it; ``None`` for any other ``ValueError``."""
    match = _INVALID_OPTIMIZER_VALUE.match(str(error))
    if match is None or not _raised_in_torch_optimizer(error):
        return None
    what, value = match["what"], match["value"]
    argument = OPTIMIZER_ARGUMENTS.get(what, what)
    config = config_values(error)
    keys = [key for key in config if key.rpartition(".")[2] == argument]
    matching = [key for key in keys if _holds(config[key], value)]
    keys = matching or keys
    where = " / ".join(keys) if keys else f"the optimizer's {argument}"
    return f"{where}={value}: torch.optim refuses it ({error}); {argument} must be a non-negative number."


def _raised_in_torch_optimizer(error: BaseException) -> bool:
    frames = list(traceback.walk_tb(error.__traceback__))
    return bool(frames) and f"torch{os.sep}optim{os.sep}" in frames[-1][0].f_code.co_filename


def config_values(error: BaseException) -> dict[str, Any]:
    """The dotted keys and values of the config of the ``LightningCLI`` that ``error`` was raised through
    (its subcommand's part); empty when it was not raised through one."""
    from pytorch_lightning.cli import LightningCLI

    for frame, _ in traceback.walk_tb(error.__traceback__):
        cli = frame.f_locals.get("self")
        if isinstance(cli, LightningCLI) and isinstance(getattr(cli, "config", None), jsonargparse.Namespace):
            config = cli.config
            subcommand = getattr(cli, "subcommand", None)
            if subcommand and isinstance(config.get(subcommand), jsonargparse.Namespace):
                config = config[subcommand]
            return dict(config.items())
    return {}


def _mentions(message: str, word: str) -> bool:
    return bool(word) and re.search(rf"(?<![\w.]){re.escape(word)}(?![\w])", message) is not None


def _holds(config_value: Any, value: str) -> bool:
    """Whether a config value is (or, for a list such as ``betas``, contains) the value of a message."""
    values = config_value if isinstance(config_value, (list, tuple)) else [config_value]
    for candidate in values:
        try:
            if float(candidate) == float(value):
                return True
        except (TypeError, ValueError):
            if str(candidate) == value:
                return True
    return False
