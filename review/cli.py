"""The `review` command: each command parses its arguments, calls one library function and renders the result.

Only this module and review.render (its tables) talk to the terminal. A `ReviewError` becomes one red line and its exit code; anything else is
a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core
from rich.table import Table as RichTable

from .errors import EXIT_USAGE, ReviewError
from .forms import default_form_path, load_form
from .issues import FATAL, catalogue_markdown
from .render import err, labelled, out, render_comparison, render_issues, render_meta
from .words import counted

app = typer.Typer(
    name="review",
    help="Systematic-review data extraction: forms, reviewer workbooks, validation, comparison and meta-analysis.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _help_type(param: Any, ctx: Any) -> str | None:
    """The type column of help as click writes it (PATH, TEXT, NUMBER), not typer 0.2x's `<list[Path]>`:
    flags and arguments (whose name is shown) get none. Patched in one place so every command reads the same."""
    if isinstance(param, typer.core.TyperArgument):
        return None
    if param.metavar is not None:
        return param.metavar
    inner = param.display_type(ctx).strip("<>")
    many = inner.startswith("list[")
    inner = inner.removeprefix("list[").removesuffix("]")
    words = {"bool": None, "str": "TEXT", "path": "PATH", "Path": "PATH", "float": "NUMBER", "int": "INTEGER"}
    word = words.get(inner, inner.upper())
    if word is None:
        return None
    return word + ("..." if many else "")


def _usage_name(param: Any) -> str:
    """An argument as usage and help name it: its metavar as written, else its name in capitals."""
    if param.metavar is not None:
        return param.metavar
    return param.name.upper() + ("..." if param.nargs != 1 else "")


# Patched with setattr and guarded with hasattr: typer releases before 0.2x have none of these, and help then
# reads as click writes it anyway.
for _cls in (typer.core.TyperArgument, typer.core.TyperOption):
    if hasattr(_cls, "display_type_rich"):
        setattr(_cls, "display_type_rich", _help_type)  # noqa: B010
for _method in ("_usage_display_name", "_rich_display_name"):
    if hasattr(typer.core.TyperArgument, _method):
        setattr(typer.core.TyperArgument, _method, _usage_name)
if isinstance(getattr(typer.core.TyperArgument, "display_name_raw", None), property):
    _raw = property(lambda self: self.metavar if self.metavar is not None else self.name.upper())
    setattr(typer.core.TyperArgument, "display_name_raw", _raw)  # noqa: B010


# Piped output (CI logs, files) gets a wide console so issue tables stay one line per issue.
# markup=False: file names, values and messages are the user's text, and "[...]" in them must print as typed.
# Styles are given explicitly (style=, Text.assemble) where wanted.


def _version(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"review {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit."),
    ] = False,
) -> None:
    """Systematic-review data extraction: forms, reviewer workbooks, validation, comparison and meta-analysis."""


def friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a user's mistake (ReviewError) into one line on stderr and its exit code, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ReviewError as exc:
            err.print(labelled("error:", "bold red", exc), highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except OSError as exc:  # e.g. an output folder that cannot be written: the OS message says which file
            err.print(
                labelled("error:", "bold red", f"{exc.strerror or exc}: {exc.filename or ''}"),
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(EXIT_USAGE) from None

    return wrapper


FormOption = Annotated[
    Path | None,
    typer.Option("--form", "-f", help="Extraction form (YAML). Default: the oncology trial form."),
]


ForceOption = Annotated[
    bool, typer.Option("--force", help="Replace outputs that already exist (inputs are never replaced).")
]


def _form(path: Path | None):
    return load_form(path or default_form_path())


def _form_path(path: Path | None) -> list[Path]:
    return [path or default_form_path()]


@app.command()
@friendly
def workbook(
    form: Annotated[
        Path, typer.Argument(help="Extraction form (YAML), e.g. extraction_forms/oncology_trial.yaml.")
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Workbook to write (.xlsx), or a folder with --per-study.")
    ],
    reviewer: Annotated[str, typer.Option(help="Reviewer name or initials written into the workbook.")] = "",
    studies: Annotated[
        Path | None, typer.Option(help="Included studies to pre-fill: an RIS export or a CSV.")
    ] = None,
    per_study: Annotated[
        bool, typer.Option("--per-study", help="One workbook per study (needs --studies).")
    ] = False,
    force: ForceOption = False,
) -> None:
    """Make a reviewer workbook from an extraction form. An existing workbook is never replaced without --force."""
    from .files import check_output
    from .studies import make_study_workbooks, read_studies
    from .workbook import make_workbook

    inputs = [form, *([studies] if studies else [])]
    if not per_study:
        check_output(output, inputs, force=force)
    the_form = load_form(form)
    included = read_studies(studies, the_form.table("studies")) if studies else None
    if per_study:
        if included is None:
            raise ReviewError("--per-study needs --studies FILE (.ris or .csv) listing the included studies.")
        paths = make_study_workbooks(
            the_form, included, output, reviewer=reviewer, inputs=inputs, force=force
        )
        out.print(f"Wrote {counted(len(paths), 'workbook')} to {output}/ (form {the_form.label}).")
        return
    if output.suffix.lower() != ".xlsx":
        raise ReviewError(f"{output}: the workbook must be an .xlsx file.")
    data = None
    if included is not None:
        fields = the_form.table("studies").fields
        data = {"studies": included[[c for c in included.columns if c in fields]]}
    make_workbook(the_form, output, reviewer=reviewer, data=data)
    prefilled = f", {counted(len(included), 'study')} pre-filled" if included is not None else ""
    out.print(f"Wrote {output} (form {the_form.label}{prefilled}).")


@app.command()
@friendly
def upgrade(
    source: Annotated[
        Path, typer.Argument(help="A reviewer workbook made from another version of the form.")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="The upgraded workbook to write (.xlsx).")],
    form: FormOption = None,
    force: ForceOption = False,
) -> None:
    """Carry a reviewer workbook to the form's current version: a new workbook holding every value, its number
    format and note, in the columns of the same fields. Refuses, naming the cells, rather than drop a value."""
    from .files import check_output
    from .workbook import upgrade_workbook

    check_output(output, [source, *_form_path(form)], force=force)
    if output.suffix.lower() != ".xlsx":
        raise ReviewError(f"{output}: the workbook must be an .xlsx file.")
    the_form = _form(form)
    with out.status(f"Carrying {source} to form {the_form.label}..."):  # openpyxl: minutes for 300,000 rows
        target, done = upgrade_workbook(source, the_form, output)
    for line in done:
        out.print(line[0].upper() + line[1:] + ".")
    out.print(f"Wrote {target}; check it with `review validate {target}`.")


@app.command()
@friendly
def validate(
    inputs: Annotated[list[Path], typer.Argument(help="Reviewer workbooks (.xlsx) or folders of CSV files.")],
    form: FormOption = None,
    report: Annotated[
        Path | None, typer.Option(help="Also write the issues to this .csv or .xlsx file.")
    ] = None,
    annotate: Annotated[
        Path | None,
        typer.Option(
            help="Folder for copies of the workbooks with each issue's cell highlighted and commented."
        ),
    ] = None,
    force: ForceOption = False,
) -> None:
    """Check reviewer workbooks. Exit code 0: no errors (warnings allowed); 1: errors; 2: unreadable input."""
    from .files import check_output
    from .validate import validate_files, write_report
    from .workbook import annotate_workbook

    read = [*inputs, *_form_path(form)]
    if report:
        check_output(report, read, force=force)
    marked = {path: annotate / f"{path.stem}.checked.xlsx" for path in inputs} if annotate else {}
    for target in marked.values():
        check_output(target, [*read, *([report] if report else [])], force=force)
    if len(set(marked.values())) < len(marked):
        raise ReviewError("--annotate: two inputs have the same file name; annotate them in separate runs.")
    the_form = _form(form)
    result = validate_files(inputs, the_form)
    render_issues(result)
    if report:
        write_report(result, report)
        out.print(f"Report written to {report}")
    if annotate:
        for path in inputs:
            if path.is_file() and not any(i.file == str(path) and i.severity == FATAL for i in result):
                target = annotate_workbook(path, result, marked[path])
                out.print(f"Marked copy written to {target}")
    raise typer.Exit(result.exit_code)


@app.command()
def rules(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print the Markdown table of docs/validation-rules.md.")
    ] = False,
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


# --- review folders (issue 6) ---


@app.command()
@friendly
def init(
    folder: Annotated[Path, typer.Argument(help="New review folder.")],
    reviewer: Annotated[
        list[str] | None, typer.Option("--reviewer", "-r", help="Reviewer initials (repeat).")
    ] = None,
    form: FormOption = None,
    force: ForceOption = False,
) -> None:
    """Make a new review folder: review.toml and a blank workbook for each reviewer."""
    from .project import init_review

    written = init_review(folder, tuple(reviewer or ("A", "B")), form, force=force)
    for path in written:
        out.print(f"Wrote {path}")


@app.command()
@friendly
def run(
    folder: Annotated[Path, typer.Argument(help="Review folder with a review.toml.")],
    output: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output folder (default: the review's).")
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Write into an output folder that holds files the toolkit did not write, and replace a "
            "discrepancy workbook that already holds decisions.",
        ),
    ] = False,
) -> None:
    """Run a review end to end: validate, compare, reconcile, aggregate, pool, plot, export."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from .project import STAGES
    from .project import run as run_review

    with Progress(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=out,
        transient=not sys.stdout.isatty(),
    ) as bar:
        task = bar.add_task("starting", total=len(STAGES))

        def stage(name: str) -> None:
            bar.update(task, description=name, completed=STAGES.index(name))

        result = run_review(folder, output, progress=stage, force=force)
        bar.update(task, description="done", completed=len(STAGES))
    render_issues(result.report)
    if len(result.pooled):
        table = RichTable(header_style="bold", title="Pooled results")
        for col in ("analysis", "k", "measure", "estimate", "CI", "I2", "left out"):
            table.add_column(col, overflow="fold")
        for _, r in result.pooled.iterrows():
            ci = f"{r['ci_low']:.3g} to {r['ci_high']:.3g}" if r.get("k", 0) else ""
            est = f"{r['estimate']:.3g}" if r.get("k", 0) else r.get("note", "")
            i2 = f"{r['i2']:.0f}%" if r.get("k", 0) else ""
            table.add_row(
                str(r["analysis"]),
                str(r["k"]),
                str(r["measure"]),
                est,
                ci,
                i2,
                str(r["studies_left_out"] or ""),
            )
        out.print(table)
    folder_out = output or result.review.output
    out.print(
        f"Outputs in {folder_out}/: review.xlsx (for collaborators), report.html, consensus/, tables/, "
        f"pooled.csv, plots/, r/, datapackage.json, methods.md"
    )
    if result.missing:
        out.print("Not complete:", style="bold yellow")
        for line in result.missing:
            out.print(f"  {line}", style="yellow")
        raise typer.Exit(1)


# --- end review folders ---


# --- compare (issue 5) ---
@app.command()
@friendly
def compare(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            help="Two or more reviewers' workbooks (.xlsx) or CSV folders of the same studies (a pre-fill from another "
            "tool, read as an extraction, counts as a reviewer)."
        ),
    ],
    form: FormOption = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the discrepancy workbook (.xlsx) for the adjudicator."),
    ] = None,
    decisions: Annotated[
        Path | None,
        typer.Option(
            help="An earlier, adjudicated discrepancy workbook: its decisions are carried over where the values they "
            "were made on are unchanged; the others are marked stale."
        ),
    ] = None,
    by_field: Annotated[
        bool, typer.Option("--by-field", help="Show agreement per field, not only per table.")
    ] = False,
    force: ForceOption = False,
) -> None:
    """Compare independent extractions field by field: every discrepancy with its type, and the agreement
    (percent agreement, exact numeric agreement, Cohen's kappa with 95% CI) per field, table and reviewer pair."""
    from .compare import compare as compare_extractions
    from .extraction import read_extraction
    from .files import check_output
    from .reconcile import carry_over, read_decisions, write_discrepancies

    if output:
        check_output(output, [*inputs, *([decisions] if decisions else []), *_form_path(form)], force=force)
    the_form = _form(form)
    with out.status("Reading extractions..."):
        extractions = [read_extraction(path, the_form) for path in inputs]
    previous = read_decisions(decisions) if decisions else None
    result = compare_extractions(extractions)
    render_comparison(result, by_field)
    if output:
        write_discrepancies(result, output, previous=previous)
        carried = ""
        if previous is not None:
            kept, stale = carry_over(result, previous)
            carried = f"; {counted(len(kept), 'decision')} carried over from {previous.path.name}, {len(stale)} stale"
        out.print(f"Wrote {output}: {counted(len(result), 'discrepancy')}{carried}.")


@app.command()
@friendly
def reconcile(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            metavar="EXTRACTION... DECISIONS.xlsx",
            help="The reviewers' workbooks (or CSV folders) in the order they were compared, then the adjudicated "
            "discrepancy workbook.",
        ),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="Folder for the consensus: one CSV per table, trail.csv and manifest.json."
        ),
    ],
    form: FormOption = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Write into an output folder that holds files the toolkit did not write."
        ),
    ] = False,
) -> None:
    """Build the consensus from the extractions and the adjudicator's decisions. Exit code 0: written; 1: a
    disagreement is undecided or a decision is stale (listed); 2: unreadable input."""
    from .extraction import read_extraction
    from .reconcile import ConsensusBlocked, read_decisions, write_consensus
    from .reconcile import reconcile as reconcile_extractions

    if len(inputs) < 3:
        raise ReviewError(
            "reconcile needs two or more extractions and then the decisions: "
            "review reconcile A.xlsx B.xlsx DECISIONS.xlsx -o consensus/"
        )
    from .files import claim_folder

    *paths, decisions_path = inputs
    claim_folder(output, [*inputs, *_form_path(form)], force=force, create=False)
    the_form = _form(form)
    decisions = read_decisions(decisions_path)
    with out.status("Reading extractions..."):
        extractions = [read_extraction(path, the_form) for path in paths]
    try:
        consensus = reconcile_extractions(extractions, decisions)
    except ConsensusBlocked as blocked:
        table = RichTable(header_style="bold", title="Open disagreements")
        for col in ("id", "table", "row", "field", "state", *(r.letter for r in decisions.reviewers)):
            table.add_column(col, overflow="fold")
        for u, why in [(u, "undecided") for u in blocked.open] + [
            (u, f"stale: {w}") for u, w in blocked.stale
        ]:
            table.add_row(u.id, u.table, u.row, u.field, why, *(e.shown or "(empty)" for e in u.entries))
        out.print(table)
        raise
    claim_folder(output, [*inputs, *_form_path(form)], force=force)
    written = write_consensus(consensus, output)
    for note in consensus.notes:
        out.print(labelled("note:", "yellow", note), highlight=False)
    out.print(f"Consensus: {consensus.summary()}")
    out.print(
        f"Wrote {counted(len(written), 'file')} to {output}/ ({', '.join(p.name for p in written[-2:])} included)."
    )


# --- end compare ---


# --- other tools (issue 14) ---


@app.command("import")
@friendly
def import_(
    tool: Annotated[str, typer.Argument(metavar="TOOL", help="covidence, srdr or redcap.")],
    source: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            help="The tool's export: Covidence Extraction 2 CSV, SRDR+ .xlsx, or REDCap records CSV (raw codes).",
        ),
    ],
    form: FormOption = None,
    mapping: Annotated[
        Path | None,
        typer.Option(
            "--map",
            help="YAML map from their columns to the form's fields (default: columns whose names match a field).",
        ),
    ] = None,
    make_map: Annotated[
        Path | None,
        typer.Option(
            "--make-map", metavar="MAP.yaml", help="Write a starting map for FILE to edit, and stop."
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Folder for one CSV folder per reviewer (consensus included)."),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Write into an output folder that holds other files, or replace an existing --make-map file "
            "(inputs are never replaced; a re-run into the import's own folder needs no --force).",
        ),
    ] = False,
) -> None:
    """Import another tool's extraction export as one extraction per reviewer (a consensus row or record is its
    own), ready for validate, compare, reconcile and run. Every value keeps its origin in origins.csv."""
    from .importers import folder_name, import_export, load_map, tool_named, write_import, write_map

    the_form = _form(form)
    spec = tool_named(tool)
    if make_map is not None:
        written = write_map(source, spec.name, the_form, make_map, force=force)
        out.print(
            f"Wrote {written}: edit it, then run review import {spec.name} {source} --map {written} -o OUT"
        )
        return
    if output is None:
        raise ReviewError("give the output folder with -o OUT (or --make-map MAP.yaml to start a map).")
    the_map = load_map(mapping, the_form, spec.name) if mapping else None
    result = import_export(spec.name, source, the_form, the_map)
    write_import(result, output, inputs=[*([mapping] if mapping else []), *_form_path(form)], force=force)
    for r in result.reviewers:
        out.print(labelled(r.reviewer, "bold", f"{output / folder_name(r.reviewer)}/"), highlight=False)
    if len(result.unmapped):
        table = RichTable(header_style="bold", title="Columns not mapped (listed in unmapped.csv)")
        for col in ("sheet or instrument", "column", "values", "example"):
            table.add_column(col, overflow="fold")
        for _, u in result.unmapped.iterrows():
            table.add_row(u["group"], u["column"], str(u["values"]), str(u["example"]))
        out.print(table)
    out.print(f"Imported {result.summary()} from {source} ({spec.title}).")


@app.command()
@friendly
def dictionary(
    form: Annotated[Path, typer.Argument(help="Extraction form (YAML).")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format", help="redcap (a REDCap data dictionary CSV) or markdown (the form's documentation)."
        ),
    ] = "redcap",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: print).")
    ] = None,
    force: ForceOption = False,
) -> None:
    """Write the form as a REDCap data dictionary (plus repeating_instruments.csv beside it) or as Markdown."""
    from .dictionary import write_dictionary

    the_form = load_form(form)
    if output is None:
        from .dictionary import render

        typer.echo(render(the_form, fmt), nl=False)
        return
    for path in write_dictionary(the_form, fmt, output, force=force):
        out.print(f"Wrote {path}")


def main() -> None:  # pragma: no cover - console entry point alias
    sys.exit(app())


# --- meta (issue 4) ---
@app.command()
@friendly
def meta(
    input_csv: Annotated[
        Path,
        typer.Argument(
            metavar="INPUT.csv",
            help="One row per study: events_e, n_e, events_c, n_c (two arms); events, n (one arm); "
            "mean_e, sd_e, n_e, mean_c, sd_c, n_c (means); or yi, vi (effect and variance).",
        ),
    ],
    measure: Annotated[
        str,
        typer.Option(
            "--measure",
            "-m",
            help="metafor's code: OR, RR, RD, PETO, PLO, PR, PAS, PFT, MD, SMD, HR (yi = log HR), GEN.",
        ),
    ],
    method: Annotated[
        str,
        typer.Option(
            help="tau^2 estimator, metafor's codes: EE (common effect), DL, HE, HS, SJ, ML, REML, EB, PM; "
            "or MH, PETO (Peto's OR: --measure OR --method PETO)."
        ),
    ] = "REML",
    test: Annotated[
        str,
        typer.Option(
            help="z; t (t on k-1 df); knha (Hartung-Knapp-Sidik-Jonkman); adhoc (knha, never narrower than z)."
        ),
    ] = "z",
    by: Annotated[
        list[str] | None,
        typer.Option(
            help="Column whose values define the analyses (repeat for several: --by term --by grade)."
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write one row per analysis to this CSV.")
    ] = None,
    level: Annotated[float, typer.Option(help="Confidence level, percent.")] = 95.0,
    add: Annotated[
        float | None,
        typer.Option(
            help="Continuity correction added to the cells of a study with a zero cell (default 0.5; 0 for PAS, PFT)."
        ),
    ] = None,
    to: Annotated[
        str, typer.Option(help="Which studies get the correction: only0, all, if0all or none.")
    ] = "only0",
    drop00: Annotated[
        bool | None,
        typer.Option(
            "--drop00/--keep00",
            help="Leave out studies with no events in both arms (default: keep for EE/DL/REML/PM, drop for MH/PETO).",
        ),
    ] = None,
    single_study: Annotated[
        str,
        typer.Option(
            help="A random-effects analysis with one study: 'error', or 'keep' it as metafor does (tau2 = 0)."
        ),
    ] = "error",
    subgroup: Annotated[
        str | None,
        typer.Option(
            help="Pool each level of this column within each analysis and test the differences "
            "(q_between; one common tau2 as rma(mods = ~ factor(subgroup)), or see --tau2)."
        ),
    ] = None,
    tau2: Annotated[
        str, typer.Option(help="With --subgroup: 'common' tau2 (metafor's model) or 'separate' per subgroup.")
    ] = "common",
    force: ForceOption = False,
) -> None:
    """Pool every analysis of INPUT.csv (each group of --by values) at once; results equal R's metafor.

    Per analysis: k; theta, se on the analysis scale; estimate, ci_low, ci_high, pi_low, pi_high on the natural
    scale; tau2 and i2 with their Q-profile intervals (tau2_ci_low, tau2_ci_high, i2_ci_low, i2_ci_high, as
    metafor's confint); q; measure, method, test; a note where a value is missing or something was adjusted.
    """
    import pandas as pd  # imported here so that other commands start without pandas/scipy

    from .csvs import write_csv
    from .errors import UnreadableInput
    from .files import check_file, check_output
    from .meta import Options, pool, subgroups

    check_file(input_csv, "CSV file")
    if output is not None:
        check_output(output, [input_csv], force=force)
    _check_header(input_csv)
    try:
        data = pd.read_csv(input_csv)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UnreadableInput(
            f"{input_csv}: cannot be read as CSV ({reason}); save it as comma-separated "
            "UTF-8 text with a header row."
        ) from None
    opts = Options(
        measure=measure,
        method=method,
        test=test,
        level=level,
        add=add,
        to=to,
        drop00=drop00,
        single_study=single_study,
    )
    if subgroup is None:
        result = pool(data, opts, by=by)
    else:
        result = subgroups(data, subgroup, opts, by=by, tau2=tau2)
    if output is not None:
        write_csv(result, output)
    render_meta(result, [*(by or []), *([subgroup] if subgroup else [])], output)


def _check_header(path: Path) -> None:
    """A column named twice would be read as 'n_e' and 'n_e.1' and the second silently ignored: refuse it."""
    import csv

    from openpyxl.utils import get_column_letter

    from .errors import UnreadableInput

    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            header = [h.strip() for h in next(csv.reader(fh), [])]
    except (UnicodeDecodeError, csv.Error):
        return  # pandas reports these below, with the file's name
    seen: dict[str, int] = {}
    for i, name in enumerate(header):
        if name and name in seen:
            raise UnreadableInput(
                f"{path}, cells {get_column_letter(seen[name] + 1)}1 and {get_column_letter(i + 1)}1: column "
                f"'{name}' appears twice (duplicate-column); only one would be used. Keep one column and delete "
                "or rename the other."
            )
        seen[name] = i


# --- end meta ---


if __name__ == "__main__":  # python -m review.cli
    main()
