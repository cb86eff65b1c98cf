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


def require_text(text: str, what: str) -> str:
    """``text`` if it can be written out (to a tag message, to stdout); else an InputError,
    raised before anything is created.

    A command-line argument that is not UTF-8 reaches Python as lone surrogates ('\\udcff' for
    the byte 0xff), which UTF-8 cannot encode: git's stdin raised UnicodeEncodeError. A NUL
    would be stored by git but split the NUL-separated records ``list_tags`` reads back.
    """
    bad = next((char for char in text if "\ud800" <= char <= "\udfff"), None)
    if bad is not None:
        code = ord(bad)
        shown = f"the byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"U+{code:04X}"
        raise InputError(f"{what} is not UTF-8 text (it contains {shown}); write it in UTF-8")
    if "\0" in text:
        raise InputError(f"{what} contains a NUL character")
    return text
