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


class IncompleteCloneError(RefusedError):
    """A clone lacks the tags or commits an answer depends on.

    ``actions/checkout`` fetches one commit and no tags unless told ``fetch-depth: 0``, so a
    copied CI step runs in such a shallow clone; ``git clone --no-tags`` fetches every commit
    and no tag. Refusing beats answering from what is missing.
    """


FETCH_TAGS = "fetch them ('git fetch --tags', or 'fetch-depth: 0' in actions/checkout)"
FETCH_HISTORY = (
    "fetch the history and tags ('git fetch --unshallow --tags', "
    "or 'fetch-depth: 0' in actions/checkout)"
)


def no_release_found(artifact: str, clone: str) -> str:
    """Why missing release tags prove nothing in ``clone`` (see gitio.unfetched_tags), and
    the fetch that fixes it."""
    return (
        f"no release of '{artifact}' found in {clone}, whose tags may not have been fetched: "
        f"{FETCH_TAGS}"
    )
