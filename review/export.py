"""What the review team hands on: CSVs, R-ready files, a Frictionless Data Package, a methods paragraph and one
collaborator workbook. Every file is written atomically; text is always written as text, never as a formula.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from openpyxl import Workbook
from openpyxl.drawing.image import Image
from openpyxl.styles import Alignment, Font

from . import __version__
from .files import write_text
from .forms import MISSING_CODES, Form
from .issues import Report
from .revman import revman_exports
from .sheets import print_setup, save_workbook, stream_cell, stream_frame, write_csv
from .tables import count_columns

if TYPE_CHECKING:  # imported for annotations only: export sits at the end of the pipeline
    from .compare import Comparison
    from .project import Analysis, Pooled, Review
    from .reconcile import Consensus
    from .tables import AnalysisTables

# --- R: metafor's and meta's argument names ---------------------------------------------------------------------

_METAFOR = {
    "events_e": "ai",
    "n_e": "n1i",
    "events_c": "ci",
    "n_c": "n2i",
    "events": "xi",
    "n": "ni",
    "mean_e": "m1i",
    "sd_e": "sd1i",
    "mean_c": "m2i",
    "sd_c": "sd2i",
    "yi": "yi",
    "vi": "vi",
}
_META = {
    "events_e": "event.e",
    "n_e": "n.e",
    "events_c": "event.c",
    "n_c": "n.c",
    "events": "event",
    "n": "n",
    "mean_e": "mean.e",
    "sd_e": "sd.e",
    "mean_c": "mean.c",
    "sd_c": "sd.c",
}


def r_exports(analyses: list[Analysis], datasets: Mapping[str, pd.DataFrame], folder: Path) -> list[Path]:
    """Per analysis a metafor CSV and a meta CSV, plus analyses.R that pools them the way the toolkit did."""
    written, script = (
        [],
        [
            "# Written by review: pools each analysis with metafor exactly as the toolkit did.",
            "# Run from this folder: Rscript analyses.R",
            "library(metafor)",
        ],
    )
    for a in analyses:
        data = datasets[a.slug]
        counts = count_columns(data)
        usable = data.dropna(subset=counts)
        if len(usable) == 0:  # nothing to pool: pooled.csv says why
            continue
        groups = [] if a.outcome is not None else ["outcome", "grade", "timepoint"]
        metafor = usable.rename(columns=_METAFOR)[[*groups, "study_id", *[_METAFOR[c] for c in counts]]]
        metafor = metafor.rename(columns={"outcome": "term"})
        if a.measure == "HR":  # meta's metagen takes the log HR and its standard error
            meta = usable.assign(seTE=usable["vi"] ** 0.5).rename(
                columns={"study_id": "studlab", "yi": "TE"}
            )[["studlab", "TE", "seTE"]]
        else:
            meta = usable.rename(columns={**_META, "study_id": "studlab"})[
                [*groups, "studlab", *[_META[c] for c in counts]]
            ].rename(columns={"outcome": "term"})
        written.append(
            write_csv(metafor.rename(columns={"study_id": "study"}), folder / f"{a.slug}_metafor.csv")
        )
        written.append(write_csv(meta, folder / f"{a.slug}_meta.csv"))
        args = ", ".join(f"{v}={v}" for v in (_METAFOR[c] for c in counts))
        call = "rma.mh" if a.method == "MH" else "rma.peto" if a.method == "PETO" else "rma"
        extra = "" if call != "rma" else f', method="{a.method}", test="{a.test}"'
        measure = "" if call == "rma.peto" or a.measure == "HR" else f'measure="{a.measure}", '
        options = "".join(
            f", {k}={v}"
            for k, v in (
                ("level", f"{a.level:g}" if a.level != 95 else None),
                ("add", f"{a.add:g}" if a.add is not None else None),
                ("to", f'"{a.to}"' if a.to != "only0" else None),
                ("drop00", str(a.drop00).upper() if a.drop00 is not None else None),
            )
            if v is not None
        )
        if groups:  # every term x grade: one fit per group, as the toolkit pooled them (safety.csv)
            script += [
                f"\n# {a.name}: one analysis per term x grade",
                f'dat <- read.csv("{a.slug}_metafor.csv", na.strings = "")',
                'dat$timepoint[is.na(dat$timepoint)] <- ""; dat$grade[is.na(dat$grade)] <- ""',
                "for (d in split(dat, list(dat$term, dat$grade, dat$timepoint), drop = TRUE)) {",
                f"  res <- {call}({measure}{args}, data=d, slab=study{extra}{options})",
                '  cat(d$term[1], d$grade[1], d$timepoint[1], ": k =", res$k, " estimate", coef(res), " se", res$se, "\\n")',
                "}",
            ]
            continue
        script += [
            "\n# " + " ".join(a.name.split()),  # one comment line: a newline in a name must not start R code
            f'dat <- read.csv("{a.slug}_metafor.csv")',
            f"res <- {call}({measure}{args}, data=dat, slab=study{extra}{options})",
            "print(res)",
        ]
        if call == "rma":
            script.append(
                "print(predict(res, transf=" + ("transf.ilogit" if a.measure == "PLO" else "exp") + "))"
                if a.measure in ("OR", "RR", "PLO", "HR")
                else "print(predict(res))"
            )
    written.append(folder / "analyses.R")
    write_text(folder / "analyses.R", "\n".join(script) + "\n")
    return written


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
        if f.help:
            spec["description"] = f.help
        constraints: dict = {}
        if f.required:
            constraints["required"] = True
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


# --- Methods paragraph -------------------------------------------------------------------------------------------


def methods_text(
    review: Review,
    comparison: Comparison,
    consensus: Consensus,
    pooled: pd.DataFrame,
    safety: pd.DataFrame | None = None,
) -> str:
    """A short methods paragraph generated from what was actually done."""
    n = len(comparison.reviewers)
    overall = comparison.overall()
    agreement = "; ".join(
        f"{r['pair']}: {r['agreed']} of {r['units']} values ({r['agreement']:.1f}%)"
        + (f", Cohen's kappa {r['kappa']:.2f} for categorical fields" if pd.notna(r["kappa"]) else "")
        for _, r in overall.iterrows()
    )
    types = ", ".join(f"{k} {t}" for t, k in comparison.type_counts().items())
    adjudicators = sorted({d.adjudicator for d in consensus.decisions.items.values() if d.adjudicator})
    who = f" by {', '.join(adjudicators)}" if adjudicators else ""
    from .outcomes import table_of_kind

    studies_table = table_of_kind(review.form, "studies")
    studies = (
        consensus.tables[studies_table][review.form.table(studies_table).outcome.roles["study"]].nunique()
        if studies_table in consensus.tables
        else 0
    )
    safety = safety if safety is not None else pd.DataFrame()
    methods = sorted(
        {
            f"{r['measure']} with {_method_name(r['method'])}"
            + (", Hartung-Knapp-Sidik-Jonkman intervals" if r["test"] == "knha" else "")
            for _, r in pd.concat([pooled, safety], ignore_index=True).iterrows()
            if r.get("k", 0)
        }
    )
    safety_text = (
        f" Adverse events and safety items were pooled per term and grade ({len(safety)} analyses; terms matched on "
        "the CTCAE term where given, otherwise on the reported term); following the Cochrane Handbook (10.4.4), "
        "Mantel-Haenszel and Peto methods use the exact counts without continuity correction, and studies without "
        "events in either arm are left out of ratio measures (they count only in risk differences)."
        if len(safety)
        else ""
    )
    return (
        f"Data were extracted from {_n(studies, 'study', 'studies')} independently by {n} reviewers using the "
        "extraction form "
        f"{review.form.name} version {review.form.version}, in workbooks generated from the form and validated "
        f"with review {__version__} (range, vocabulary, reference and consistency checks). Agreement between "
        f"reviewers: {agreement}. {_n(len(comparison), 'disagreement', 'disagreements').capitalize()} "
        f"({types or 'none'}) were resolved{who}, "
        "each decision recorded with its reason. Counts reported only as percentages were derived from the "
        + (
            "percentage and its denominator where exactly one whole count fits the reported rounding"
            if review.counts == "unique"
            else "percentage and its denominator as the nearest whole count, the range of counts that fit the printed "
            "rounding being recorded"
        )
        + "; objective response was derived as complete plus partial response where not reported. "
        + (
            f"Analyses: {'; '.join(methods)}, computed with review's engine, which reproduces R's metafor 3.8."
            if methods
            else "No analysis was pooled."
        )
        + safety_text
    )


def _n(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _method_name(code: str) -> str:
    return {
        "EE": "a common-effect inverse-variance model",
        "MH": "the Mantel-Haenszel method",
        "PETO": "Peto's method",
        "DL": "a random-effects model (DerSimonian-Laird tau^2)",
        "REML": "a random-effects model (REML tau^2)",
        "PM": "a random-effects model (Paule-Mandel tau^2)",
    }[code]


# --- Collaborator workbook ---------------------------------------------------------------------------------------


def _sheet(
    wb: Workbook, title: str, frame: pd.DataFrame, percent: tuple[str, ...] = (), note: str = ""
) -> None:
    ws = wb.create_sheet(title[:31])
    print_setup(ws)  # before the rows: a streamed sheet writes its properties first
    before = [[stream_cell(ws, note, font=Font(italic=True))], []] if note else []
    stream_frame(ws, frame, before=before, percent=percent, table_name=title)


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
    extras: Mapping[str, pd.DataFrame] | None = None,
) -> Path:
    # Streamed (openpyxl write-only): a large review's consensus and arm outcomes are hundreds of thousands
    # of rows, which an ordinary workbook holds in memory cell by cell until it is saved.
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("README")
    ws.column_dimensions["A"].width, ws.column_dimensions["B"].width = 26, 100
    print_setup(ws)
    lines = [
        (review.title, ""),
        ("", ""),
        ("Question", review.question),
        ("Form", f"{review.form.name} version {review.form.version}"),
        ("Made", made),
        ("Reviewers' workbooks", "; ".join(str(p.name) for p in review.reviewers)),
        ("Adjudication", review.adjudication.name if review.adjudication else ""),
        ("", ""),
        ("Sheets", ""),
        (
            "Studies, Arms, ...",
            "The consensus of the reviewers' extractions, one sheet per table of the form.",
        ),
        (
            "",
            (
                "NR = not reported, NA = not applicable, empty = not extracted. Headers are field names: see "
                "Data dictionary."
            ),
        ),
        ("Arm outcomes", "Meta-analysis-ready counts per study, arm and outcome; derived values say how."),
        (
            "Pooled results",
            "One row per analysis: estimate, CI and prediction interval on the natural scale.",
        ),
        (
            "Safety",
            "Adverse events and safety items pooled per term and grade: events/N per group, estimate, CI, I^2, "
            "and how terms were matched (CTCAE term, else the reported term).",
        ),
        (
            "Subgroups, Sensitivity",
            "Subgroup estimates with the test for subgroup differences; sensitivity analyses.",
        ),
        ("Forest plots", "One picture per analysis (a one-page safety summary for adverse-event analyses)."),
        (
            "Validation issues",
            "Warnings left in the reviewers' workbooks (errors would have stopped the run).",
        ),
        ("Discrepancies", "Every disagreement between reviewers, with the decision, who made it and why."),
        ("Data dictionary", "Every field of the form: type, unit, allowed values, help."),
    ]
    for r, (a, b) in enumerate(lines, start=1):
        ws.append(
            [
                stream_cell(ws, a, font=Font(bold=True, size=14 if r == 1 else 11)),
                stream_cell(ws, b, alignment=Alignment(wrap_text=True, vertical="top")),
            ]
        )
    for name, frame in consensus.tables.items():
        percent = tuple(f.name for f in review.form.table(name).fields.values() if f.type == "percent")
        _sheet(wb, review.form.table(name).sheet, frame, percent)
    _sheet(wb, "Arm outcomes", tables.arm_outcomes, ("percent",))
    _sheet(wb, "Pooled results", pooled, ("i2",))
    for name, frame in (extras or {}).items():
        if len(frame):
            _sheet(wb, name.capitalize(), frame, ("i2",))
    pics = wb.create_sheet("Forest plots")
    print_setup(pics)
    row = 1
    for name, png in plots.items():
        pics.append([stream_cell(pics, name, font=Font(bold=True))])
        image = Image(str(png))
        scale = min(1.0, 720 / image.width)  # a screen's (and a printed page's) width, not the PNG's 1,455 px
        image.width, image.height = int(image.width * scale), int(image.height * scale)
        image.anchor = f"A{row + 1}"
        pics.add_image(image)
        gap = int(image.height / 20) + 4
        for _ in range(gap - 1):  # the rows the picture covers, up to the next title
            pics.append([])
        row += gap
    _sheet(wb, "Validation issues", report.to_frame())
    decisions = consensus.trail[consensus.trail["basis"] == "decided"] if "basis" in consensus.trail else None
    _sheet(wb, "Discrepancies", comparison.discrepancies)
    if decisions is not None:
        _sheet(wb, "Decisions", decisions)
    _sheet(wb, "Data dictionary", dictionary(review.form))
    return save_workbook(wb, path)


def forest_plots(review: Review, results: Pooled, folder: Path) -> dict[str, Path]:
    """The plots a reader looks at, as folder/SLUG.png: one forest plot per declared analysis, and one safety
    page (a row per term and grade) for an analysis of every adverse event, never a figure per term."""
    from .plots import forest_plot, safety_plot

    datasets = results.datasets
    plots: dict[str, Path] = {}
    for a in review.analyses:
        path = folder / f"{a.slug}.png"
        if a.outcome is None:  # every term x grade: one page, one row per term and grade
            rows = results.safety[results.safety["analysis"] == a.name]
            if len(rows) == 0:
                continue
            fig = safety_plot(rows, title=a.name, path=path)
        else:
            data = datasets[a.slug]
            counts = count_columns(data)
            usable = data.dropna(subset=counts)[["study_id", *counts]]
            if len(usable) == 0:
                continue
            fig = forest_plot(
                usable,
                a.measure,
                a.method,
                test=a.test,
                study="study_id",
                level=a.level,
                add=a.add,
                to=a.to,
                title=a.name,
                path=path,
                single_study="keep",
            )
        plots[a.name] = path
        fig.clear()
    return plots


# --- Everything --------------------------------------------------------------------------------------------------


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
    from .reconcile import write_consensus

    pooled, datasets = results.pooled, results.datasets
    written = write_consensus(consensus, out / "consensus")
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
    written += r_exports(list(review.analyses), datasets, out / "r")
    written += revman_exports(review, datasets, tables, consensus, out / "revman")
    files = {name: f"consensus/{name}.csv" for name in consensus.tables}
    package = json.dumps(datapackage(review, files), indent=2, ensure_ascii=False) + "\n"
    write_text(out / "datapackage.json", package)
    written.append(out / "datapackage.json")
    write_text(out / "methods.md", methods_text(review, comparison, consensus, pooled, results.safety) + "\n")
    written.append(out / "methods.md")
    made = f"{dt.date.today().isoformat()} with review {__version__}: review run {review.folder}"
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
            extras=results.extras(),
        )
    )
    return written
