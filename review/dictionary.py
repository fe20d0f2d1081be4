"""Data dictionaries generated from a form: a REDCap data dictionary and the form's documentation in Markdown.

REDCap (Harris et al. 2009) is where many review teams already extract. Its data dictionary is a CSV with 18
columns whose headers REDCap checks by name (listed in REDCap's own data dictionary template and, for instance,
by Sage-Bionetworks/redcapdd `get_dd_cols()`). One form table becomes one instrument; every table but the
studies table holds several rows per study, so it is made a *repeating* instrument. REDCap declares repeating
instruments in the project settings, not in the dictionary, so `repeating_instruments()` returns the companion
CSV (`form_name, custom_form_label`) that REDCap's "Import repeating instruments" (and the API) read.

Variable names are `<table>_<field>` (REDCap needs names unique across the project, lower case, at most 100
characters); the study id is the record id. NR and NA stay typed values: REDCap's "missing data codes" project
setting (`NR, Not reported | NA, Not applicable`) lets a validated field hold them, and each field's annotation
says so. The same names and choice codes are what `review import redcap` reads back.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from .errors import ReviewError
from .files import check_output, write_text
from .forms import MISSING_CODES, Field, Form, Table

REDCAP_COLUMNS = (
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
)
RECORD_ID = "record_id"
STUDIES = "studies"  # the one-row-per-study table: the non-repeating instrument
# The project setting that makes NR/NA legal in validated fields (Project Setup > Additional customizations).
REDCAP_MISSING_CODES = " | ".join(
    f"{code}, {meaning.capitalize()}" for code, meaning in MISSING_CODES.items()
)

_VALIDATION = {"integer": "integer", "number": "number", "percent": "number", "date": "date_ymd"}
_ANNOTATE_MISSING = f"Missing data codes: {REDCAP_MISSING_CODES} (set them in Project Setup)."


def redcap_name(table: str, field: str) -> str:
    """The REDCap variable of a form field: record_id for the studies key, else `<table>_<field>`."""
    if table == STUDIES and field == "study_id":
        return RECORD_ID
    return re.sub(r"[^a-z0-9_]", "_", f"{table}_{field}".lower())[:100]


def redcap_choices(f: Field) -> list[tuple[str, str]]:
    """(code, label) pairs: 1..n for a category (REDCap codes cannot hold spaces), 1/0 for a boolean."""
    if f.type == "boolean":
        return [("1", "TRUE"), ("0", "FALSE")]
    return [(str(i), v) for i, v in enumerate(f.values, start=1)]


def _field_row(form: Form, t: Table, f: Field, first: bool) -> dict[str, str]:
    key = f.name in t.key
    row = dict.fromkeys(REDCAP_COLUMNS, "")
    row["Variable / Field Name"] = redcap_name(t.name, f.name)
    row["Form Name"] = t.name
    row["Section Header"] = t.description if first else ""
    row["Field Label"] = f.header
    row["Field Note"] = f.help
    if f.type == "category":
        row["Field Type"] = "dropdown"
        row["Choices, Calculations, OR Slider Labels"] = " | ".join(f"{c}, {v}" for c, v in redcap_choices(f))
    elif f.type == "boolean":
        row["Field Type"] = "yesno"
    elif f.type == "text" and f.name in ("support", "comment", "notes", "citation"):
        row["Field Type"] = "notes"
    else:
        row["Field Type"] = "text"
        row["Text Validation Type OR Show Slider Number"] = _VALIDATION.get(f.type, "")
        if f.numeric:
            row["Text Validation Min"] = "" if f.min is None else f"{f.min:g}"
            row["Text Validation Max"] = "" if f.max is None else f"{f.max:g}"
    if f.type == "date":
        # The form accepts a month (2000-07); REDCap's date_ymd does not, so keep it text with a pattern note.
        row["Text Validation Type OR Show Slider Number"] = ""
        row["Field Note"] = (f.help + " " if f.help else "") + "YYYY-MM-DD or YYYY-MM."
    row["Required Field?"] = "y" if f.required else ""
    row["Identifier?"] = ""
    notes = [f"review: {t.name}.{f.name} ({f.type})"]
    if not key:
        notes.append(_ANNOTATE_MISSING)
    row["Field Annotation"] = " ".join(notes)
    return row


def redcap_dictionary(form: Form) -> list[dict[str, str]]:
    """The rows of a REDCap data dictionary for `form` (studies first; record_id is its first field)."""
    rows: list[dict[str, str]] = []
    tables = sorted(form.tables.values(), key=lambda t: t.name != STUDIES)
    if STUDIES not in form.tables:
        record = dict.fromkeys(REDCAP_COLUMNS, "")
        record.update({"Variable / Field Name": RECORD_ID, "Form Name": tables[0].name, "Field Type": "text"})
        record["Field Label"] = "Study ID"
        rows.append(record)
    for t in tables:
        fields = [f for f in t.fields.values() if not (t.name != STUDIES and f.name == "study_id")]
        for i, f in enumerate(fields):
            rows.append(_field_row(form, t, f, first=i == 0))
    return rows


def repeating_instruments(form: Form) -> list[dict[str, str]]:
    """REDCap's repeating-instruments CSV: every table but studies repeats within a study's record."""
    return [
        {
            "form_name": t.name,
            "custom_form_label": " | ".join(f"[{redcap_name(t.name, k)}]" for k in t.key[1:]),
        }
        for t in form.tables.values()
        if t.name != STUDIES
    ]


def to_csv(rows: list[dict[str, str]], columns: tuple[str, ...] | list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def markdown(form: Form) -> str:
    """The form's documentation: one section per table with each field's type, values, limits and help."""
    lines = [f"# {form.title}", "", f"Form `{form.name}`, version {form.version}.", ""]
    if form.description:
        lines += [form.description.strip(), ""]
    lines += ["Missing values: " + "; ".join(f"`{c}` {m}" for c, m in MISSING_CODES.items()), ""]
    lines += ["an empty cell is not yet extracted, and 0 is a reported zero.", ""]
    for t in form.tables.values():
        lines += [f"## {t.label} (`{t.name}`)", ""]
        if t.description:
            lines += [t.description.strip(), ""]
        lines += [f"Key: {', '.join(f'`{k}`' for k in t.key)}.", ""]
        lines += ["| field | header | type | allowed | required | help |", "|---|---|---|---|---|---|"]
        for f in t.fields.values():
            allowed = _allowed(f)
            required = (
                "key" if f.name in t.key else "yes" if f.required else "if reported" if f.if_reported else ""
            )
            cells = [f"`{f.name}`", f.header, f.type, allowed, required, f.help]
            lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
        lines.append("")
    if form.rules:
        lines += ["## Rules", "", "| rule | table | fields |", "|---|---|---|"]
        for r in form.rules:
            args = ", ".join(f"{k}={v}" for k, v in r.args.items())
            lines.append(f"| {r.kind} | {r.table} | {args} |")
        lines.append("")
    return "\n".join(lines)


def _allowed(f: Field) -> str:
    if f.type == "category":
        return "; ".join(f.values)
    if f.type == "boolean":
        return "TRUE; FALSE"
    parts = []
    if f.references:
        parts.append(f"an id of {'.'.join(f.references)}")
    if f.numeric and (f.min is not None or f.max is not None):
        lo = "" if f.min is None else f"{f.min:g}"
        hi = "" if f.max is None else f"{f.max:g}"
        parts.append(f"{lo} to {hi}".strip())
    if f.format:
        parts.append(f"format {f.format}")
    if f.unit:
        parts.append(f"unit {f.unit}")
    return "; ".join(parts)


FORMATS = ("redcap", "markdown")
REPEATING = "repeating_instruments.csv"


def render(form: Form, fmt: str) -> str:
    """The dictionary as text: `redcap` (the data dictionary CSV) or `markdown`."""
    if fmt == "redcap":
        return to_csv(redcap_dictionary(form), REDCAP_COLUMNS)
    if fmt == "markdown":
        return markdown(form)
    raise ReviewError(f"unknown format {fmt!r}; choose {' or '.join(FORMATS)}.")


def write_dictionary(form: Form, fmt: str, path: str | Path, *, force: bool = False) -> list[Path]:
    """Write the dictionary; for REDCap also repeating_instruments.csv beside it. Never over the form, and over an
    existing file only with `force` (files.check_output)."""
    path = Path(path)
    text = render(form, fmt)
    targets = [path] + ([path.with_name(REPEATING)] if fmt == "redcap" else [])
    for t in targets:
        check_output(t, [form.path] if form.path else [], force=force)
    write_text(path, text)
    if fmt == "redcap":
        write_text(targets[1], to_csv(repeating_instruments(form), ("form_name", "custom_form_label")))
    return targets
