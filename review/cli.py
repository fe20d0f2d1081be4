"""The `review` command: each command parses its arguments, calls one library function and renders the result.

Only this module talks to the terminal. A `ReviewError` becomes one red line and its exit code; anything else is
a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console

from .errors import ReviewError

app = typer.Typer(
    name="review",
    help="Systematic-review data extraction: forms, reviewer workbooks, validation, comparison and meta-analysis.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)


def friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a user's mistake (ReviewError) into one line on stderr and its exit code, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ReviewError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None

    return wrapper


def main() -> None:  # pragma: no cover - console entry point alias
    sys.exit(app())
