"""Other tools' extraction exports as extractions: Covidence, SRDR+ and REDCap.

Each tool is one entry in `TOOLS`: a reader that turns its export into *source records* (one reviewer's values
for one study, with the file, sheet and row they sit on) and knows which columns are bookkeeping (who, which
study, consensus or not). A *map* (YAML, written by the team, started by `make_map`) says which of their
columns fills which form field; one source record can fill several rows of a table (a wide "Arm 1 ... Arm 2 ..."
layout), with constants such as `arm_id: "=400mg"`.

The result is one CSV folder per reviewer (a consensus row or record becomes its own "reviewer"), the format
`read_extraction` already reads, so the imported extractions go straight into validate, compare, reconcile and
run. CSV folders rather than workbooks: the values stay the text the tool exported (the form's parser types them,
with the same warnings as a reviewer's typing), the files diff in git, and each folder's `origins.csv` gives every
value's origin (source file, sheet, row, column) against its table, CSV line and field; the row's `comment`
also names the source row, so it travels into compare's and reconcile's trail.

Layouts (what each reader expects; tests/test_importers.py builds fixtures from these, with their sources):

- Covidence Extraction 2, "Single sheet (CSV)" export (support.covidence.org, "How to do single reviewer
  extraction" > Export data): one row per reviewer per study and, after consensus, one more row whose reviewer is
  "Consensus"; a study column ("Study ID", or "Study"/"Covidence #") and a "Reviewer Name" column, then one column
  per template field (table cells as "<table> <row> <column>").
- SRDR+ Excel export (its source, github.com/jensjap/srdrPLUS app/jobs/simple_export_job/sheet_info.rb): one sheet
  per extraction-form section; each row starts with 'Extraction ID', 'Consolidated' (true for the consolidated
  extraction), 'Username', 'Citation ID', 'Citation Name', 'RefMan', 'PMID', 'Authors', 'Publication Date',
  'Key Questions'; arm sections add 'Arm Name' and 'Arm Description' (one row per arm); questions are columns.
- REDCap records (CSV, raw codes) from a project built with `review dictionary --format redcap`: "record_id", then
  "redcap_repeat_instrument"/"redcap_repeat_instance" rows for repeating instruments. With double data entry the
  two entry persons' records end in "--1" and "--2" and the merged record has no suffix.
"""

from __future__ import annotations

import csv
import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from .csvs import write_csv
from .dictionary import RECORD_ID, STUDIES, redcap_choices, redcap_name
from .errors import EXIT_USAGE, ReviewError, UnreadableInput
from .files import check_output, claim_folder, write_text
from .forms import Form, Table
from .words import counted

ORIGINS = "origins.csv"
UNMAPPED = "unmapped.csv"


@dataclass(frozen=True)
class Origin:
    """Where a value came from in the other tool's export."""

    file: str
    sheet: str
    row: int
    column: str

    def __str__(self) -> str:
        sheet = f" sheet {self.sheet}," if self.sheet else ""
        return f"{Path(self.file).name},{sheet} row {self.row}, column '{self.column}'"


@dataclass
class SourceRecord:
    """One reviewer's values for one study from one row of the export; `group` is its sheet or instrument."""

    reviewer: str
    study: str
    group: str
    values: dict[str, str]
    file: str
    sheet: str
    row: int


@dataclass
class Export:
    """An export as read: its records, its data columns per group, and the bookkeeping columns it used."""

    tool: str
    path: Path
    records: list[SourceRecord]
    columns: dict[str, list[str]]  # group -> data columns in file order
    bookkeeping: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Tool:
    name: str
    title: str
    read: Callable[[Path, Form, str | None], Export]
    default_map: Callable[[Export, Form], dict]


# --- reading files ----------------------------------------------------------------------------------------------


def _read_csv(path: Path) -> list[list[str]]:
    if not path.is_file():
        raise UnreadableInput(f"{path}: file not found.")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = [list(r) for r in csv.reader(fh)]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UnreadableInput(f"{path}: not a readable UTF-8 CSV ({exc}); export it again as CSV.") from None
    if not rows or not any(h.strip() for h in rows[0]):
        raise UnreadableInput(f"{path}: has no header row.")
    return rows


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _pick(header: list[str], wanted: Iterable[str], path: Path, what: str, given: str | None = None) -> str:
    folded = {h.strip().casefold(): h for h in header}
    for name in [given] if given else list(wanted):
        if name and name.strip().casefold() in folded:
            return folded[name.strip().casefold()]
    options = given or " or ".join(f"'{w}'" for w in wanted)
    hint = (
        " Name the study column with `study:` in the map if the export calls it something else."
        if what.startswith("study")
        else ""
    )
    raise UnreadableInput(
        f"{path}: no {what} column ({options}); its columns are {', '.join(repr(h) for h in header[:12])}"
        + ("..." if len(header) > 12 else "")
        + "."
        + hint
    )


# Covidence -------------------------------------------------------------------------------------------------------

_COVIDENCE_STUDY = ("Study ID", "Study", "Study Identifier", "Covidence #")
_COVIDENCE_REVIEWER = ("Reviewer Name", "Reviewer")
_COVIDENCE_BOOKKEEPING = {"covidence #", "study id", "study", "reviewer name", "reviewer", "study identifier"}


def read_covidence(path: Path, form: Form, study_column: str | None = None) -> Export:
    rows = _read_csv(path)
    header = [h.strip() for h in rows[0]]
    study = _pick(header, _COVIDENCE_STUDY, path, "study", study_column)
    reviewer = _pick(header, _COVIDENCE_REVIEWER, path, "reviewer")
    at = {h: i for i, h in enumerate(header) if h}
    records = []
    for r, row in enumerate(rows[1:], start=2):
        values = {h: (row[i].strip() if i < len(row) else "") for h, i in at.items()}
        if not any(values.values()):
            continue
        who = values[reviewer] or "unknown reviewer"
        if who.casefold() == "consensus":
            who = "Consensus"
        if not values[study]:
            raise UnreadableInput(
                f"{path}: row {r} has no value in column '{study}'; every row needs its study."
            )
        records.append(SourceRecord(who, values[study], "", values, str(path), "", r))
    keep = {study, reviewer}
    data = [h for h in at if h not in keep and h.casefold() not in _COVIDENCE_BOOKKEEPING]
    return Export("covidence", path, records, {"": data}, keep | (set(at) - set(data)))


# SRDR+ -----------------------------------------------------------------------------------------------------------

_SRDR_STUDY = ("Citation Name", "Study", "Citation ID", "Citation")
_SRDR_BOOKKEEPING = {
    "username",
    "consolidated",
    "extraction id",
    "citation id",
    "citation name",
    "refman",
    "pmid",
    "authors",
    "publication date",
    "key questions",
}


def read_srdr(path: Path, form: Form, study_column: str | None = None) -> Export:
    import python_calamine

    from .files import check_xlsx

    check_xlsx(path)
    try:
        book = python_calamine.CalamineWorkbook.from_path(str(path))
        sheets = {s: book.get_sheet_by_name(s).to_python() for s in book.sheet_names}
    except (python_calamine.CalamineError, OSError, ValueError) as exc:
        raise UnreadableInput(
            f"{path}: cannot be read as .xlsx ({exc}); export it again from SRDR+."
        ) from None
    records: list[SourceRecord] = []
    columns: dict[str, list[str]] = {}
    bookkeeping: set[str] = set()
    for sheet, rows in sheets.items():
        if not rows:
            continue
        header = [_cell(h) for h in rows[0]]
        if not any(h.casefold() == "username" for h in header):
            continue  # a cover or project-information sheet
        user = _pick(header, ("Username",), path, "Username")
        study = _pick(header, _SRDR_STUDY, path, f"study (sheet {sheet})", study_column)
        flag = next((h for h in header if h.casefold() == "consolidated"), None)
        at = {h: i for i, h in enumerate(header) if h}
        for r, row in enumerate(rows[1:], start=2):
            values = {h: (_cell(row[i]) if i < len(row) else "") for h, i in at.items()}
            if not any(values.values()):
                continue
            consolidated = flag is not None and values[flag].casefold() in ("yes", "true", "1", "y")
            who = "Consolidated" if consolidated else values[user] or "unknown user"
            records.append(SourceRecord(who, values[study], sheet, values, str(path), sheet, r))
        used = {h for h in at if h.casefold() in _SRDR_BOOKKEEPING or h in (user, study)}
        bookkeeping |= used
        columns[sheet] = [h for h in at if h not in used]
    if not columns:
        raise UnreadableInput(
            f"{path}: no sheet has a 'Username' column; is this an SRDR+ extraction export?"
        )
    return Export("srdr", path, records, columns, bookkeeping)


# REDCap ----------------------------------------------------------------------------------------------------------

_DDE = re.compile(r"^(?P<study>.*?)--(?P<entry>[12])$")
_REDCAP_BOOKKEEPING = {
    "redcap_repeat_instrument",
    "redcap_repeat_instance",
    "redcap_event_name",
    "redcap_data_access_group",
    "redcap_survey_identifier",
}


def read_redcap(path: Path, form: Form, study_column: str | None = None) -> Export:
    rows = _read_csv(path)
    header = [h.strip() for h in rows[0]]
    record = study_column or header[0]
    if record not in header:
        raise UnreadableInput(f"{path}: no record id column '{record}'.")
    at = {h: i for i, h in enumerate(header) if h}
    instrument = "redcap_repeat_instrument" if "redcap_repeat_instrument" in at else None
    records = []
    for r, row in enumerate(rows[1:], start=2):
        values = {h: (row[i].strip() if i < len(row) else "") for h, i in at.items()}
        rid = values[record]
        if not rid:
            continue
        m = _DDE.match(rid)
        study, who = (m["study"], f"entry {m['entry']}") if m else (rid, "merged")
        group = values[instrument] if instrument else ""
        records.append(SourceRecord(who, study, group, values, str(path), "", r))
    bookkeeping = {record} | {h for h in at if h in _REDCAP_BOOKKEEPING or h.endswith("_complete")}
    # A column belongs to the instrument (form table) whose variable it is; others to the main instrument.
    owner = {redcap_name(t.name, f): t.name for t in form.tables.values() for f in t.fields}
    groups = {rec.group for rec in records} | {""}
    columns: dict[str, list[str]] = {g: [] for g in sorted(groups)}
    for h in at:
        if h in bookkeeping:
            continue
        table = owner.get(h, "")
        columns[table if table in groups and table != STUDIES else ""].append(h)
    return Export("redcap", path, records, columns or {"": []}, bookkeeping)


# --- maps -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowMap:
    """One row of a form table filled from each matching source record: field -> column, or "=constant"."""

    table: str
    columns: dict[str, str]
    group: str | None = None  # sheet (SRDR+) or repeating instrument (REDCap); None: any record


@dataclass(frozen=True)
class Mapping:
    tool: str
    rows: tuple[RowMap, ...]
    values: dict[str, dict[str, str]]  # "table.field" -> their answer -> the form's value
    study: str | None = None
    path: str = "<default map>"


def _header_match(form: Form, column: str, group: str) -> tuple[str, str] | None:
    """The form field a column stands for: `table_field`/`table.field`, else a unique header/label match."""
    for t in form.tables.values():
        for name in t.fields:
            if column in (f"{t.name}.{name}", f"{t.name}_{name}", redcap_name(t.name, name)):
                return t.name, name
    grouped = form.table_for_sheet(group) if group else None
    candidates = [grouped] if grouped else list(form.tables.values())
    found = [(t.name, f.name) for t in candidates if t and (f := t.field_for_header(column))]
    found = [x for x in found if x[1] != "study_id"]
    return found[0] if len(found) == 1 else None


def default_map(export: Export, form: Form) -> dict:
    """A starting map: every column whose name matches one form field; the rest are left for the team."""
    tables: dict[str, list[dict[str, Any]]] = {}
    for group, columns in export.columns.items():
        chosen: dict[str, dict[str, str]] = {}
        for c in columns:
            hit = _header_match(form, c, group)
            if hit and hit[1] not in chosen.setdefault(hit[0], {}):
                chosen[hit[0]][hit[1]] = c
        for tname, cols in chosen.items():
            if cols:
                entry: dict[str, Any] = {"columns": cols}
                if group:
                    entry["from"] = group
                tables.setdefault(tname, []).append(entry)
    values: dict[str, dict[str, str]] = {}
    if export.tool == "redcap":  # raw exports hold choice codes: decode them with the dictionary's codes
        for t in form.tables.values():
            for f in t.fields.values():
                if f.type in ("category", "boolean"):
                    values[f"{t.name}.{f.name}"] = dict(redcap_choices(f))
    return {"tool": export.tool, "tables": tables, "values": values}


def map_yaml(export: Export, form: Form) -> str:
    """The starting map as YAML, with the columns it could not place listed as comments."""
    doc = default_map(export, form)
    mapped = {c for rows in doc["tables"].values() for r in rows for c in r["columns"].values()}
    lines = [
        f"# review import map for {export.tool}: {export.path.name} -> form {form.label}",
        "# tables: <form table>: a list of rows; each fills one row of the table from every record of the export",
        '#   columns: <form field>: <their column>, or "=text" for a constant (e.g. arm_id: "=400mg")',
        "#   from: the sheet (SRDR+) or repeating instrument (REDCap) the row is read from (optional)",
        "# values: <table.field>: {<their answer>: <the form's value>} recodes answers (e.g. RCT: randomised controlled)",
        "# study: <their column> naming the study, when it is not the tool's usual one",
        "# The study id comes from the export's study column unless a row maps study_id itself.",
        "",
    ]
    body = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=110)
    unmapped = [(g, c) for g, cols in export.columns.items() for c in cols if c not in mapped]
    tail = ["", "# Columns not mapped yet (add them above, or leave them out on purpose):"]
    tail += [f"#   {c!r}" + (f"  (from: {g})" if g else "") for g, c in unmapped] or ["#   none"]
    return "\n".join(lines) + body + "\n".join(tail) + "\n"


def load_map(path: str | Path, form: Form, tool: str) -> Mapping:
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UnreadableInput(
            f"{path}: map not found; write one with `review import {tool} FILE --make-map {path}`."
        ) from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ReviewError(f"{path}: not a readable YAML map ({str(exc).splitlines()[0]}).") from None
    return parse_map(doc, form, tool, str(path))


def parse_map(doc: Any, form: Form, tool: str, name: str = "<map>") -> Mapping:
    if not isinstance(doc, dict):
        raise ReviewError(f"{name}: a map is a YAML mapping with tables:; see `review import --help`.")
    unknown = set(doc) - {"tool", "tables", "values", "study"}
    if unknown:
        raise ReviewError(
            f"{name}: unknown keys {sorted(unknown)}; a map has tool:, study:, tables: and values:."
        )
    if doc.get("tool") not in (None, tool):
        raise ReviewError(f"{name}: is a map for {doc['tool']}, not {tool}.")
    rows = []
    tables = doc.get("tables") or {}
    if not isinstance(tables, dict):
        raise ReviewError(f"{name}: tables: must map a form table to a list of rows.")
    for tname, entries in tables.items():
        if tname not in form.tables:
            raise ReviewError(
                f"{name}: table {tname!r} is not in form {form.label}; its tables are {', '.join(form.tables)}."
            )
        t = form.tables[tname]
        for i, entry in enumerate(entries if isinstance(entries, list) else [entries], start=1):
            if not isinstance(entry, dict) or not isinstance(entry.get("columns"), dict):
                raise ReviewError(f"{name}: tables.{tname} row {i}: needs columns: {{field: column}}.")
            bad = set(entry) - {"columns", "from"}
            if bad:
                raise ReviewError(
                    f"{name}: tables.{tname} row {i}: unknown keys {sorted(bad)} (columns:, from:)."
                )
            for fname in entry["columns"]:
                if fname not in t.fields:
                    close = difflib.get_close_matches(str(fname), t.fields, n=3)
                    hint = (
                        f"; did you mean {', '.join(close)}?"
                        if close
                        else f"; its fields are {', '.join(t.fields)}"
                    )
                    raise ReviewError(
                        f"{name}: tables.{tname} row {i}: {fname!r} is not a field of {tname}{hint}"
                    )
            cols = {str(k): str(v) for k, v in entry["columns"].items() if v is not None}
            group = entry.get("from")
            rows.append(RowMap(tname, cols, None if group is None else str(group)))
    values = {}
    for key, table in (doc.get("values") or {}).items():
        if not isinstance(table, dict):
            raise ReviewError(f"{name}: values.{key} must map their answers to the form's values.")
        values[str(key)] = {str(k): str(v) for k, v in table.items()}
    study = doc.get("study")
    return Mapping(tool, tuple(rows), values, None if study is None else str(study), name)


# --- applying a map ---------------------------------------------------------------------------------------------


@dataclass
class Imported:
    """One reviewer's tables from the export, with each value's origin."""

    reviewer: str
    tables: dict[str, pd.DataFrame]
    origins: (
        pd.DataFrame
    )  # table, row (0-based position in tables[table]), field, file, sheet, source_row, column


@dataclass
class ImportResult:
    tool: str
    source: Path
    form: Form
    reviewers: list[Imported]
    unmapped: pd.DataFrame  # group, column, values (non-empty count), example
    mapping: Mapping

    def summary(self) -> str:
        rows = sum(len(f) for r in self.reviewers for f in r.tables.values())
        who = ", ".join(r.reviewer for r in self.reviewers)
        return (
            f"{counted(len(self.reviewers), 'extraction')} ({who}), {counted(rows, 'row')}; "
            f"{counted(len(self.unmapped), 'column')} not mapped"
        )


def import_export(tool: str, path: str | Path, form: Form, mapping: Mapping | None = None) -> ImportResult:
    """Read `path` with `tool`'s reader and fill the form's tables per reviewer through `mapping`."""
    spec = tool_named(tool)
    path = Path(path)
    export = spec.read(path, form, mapping.study if mapping else None)
    if mapping is None:
        mapping = parse_map(spec.default_map(export, form), form, tool)
    known = {c for cols in export.columns.values() for c in cols} | export.bookkeeping
    for rm in mapping.rows:
        for fname, col in rm.columns.items():
            if not col.startswith("=") and col not in known:
                close = difflib.get_close_matches(col, known, n=3)
                hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
                raise ReviewError(
                    f"{mapping.path}: tables.{rm.table}.{fname}: column {col!r} is not in {path.name}{hint}"
                )
        if rm.group is not None and rm.group not in export.columns:
            raise ReviewError(
                f"{mapping.path}: tables.{rm.table}: from: {rm.group!r} is not a sheet or instrument of {path.name}; "
                f"it has {', '.join(repr(g) for g in export.columns if g)}."
            )
    per: dict[str, dict[str, list[dict]]] = {}
    origins: dict[str, list[dict]] = {}
    for rec in export.records:
        for rm in mapping.rows:
            if rm.group is not None and rec.group != rm.group:
                continue
            if rm.group is None and not any(
                c in rec.values for c in rm.columns.values() if not c.startswith("=")
            ):
                continue
            row, where = _fill(rec, rm, form.tables[rm.table], mapping)
            if row is None:
                continue
            tables = per.setdefault(rec.reviewer, {})
            rows = tables.setdefault(rm.table, [])
            for fname, column in where.items():
                origins.setdefault(rec.reviewer, []).append(
                    {
                        "table": rm.table,
                        "row": len(rows),
                        "field": fname,
                        "file": rec.file,
                        "sheet": rec.sheet,
                        "source_row": rec.row,
                        "column": column,
                    }
                )
            rows.append(row)
    if not per:
        raise ReviewError(
            f"{path}: the map fills no row of any table; write a map with `review import {tool} {path} "
            f"--make-map MAP.yaml`, edit it, and pass it with --map."
        )
    mapped = {c for rm in mapping.rows for c in rm.columns.values()}
    unmapped = []
    for group, cols in export.columns.items():
        for c in cols:
            if c in mapped:
                continue
            filled = [r.values.get(c, "") for r in export.records if r.group == group and r.values.get(c, "")]
            unmapped.append(
                {"group": group, "column": c, "values": len(filled), "example": filled[0] if filled else ""}
            )
    reviewers = []
    for who in sorted(per, key=lambda w: (w in ("Consensus", "Consolidated", "merged"), w)):
        frames = {
            t.name: pd.DataFrame(per[who].get(t.name, []), columns=list(t.fields), dtype=object).fillna("")
            for t in form.tables.values()
        }
        columns = ["table", "row", "field", "file", "sheet", "source_row", "column"]
        reviewers.append(Imported(who, frames, pd.DataFrame(origins.get(who, []), columns=columns)))
    return ImportResult(
        tool,
        path,
        form,
        reviewers,
        pd.DataFrame(unmapped, columns=["group", "column", "values", "example"]),
        mapping,
    )


def _fill(rec: SourceRecord, rm: RowMap, t: Table, mapping: Mapping) -> tuple[dict | None, dict[str, str]]:
    row: dict[str, str] = {}
    where: dict[str, str] = {}
    for fname, col in rm.columns.items():
        if col.startswith("="):
            row[fname] = col[1:]
            continue
        raw = rec.values.get(col, "")
        if raw == "":
            continue
        recode = mapping.values.get(f"{t.name}.{fname}")
        row[fname] = recode.get(raw, raw) if recode else raw
        where[fname] = col
    if not any(f not in t.key for f in where):
        return None, {}  # nothing but ids: this record has no such row
    if "study_id" in t.fields and "study_id" not in row:
        row["study_id"] = rec.study
    note = (
        f"imported from {Path(rec.file).name}"
        + (f" sheet {rec.sheet}" if rec.sheet else "")
        + f" row {rec.row}"
    )
    if "comment" in t.fields:
        row["comment"] = f"{row['comment']} ({note})" if row.get("comment") else note
    return row, where


# --- writing ----------------------------------------------------------------------------------------------------


def folder_name(reviewer: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", reviewer).strip("_") or "reviewer"  # no dots: the stem is the name


def write_import(
    result: ImportResult, folder: str | Path, *, inputs: Iterable[str | Path] = (), force: bool = False
) -> list[Path]:
    """One CSV folder per reviewer (read_extraction reads it) with origins.csv, and unmapped.csv beside them.

    The folder is claimed as the toolkit's (files.claim_folder): never one holding the export or another input,
    and one with other files only with `force`."""
    folder = claim_folder(folder, [result.source, *inputs], force=force)
    written = []
    for imp in result.reviewers:
        target = folder / folder_name(imp.reviewer)
        for name, frame in imp.tables.items():
            written.append(write_csv(frame, target / f"{name}.csv"))
        origins = imp.origins.copy()
        origins["row"] = origins["row"] + 2  # the CSV line: header is line 1
        written.append(write_csv(origins, target / ORIGINS))
    written.append(write_csv(result.unmapped, folder / UNMAPPED))
    return written


def write_map(
    export_path: str | Path, tool: str, form: Form, target: str | Path, *, force: bool = False
) -> Path:
    """Write a starting map for `export_path` to `target` (never over an input; an existing map only with force)."""
    spec = tool_named(tool)
    inputs = [export_path, *([form.path] if form.path else [])]
    target = check_output(target, inputs, force=force)
    export = spec.read(Path(export_path), form, None)
    write_text(target, map_yaml(export, form))
    return target


# --- the registry -----------------------------------------------------------------------------------------------

TOOLS: dict[str, Tool] = {
    "covidence": Tool("covidence", "Covidence Extraction 2 CSV export", read_covidence, default_map),
    "srdr": Tool("srdr", "SRDR+ extraction export (.xlsx)", read_srdr, default_map),
    "redcap": Tool("redcap", "REDCap records export (CSV, raw codes)", read_redcap, default_map),
}


def tool_named(name: str) -> Tool:
    try:
        return TOOLS[name.casefold()]
    except KeyError:
        error = ReviewError(f"unknown tool {name!r}; choose one of {', '.join(TOOLS)}.")
        error.exit_code = EXIT_USAGE  # a usage error, as click's own
        raise error from None


__all__ = [
    "TOOLS",
    "ImportResult",
    "Imported",
    "Mapping",
    "Origin",
    "import_export",
    "load_map",
    "map_yaml",
    "parse_map",
    "write_import",
    "write_map",
    "RECORD_ID",
    "STUDIES",
]
