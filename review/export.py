"""What the review team hands on: CSVs, R-ready files, a Frictionless Data Package, a methods paragraph and one
collaborator workbook. Every file is written atomically; text is always written as text, never as a formula.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from openpyxl import Workbook
from openpyxl.drawing.image import Image
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.pagebreak import Break

from . import __version__
from .analyses import POOLED_FIRST
from .csvs import write_csv
from .drawing import Job, draw_all
from .files import write_text
from .forms import MISSING_CODES, Form
from .issues import Report
from .revman import revman_exports
from .rscript import r_exports
from .sheets import (
    LINE_POINTS,
    MAX_ROW_POINTS,
    discard_on_error,
    fit_rows,
    line_count,
    print_setup,
    put,
    save_workbook,
    stream_frame,
    streamed_cell,
    write_frame,
)
from .tables import count_columns

if TYPE_CHECKING:  # imported for annotations only: export sits at the end of the pipeline
    from .analyses import Pooled
    from .compare import Comparison
    from .project import Review
    from .reconcile import Consensus
    from .tables import AnalysisTables

# --- Frictionless Data Package ---------------------------------------------------------------------------------

_FRICTIONLESS = {
    "text": "string",
    "integer": "integer",
    "number": "number",
    "percent": "number",
    "date": "string",
    "category": "string",
    "boolean": "boolean",
}


def table_schema(form: Form, table: str) -> dict:
    """A Frictionless Table Schema made from the form: types, constraints, keys, and NR/NA as missing values."""
    t = form.table(table)
    fields = []
    for f in t.fields.values():
        spec: dict = {"name": f.name, "title": f.label, "type": _FRICTIONLESS[f.type]}
        description = f.help or ""
        constraints: dict = {}
        if f.name in t.key:
            constraints["required"] = True
        elif f.required:
            # The form's "required" means never left empty; NR and NA are answers. Table Schema reads NR/NA as
            # missing (null), so a "required" constraint would reject the NR the form allows: say it instead.
            description = (
                description + " " if description else ""
            ) + "Required: a value, NR or NA; never empty."
        if description:
            spec["description"] = description
        if f.values:
            constraints["enum"] = list(f.values)
        if f.min is not None:
            constraints["minimum"] = f.min
        if f.max is not None:
            constraints["maximum"] = f.max
        if f.type == "date":
            constraints["pattern"] = r"\d{4}(-\d{2}(-\d{2})?)?"
        if constraints:
            spec["constraints"] = constraints
        if f.type == "boolean":
            spec["trueValues"], spec["falseValues"] = ["TRUE", "True", "true"], ["FALSE", "False", "false"]
        fields.append(spec)
    schema: dict = {"fields": fields, "primaryKey": list(t.key), "missingValues": ["", *MISSING_CODES]}
    foreign = []
    for f in t.fields.values():
        if f.references and f.references[0] != table:
            ref = form.table(f.references[0])
            local = [k for k in ref.key if k != f.references[1] and k in t.fields] + [f.name]
            remote = [k for k in ref.key if k != f.references[1] and k in t.fields] + [f.references[1]]
            foreign.append({"fields": local, "reference": {"resource": ref.name, "fields": remote}})
    if foreign:
        schema["foreignKeys"] = foreign
    return schema


def datapackage(review: Review, files: Mapping[str, str]) -> dict:
    """datapackage.json for the consensus tables (`files`: table name -> path relative to the package)."""
    return {
        "profile": "tabular-data-package",
        "name": review.folder.name.lower().replace("_", "-"),
        "title": review.title,
        "description": review.question,
        "version": review.form.version,
        "resources": [
            {
                "name": name,
                "path": path,
                "profile": "tabular-data-resource",
                "format": "csv",
                "encoding": "utf-8",
                "title": review.form.table(name).label,
                "description": review.form.table(name).description,
                "schema": table_schema(review.form, name),
            }
            for name, path in files.items()
        ],
    }


# --- Collaborator workbook ---------------------------------------------------------------------------------------

# A sheet of the collaborator workbook shows at most this many rows: a person reads or filters a few thousand
# rows in a spreadsheet, not the hundreds of thousands of adverse-event rows of a 1,000-study review, and writing
# them would take most of the run. The run's CSVs hold every row (the README sheet says which).
WORKBOOK_ROWS = 5_000
ISSUES_CSV = "validation-issues.csv"


# Numbers computed by the toolkit are shown rounded (the cell keeps every digit): estimates to 3 decimals,
# p-values and tau^2 to 4, test statistics to 2. Extracted values are shown as typed.
# p-values and tau2 to four decimals, a positive value below 0.0001 as <0.0001 rather than 0.0000 (Excel's and
# LibreOffice's conditional number format; the cell keeps the number)
_SMALL = '[=0]0.0000;[<0.0001]"<0.0001";0.0000'
COMPUTED_FORMATS = {
    "pval": _SMALL,
    "q_pval": _SMALL,
    "tau2": _SMALL,
    "q_df": "0",
    "stat": "0.00",
    "q": "0.00",
    "h2": "0.00",
    "ddf": "0.0",
    "add": "0.0##",
}


I2_COLUMNS = ("i2", "i2_ci_low", "i2_ci_high")  # percentages (0-100): shown as 91.0%, the interval too


def computed_formats(frame: pd.DataFrame) -> dict[str, str]:
    """Number formats for a table of computed values: every float column, by name where it has its own."""
    return {
        str(c): COMPUTED_FORMATS.get(str(c), "0.000")
        for c in frame.columns
        if pd.api.types.is_float_dtype(frame[c]) and c not in (*I2_COLUMNS, "percent")
    }


def _sheet(
    wb: Workbook,
    title: str,
    frame: pd.DataFrame,
    percent: tuple[str, ...] = (),
    *,
    page_title: str = "",
    keys: int = 1,
    formats: Mapping[str, str] | None = None,
    subtitle: str = "",
    whole: str = "",
    limit: int | None = None,
) -> str:
    """One table as a sheet; returns what the README adds about it. A table longer than `limit` rows shows its
    first `limit` rows, and the README names `whole`, the run's CSV that holds every row."""
    note = ""
    if whole and limit is not None and len(frame) > limit:
        note = f"This sheet shows the first {limit:,} of {len(frame):,} rows; {whole} holds every row."
        frame = frame.head(limit)
    ws = wb.create_sheet(title[:31])
    if wb.write_only:
        stream_frame(
            ws,
            frame,
            percent=percent,
            table_name=title,
            formats=formats,
            max_width=50,
            note=note,  # said below the rows too, where a reader of the sheet looks for the rest
            title=page_title,
            key_columns=keys,
            subtitle=subtitle,
        )
        return " " + note if note else ""
    write_frame(
        ws, frame, start=1, percent=percent, table_name=title, formats=formats, max_width=50, note=note
    )
    print_setup(ws, title=page_title, key_columns=keys, subtitle=subtitle)
    return " " + note if note else ""


def _pictures(
    wb: Workbook,
    title: str,
    pictures: Mapping[str, Path],
    page_title: str,
    subtitle: str = "",
    portrait: bool = False,
) -> None:
    """One picture per printed page: its name, the picture scaled to the page, a page break."""
    ws = wb.create_sheet(title)
    ws.column_dimensions["A"].width = 80 if portrait else 120
    # 96 px per inch on screen; inside the margins an A4 page leaves about 10.2 x 6.6 inches landscape and
    # 7.2 x 9.6 inches portrait (less the title row)
    most_wide, most_high = (690, 900) if portrait else (940, 600)
    if wb.write_only:  # a streamed sheet's page setup comes before its rows
        print_setup(ws, title=page_title, header_rows=0, portrait=portrait, subtitle=subtitle)
    row = 1
    for name, png in pictures.items():
        if wb.write_only:
            ws.append([streamed_cell(ws, name, font=Font(bold=True))])
        else:
            put(ws, row, 1, name, font=Font(bold=True))
        image = Image(str(png))
        scale = min(1.0, most_wide / image.width, most_high / image.height)
        image.width, image.height = int(image.width * scale), int(image.height * scale)
        image.anchor = f"A{row + 1}"
        ws.add_image(image)
        gap = math.ceil(image.height / 20) + 2  # rows of 15 pt (20 px)
        if wb.write_only:
            for _ in range(gap - 1):  # the rows the picture covers, up to the next name
                ws.append([])
        row += gap
        ws.row_breaks.append(Break(id=row - 1))
    if not wb.write_only:
        print_setup(ws, title=page_title, header_rows=0, portrait=portrait, subtitle=subtitle)
    ws.page_setup.fitToWidth = 1


def dictionary(form: Form) -> pd.DataFrame:
    """The data dictionary, made from the form."""
    rows = []
    for t in form.tables.values():
        for f in t.fields.values():
            allowed = ", ".join(f.values) if f.values else ""
            limits = " to ".join(str(x) for x in (f.min, f.max) if x is not None)
            rows.append(
                {
                    "sheet": t.sheet,
                    "field": f.name,
                    "label": f.label,
                    "type": f.type,
                    "unit": f.unit,
                    "key": "yes" if f.name in t.key else "",
                    "required": "yes" if f.required else "",
                    "allowed values": allowed,
                    "range": limits,
                    "format": f.format or "",
                    "references": ".".join(f.references) if f.references else "",
                    "help": f.help,
                }
            )
    return pd.DataFrame(rows)


def collaborator_workbook(
    review: Review,
    path: Path,
    *,
    report: Report,
    comparison: Comparison,
    consensus: Consensus,
    tables: AnalysisTables,
    pooled: pd.DataFrame,
    plots: Mapping[str, Path],
    made: str,
    figures: Mapping[str, Path] | None = None,
    extras: Mapping[str, pd.DataFrame] | None = None,
    streamed: bool = True,
    max_rows: int | None = WORKBOOK_ROWS,
    issues: pd.DataFrame | None = None,
) -> Path:
    """review.xlsx: a README sheet, the consensus tables, arm outcomes, pooled results, safety and other extra
    tables, forest and safety plots, validation issues, discrepancies, decisions and the data dictionary.

    Streamed (openpyxl's write-only mode) by default: a large review's sheets are hundreds of thousands of
    rows, which an ordinary workbook holds in memory cell by cell until it is saved. `streamed=False` builds
    the same workbook in memory (tests check that both give the same cells, styles and print setup).

    A sheet shows at most `max_rows` rows (None: every row), what a person reads or filters in a spreadsheet;
    past that the README sheet names the CSV of the run that holds every row (consensus/, tables/, safety.csv,
    validation-issues.csv). `issues`: the report as a frame, when the caller has made it already."""
    wb = Workbook(write_only=streamed)
    with discard_on_error(wb):  # a refused value leaves no half-written sheet streams behind
        if streamed:
            readme = wb.create_sheet("README")  # written last, when every sheet's description is known
        else:
            readme = wb.active
            readme.title = "README"
        page_title = f"review.xlsx, form {review.form.name} version {review.form.version}"
        about: dict[str, str] = {}  # sheet -> what it holds, in the order written
        for name, frame in consensus.tables.items():
            t = review.form.table(name)
            percent = tuple(f.name for f in t.fields.values() if f.type == "percent")
            note = _sheet(
                wb,
                t.sheet,
                frame,
                percent,
                page_title=page_title,
                subtitle=review.title,
                keys=len(t.key),
                whole=f"consensus/{name}.csv",
                limit=max_rows,
            )
            about[t.sheet] = f"Consensus {t.label.lower()}: {_rows(frame)}. {t.description}".strip() + note
        note = _sheet(
            wb,
            "Arm outcomes",
            tables.arm_outcomes,
            ("percent",),
            page_title=page_title,
            subtitle=review.title,
            keys=2,
            formats=computed_formats(tables.arm_outcomes),
            whole="tables/arm_outcomes.csv",
            limit=max_rows,
        )
        about["Arm outcomes"] = (
            f"Meta-analysis-ready counts per study, arm, outcome and timepoint ({_rows(tables.arm_outcomes)}): "
            "'derivation' says how a count not typed by the reviewers was computed (from a percentage, or as a sum "
            "of response categories) and 'inputs' from what; 'note' says why a count could not be derived."
            + note
        )
        # what a reader looks for first (pooled.csv keeps its own column order)
        first = [c for c in POOLED_FIRST if c in pooled.columns]
        pooled = pooled[first + [c for c in pooled.columns if c not in first]]
        _sheet(
            wb,
            "Pooled results",
            pooled,
            I2_COLUMNS,
            page_title=page_title,
            subtitle=review.title,
            formats=computed_formats(pooled),
        )
        about["Pooled results"] = (
            f"One row per analysis ({_rows(pooled)}): k studies, theta and se on the analysis scale, estimate, CI "
            "and prediction interval on the natural scale, tau2, I2 (%), Q; studies_left_out with the reason. Shown "
            "rounded; each cell holds the full-precision number."
        )
        extra_notes = {
            "safety": "Adverse events and safety items pooled per term and grade: events/N per group, estimate, CI, "
            "I2, and how terms were matched (CTCAE term, else the reported term).",
            "subgroups": "Subgroup estimates with the test for subgroup differences.",
            "sensitivity": "Sensitivity analyses (each with what it changes).",
        }
        for name, frame in (extras or {}).items():
            if len(frame):
                note = _sheet(
                    wb,
                    name.capitalize(),
                    frame,
                    I2_COLUMNS,
                    page_title=page_title,
                    subtitle=review.title,
                    formats=computed_formats(frame),
                    whole=f"{name}.csv",
                    limit=max_rows,
                )
                about[name.capitalize()] = (
                    f"{extra_notes.get(name, '')} {_rows(frame).capitalize()}.".strip() + note
                )
        every_term = {
            a.name for a in review.analyses if a.outcome is None
        }  # one safety plot each, portrait pages
        wide = {name: png for name, png in plots.items() if name not in every_term}
        tall = {name: png for name, png in plots.items() if name in every_term}
        if wide:
            _pictures(wb, "Forest plots", wide, page_title, review.title)
            about["Forest plots"] = (
                f"One forest plot per analysis with data, one per printed page ({len(wide)})."
            )
        if tall:
            _pictures(wb, "Safety plots", tall, page_title, review.title, portrait=True)
            about["Safety plots"] = (
                f"One page per adverse-event or safety analysis: every term and grade with its estimate ({len(tall)})."
            )
        if figures:
            _pictures(wb, "Risk-of-bias plots", figures, page_title, review.title)
            about["Risk-of-bias plots"] = "RoB 2 traffic-light plot (study x domain) and summary bar plot."
        issues = report.to_frame() if issues is None else issues
        note = _sheet(
            wb,
            "Validation issues",
            issues,
            page_title=page_title,
            subtitle=review.title,
            keys=0,
            whole=ISSUES_CSV,
            limit=max_rows,
        )
        about["Validation issues"] = (
            f"Warnings left in the reviewers' workbooks ({_rows(issues)}); errors would have stopped the run."
            + note
        )
        note = _sheet(
            wb,
            "Discrepancies",
            comparison.discrepancies,
            page_title=page_title,
            subtitle=review.title,
            whole="discrepancies.xlsx",
            limit=max_rows,
        )
        about["Discrepancies"] = (
            f"Every disagreement between the reviewers ({_rows(comparison.discrepancies)}), with both values."
            + note
        )
        decisions = (
            consensus.trail[consensus.trail["basis"] == "decided"] if "basis" in consensus.trail else None
        )
        if decisions is not None:
            note = _sheet(
                wb,
                "Decisions",
                decisions,
                page_title=page_title,
                subtitle=review.title,
                keys=0,
                whole="consensus/trail.csv (basis: decided)",
                limit=max_rows,
            )
            about["Decisions"] = (
                f"How each disagreement was decided ({_rows(decisions)}): the value taken, from which reviewer "
                "('from'), the source and location of that value, the adjudicator, date and reason." + note
            )
        dictionary_frame = dictionary(review.form)
        _sheet(wb, "Data dictionary", dictionary_frame, page_title=page_title, subtitle=review.title, keys=2)
        about["Data dictionary"] = "Every field of the form: type, unit, allowed values, range, help."
        _readme(readme, review, made, about, page_title)
        return save_workbook(wb, path)


def _rows(frame: pd.DataFrame) -> str:
    return f"{len(frame):,} row" + ("" if len(frame) == 1 else "s")


def _readme(ws, review: Review, made: str, about: Mapping[str, str], page_title: str) -> None:
    """What the workbook holds, sheet by sheet, and what its empty cells and codes mean."""
    ws.column_dimensions["A"].width, ws.column_dimensions["B"].width = 24, 64
    lines: list[tuple[str, str]] = [
        ("Question", review.question),
        ("Form", f"{review.form.name} version {review.form.version}"),
        ("Made", made),
        ("Reviewers' workbooks", "; ".join(str(p.name) for p in review.reviewers)),
        ("Adjudication", review.adjudication.name if review.adjudication else "none (nothing to decide)"),
        ("", ""),
        ("Sheets", "What each sheet of this workbook holds:"),
        *about.items(),
        ("", ""),
        ("In the consensus sheets", ""),
        ("NR", "not reported: the report does not give the value."),
        ("NA", "not applicable to this study or arm."),
        (
            "empty cell",
            "neither reviewer entered a value. Many are left empty on purpose: a count the report gives only "
            "as a percentage, or objective response given only as its categories, is derived on Arm outcomes "
            "(see 'derivation'), not typed.",
        ),
        ("0", "the report states zero (Location says where)."),
        (
            "Source, Location",
            "where the values of the row were found: only the reviewers whose values the consensus kept are "
            "cited (a letter says whose, when they differ). consensus/trail.csv gives every value with its "
            "reviewer, source, location and decision.",
        ),
        ("Headers", "field names of the form; the Data dictionary sheet explains each."),
    ]
    title_font, wrap = Font(bold=True, size=14), Alignment(wrap_text=True, vertical="top")
    if ws.parent.write_only:  # streamed: page setup, heights, then the rows
        ws.sheet_view.showGridLines = False
        print_setup(ws, title=page_title, header_rows=0, portrait=True, subtitle=review.title)
        ws.merged_cells.add("A1:B1")
        title_lines = line_count(review.title, 24 + 64, 14)
        ws.row_dimensions[1].height = min(title_lines * LINE_POINTS * 14 / 11, MAX_ROW_POINTS)
        ws.append([streamed_cell(ws, review.title, font=title_font, alignment=wrap)])
        ws.append([])
        for r, (a, b) in enumerate(lines, start=3):
            lines_needed = max(line_count(str(a), 24), line_count(str(b), 64))
            if lines_needed > 1:
                ws.row_dimensions[r].height = min(lines_needed * LINE_POINTS, MAX_ROW_POINTS)
            ws.append(
                [
                    streamed_cell(ws, a, font=Font(bold=True), alignment=wrap),
                    streamed_cell(ws, b, alignment=wrap),
                ]
            )
        return
    put(ws, 1, 1, review.title, font=title_font)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=2)
    ws.cell(row=1, column=1).alignment = wrap
    for r, (a, b) in enumerate(lines, start=3):
        put(ws, r, 1, a, font=Font(bold=True)).alignment = wrap
        put(ws, r, 2, b).alignment = wrap
    ws.sheet_view.showGridLines = False
    fit_rows(ws)
    print_setup(ws, title=page_title, header_rows=0, portrait=True, subtitle=review.title)


# --- Everything --------------------------------------------------------------------------------------------------


def forest_plots(
    review: Review, results: Pooled, folder: Path, *, processes: int | None = None
) -> dict[str, Path]:
    """The plots a reader looks at, as folder/SLUG.png: one forest plot per declared analysis, and one safety
    page (a row per term and grade) for an analysis of every adverse event, never a figure per term. Many
    plots are drawn in up to `processes` processes at once (review.drawing)."""
    jobs: list[Job] = []
    names: list[str] = []
    for a in review.analyses:
        path = folder / f"{a.slug}.png"
        if a.outcome is None:  # every term x grade: one page, one row per term and grade
            rows = results.safety[results.safety["analysis"] == a.name]
            if len(rows):
                jobs.append((path, "safety", rows, {"title": a.name}))
                names.append(a.name)
            continue
        data = results.datasets[a.slug]
        counts = count_columns(data)
        usable = data.dropna(subset=counts)[["study_id", *counts]]
        if len(usable):
            options = dict(measure=a.measure, method=a.method, test=a.test, level=a.level, add=a.add, to=a.to)
            options.update(
                study="study_id", title=a.name, single_study="keep", listed_in=f"analyses/{a.slug}.csv"
            )
            jobs.append((path, "forest", usable, options))
            names.append(a.name)
    draw_all(jobs, processes)
    return {name: job[0] for name, job in zip(names, jobs, strict=True)}


def export_all(
    review: Review,
    out: Path,
    *,
    report: Report,
    comparison: Comparison,
    consensus: Consensus,
    tables: AnalysisTables,
    results: Pooled,
) -> list[Path]:
    """Write every output of a run into `out`; returns the paths written."""
    from .methods import methods_text
    from .reconcile import write_consensus
    from .report import write_report

    pooled, datasets = results.pooled, results.datasets
    issues = report.to_frame()  # every warning: the workbook's sheet may show only the first rows
    written = write_consensus(consensus, out / "consensus")
    written.append(write_csv(issues, out / ISSUES_CSV))
    for name, frame in tables.frames().items():  # one CSV per meta-analysis-ready frame (outcomes.FRAMES)
        written.append(write_csv(frame, out / "tables" / f"{name}.csv"))
    written.append(write_csv(pooled, out / "pooled.csv"))
    for name, frame in results.extras().items():  # safety, subgroups, sensitivity: when an analysis asks
        if len(frame):
            written.append(write_csv(frame, out / f"{name}.csv"))
    for a in review.analyses:  # every study each analysis asked for, with why any was left out
        written.append(write_csv(datasets[a.slug], out / "analyses" / f"{a.slug}.csv"))
    plots = forest_plots(review, results, out / "plots")
    written += plots.values()
    figures = rob_figures(consensus.tables, out / "plots")
    written += figures.values()
    written += r_exports(list(review.analyses), datasets, out / "r")
    written += revman_exports(review, datasets, tables, consensus, out / "revman")
    files = {name: f"consensus/{name}.csv" for name in consensus.tables}
    package = json.dumps(datapackage(review, files), indent=2, ensure_ascii=False) + "\n"
    write_text(out / "datapackage.json", package)
    written.append(out / "datapackage.json")
    methods = methods_text(review, comparison, consensus, tables, pooled, datasets, safety=results.safety)
    write_text(out / "methods.md", methods)
    written.append(out / "methods.md")
    made = f"{dt.date.today().isoformat()} with review {__version__}: review run {review.folder}"
    if not figures:
        figures_note = ["No risk-of-bias judgements were extracted (the risk_of_bias table is empty)."]
    else:
        figures_note = []
    written.append(
        write_report(
            out / "report.html",
            title=review.title,
            question=review.question,
            made=made,
            methods_markdown=methods,
            agreement=comparison.agreement[comparison.agreement["field"] == ""]
            if "field" in comparison.agreement
            else comparison.agreement,
            pooled=pooled,
            tables=_report_tables(results.extras()),
            forest_plots=plots,
            figures=figures,
            issues=issues,
            notes=figures_note + list(consensus.notes),
        )
    )
    written.append(
        collaborator_workbook(
            review,
            out / "review.xlsx",
            report=report,
            comparison=comparison,
            consensus=consensus,
            tables=tables,
            pooled=pooled,
            plots=plots,
            made=made,
            figures=figures,
            extras=results.extras(),
            issues=issues,
        )
    )
    return written


_REPORT_HIDDEN = {  # what report.html leaves to the CSVs (which have every column) of each extra table
    "safety": ("timepoint", "pval", "tau2", "k_double_zero", "reported_terms", "note"),
}


def _report_tables(extras: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The safety, subgroup and sensitivity tables for report.html (those with rows), readable columns first."""
    out = {}
    for name, frame in extras.items():
        if len(frame):
            keep = [c for c in frame.columns if c not in _REPORT_HIDDEN.get(name, ())]
            shown = frame[keep].dropna(axis=1, how="all")
            out[name.capitalize()] = shown
    return out


ROB_FIGURES = {
    "Risk of bias: traffic-light plot": "risk_of_bias_traffic_light.png",
    "Risk of bias: summary": "risk_of_bias_summary.png",
}


def rob_figures(consensus_tables: Mapping[str, pd.DataFrame], folder: Path) -> dict[str, Path]:
    """RoB 2 traffic-light and summary plots of the risk_of_bias table (none when it is empty). The summary is
    weighted by each study's number randomised when every study gives it, as robvis weights by study size."""
    from .robplots import summary_plot, traffic_light_plot

    rob = consensus_tables.get("risk_of_bias")
    if rob is None or rob.empty:
        return {}
    studies = consensus_tables.get("studies")
    weights = None
    if studies is not None and "randomised_total" in studies:
        sizes = {
            str(s): n
            for s, n in zip(studies["study_id"], studies["randomised_total"], strict=True)
            if isinstance(n, (int, float)) and not isinstance(n, bool) and n > 0
        }
        if all(str(s) in sizes for s in rob["study_id"]):
            weights = sizes
    paths = {name: folder / file for name, file in ROB_FIGURES.items()}
    names = list(paths)
    traffic_light_plot(rob, path=paths[names[0]])
    summary_plot(
        rob,
        weights=weights,
        title=f"Risk of bias (RoB 2), {'weighted by number randomised' if weights else 'share of studies'}",
        path=paths[names[1]],
    )
    return paths
