"""Exceptions the library raises for a user's mistake.

Each carries a complete message (what, where, how to fix); the CLI prints it on one line and exits with
`exit_code`. Programming errors are left to propagate as ordinary exceptions.
"""

from __future__ import annotations


class ReviewError(Exception):
    """A problem with the user's input that they can fix; the message says how."""

    exit_code = 1


class FormError(ReviewError):
    """An extraction form (YAML) that cannot be loaded: names the file, line and the problem."""

    exit_code = 2


class UnreadableInput(ReviewError):
    """An input file that cannot be read at all (not an xlsx, password-protected, a sheet missing...)."""

    exit_code = 2
