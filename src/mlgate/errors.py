"""The one error type of mlgate.

Every expected failure (bad configuration, unreadable input, a refused
operation) is raised as an ``MlgateError`` and turned into one line on stderr
and exit code 2 in exactly one place: ``mlgate.cli.main``.
"""

from __future__ import annotations


class MlgateError(Exception):
    """Base of every error mlgate reports to the user (exit code 2)."""

    exit_code = 2


class ConfigError(MlgateError):
    """The gates, params or dvc.yaml configuration is invalid."""


class InputError(MlgateError):
    """A metrics file, lock file, git ref or repository cannot be read."""


class RefusedError(MlgateError):
    """An operation was refused because its preconditions do not hold."""
