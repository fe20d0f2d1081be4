"""Exceptions the library raises for a user's mistake, and the exit codes the CLI gives them.

Each carries a complete message (what, where, how to fix); the CLI prints it on one line and exits with
`exit_code`. Programming errors are left to propagate as ordinary exceptions.

Exit codes, the same for every command (the README's "Limits and safety" lists them):

    0  done (warnings allowed)
    1  findings: validation errors, undecided or stale decisions, or input that was read but cannot be used
    2  usage error (click's own, a refused output path, an existing output without --force) or unreadable input
       (missing, not a regular file, not the expected format or encoding, beyond a documented limit)
"""

from __future__ import annotations

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class ReviewError(Exception):
    """A problem with the user's input that they can fix; the message says how."""

    exit_code = EXIT_FINDINGS


class FormError(ReviewError):
    """An extraction form (YAML) that cannot be loaded: names the file, line and the problem."""

    exit_code = EXIT_USAGE


class UnreadableInput(ReviewError):
    """An input file that cannot be read at all (not an xlsx, password-protected, a sheet missing...)."""

    exit_code = EXIT_USAGE


class RefusedOutput(ReviewError):
    """An output that would replace the user's work: an existing file without --force, or an input."""

    exit_code = EXIT_USAGE
