"""Bad input is the user's to fix: one line that says what is wrong, the bad value and what to do, no traceback.

Everything sgen checks before its first teacher query (the config, the data, the budget, the connection to a served
teacher) raises through `input_checks`, which turns the error into a UserInputError; `python -m sgen` prints it as
`sgen: error: ...` and exits 1. Internal errors (a bug) keep their traceback.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class UserInputError(Exception):
    """A problem with the input, found before any teacher query was spent."""


def root_cause(error: BaseException) -> BaseException:
    """The error that found the problem: Hydra's instantiate, and input_checks, wrap it."""
    while error.__cause__ is not None:
        error = error.__cause__
    return error


def one_line(error: BaseException) -> str:
    """The root cause's message, on one line."""
    from omegaconf.errors import MissingMandatoryValue

    error = root_cause(error)
    if isinstance(error, MissingMandatoryValue) and getattr(error, "full_key", None):
        return f"{error.full_key} is required (the config leaves it ???); set it, e.g. {error.full_key}=..."
    message = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
    return " ".join(str(message).split()) or type(error).__name__


@contextmanager
def input_checks() -> Iterator[None]:
    """Code that only reads and checks the input: what it raises is about the input."""
    from hydra.errors import InstantiationException
    from omegaconf.errors import OmegaConfBaseException

    try:
        yield
    except UserInputError:
        raise
    except (ValueError, KeyError, OSError, ImportError, InstantiationException, OmegaConfBaseException) as error:
        raise UserInputError(one_line(error)) from error
