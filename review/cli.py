"""The `review` command: each command parses its arguments, calls one library function and renders the result.

Only this module talks to the terminal. A `ReviewError` becomes one red line and its exit code; anything else is
a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table as RichTable

from .errors import ReviewError
from .forms import default_form_path, load_form
from .issues import ERROR, FATAL, Report, catalogue_markdown

app = typer.Typer(
    name="review",
    help="Systematic-review data extraction: forms, reviewer workbooks, validation, comparison and meta-analysis.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Piped output (CI logs, files) gets a wide console so issue tables stay one line per issue.
out = Console(width=None if sys.stdout.isatty() else 200)
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


FormOption = Annotated[
    Path | None, typer.Option("--form", "-f", help="Extraction form (YAML). Default: the oncology trial form.")
]


def _form(path: Path | None):
    return load_form(path or default_form_path())


@app.command()
@friendly
def workbook(
    form: Annotated[Path, typer.Argument(help="Extraction form (YAML), e.g. extraction_forms/oncology_trial.yaml.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Workbook to write (.xlsx), or a folder with "
                                                               "--per-study.")],
    reviewer: Annotated[str, typer.Option(help="Reviewer name or initials written into the workbook.")] = "",
    studies: Annotated[Path | None, typer.Option(help="Included studies to pre-fill: an RIS export or a CSV.")] = None,
    per_study: Annotated[bool, typer.Option("--per-study", help="One workbook per study (needs --studies).")] = False,
) -> None:
    """Make a reviewer workbook from an extraction form."""
    from .workbook import make_study_workbooks, make_workbook, read_studies

    the_form = load_form(form)
    included = read_studies(studies) if studies else None
    if per_study:
        if included is None:
            raise ReviewError("--per-study needs --studies FILE (.ris or .csv) listing the included studies.")
        paths = make_study_workbooks(the_form, included, output, reviewer=reviewer)
        out.print(f"Wrote {len(paths)} workbooks to {output}/ (form {the_form.label}).")
        return
    if output.suffix.lower() != ".xlsx":
        raise ReviewError(f"{output}: the workbook must be an .xlsx file.")
    data = None
    if included is not None:
        fields = the_form.table("studies").fields
        data = {"studies": included[[c for c in included.columns if c in fields]]}
    make_workbook(the_form, output, reviewer=reviewer, data=data)
    prefilled = f", {len(included)} studies pre-filled" if included is not None else ""
    out.print(f"Wrote {output} (form {the_form.label}{prefilled}).")


@app.command()
@friendly
def validate(
    inputs: Annotated[list[Path], typer.Argument(help="Reviewer workbooks (.xlsx) or folders of CSV files.")],
    form: FormOption = None,
    report: Annotated[Path | None, typer.Option(help="Also write the issues to this .csv or .xlsx file.")] = None,
    annotate: Annotated[Path | None, typer.Option(
        help="Folder for copies of the workbooks with each issue's cell highlighted and commented.")] = None,
) -> None:
    """Check reviewer workbooks. Exit code 0: no errors (warnings allowed); 1: errors; 2: unreadable input."""
    from .validate import validate_files, write_report
    from .workbook import annotate_workbook

    the_form = _form(form)
    result = validate_files(inputs, the_form)
    _render_issues(result)
    if report:
        write_report(result, report)
        out.print(f"Report written to {report}")
    if annotate:
        for path in inputs:
            if path.is_file() and not any(i.file == str(path) and i.severity == FATAL for i in result):
                target = annotate_workbook(path, result, annotate / f"{path.stem}.checked.xlsx")
                out.print(f"Marked copy written to {target}")
    raise typer.Exit(result.exit_code)


def _render_issues(report: Report) -> None:
    if len(report):
        table = RichTable(show_lines=False, header_style="bold")
        for col in ("severity", "where", "study", "field", "value", "code", "message"):
            table.add_column(col, overflow="fold")
        style = {FATAL: "bold red", ERROR: "red"}
        for i in report:
            table.add_row(i.severity, i.where, i.study_id, i.field, i.value, i.code, i.message,
                          style=style.get(i.severity, "yellow"))
        out.print(table)
    colour = "red" if not report.ok else "green"
    out.print(f"[{colour}]{report.summary()}[/]")


@app.command()
def rules(
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the Markdown table of docs/validation-rules.md.")]
    = False,
) -> None:
    """List every validation issue code with its severity, meaning and fix."""
    from .issues import CODES

    if markdown:
        typer.echo(catalogue_markdown(), nl=False)
        return
    table = RichTable(header_style="bold")
    for col in ("code", "severity", "meaning", "fix"):
        table.add_column(col, overflow="fold")
    for c in CODES.values():
        table.add_row(c.code, c.severity, c.title, c.fix)
    out.print(table)


def main() -> None:  # pragma: no cover - console entry point alias
    sys.exit(app())
