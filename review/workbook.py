"""Reviewer workbooks: written from a form with openpyxl, read back with python-calamine.

Writing gives reviewers an instructions sheet, one sheet per table with readable headers, dropdowns, range checks
and help on every column. Reading turns each sheet into a typed DataFrame whose index is the sheet's row number,
so every value keeps its file, sheet and cell. The same tables can be read from a folder of CSV files.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import itertools
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import python_calamine
from openpyxl import Workbook, load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from .errors import ReviewError, UnreadableInput
from .files import MAX_CELL_CHARS, MAX_SHEET_ROWS, check_file, check_xlsx
from .forms import MISSING_CODES, Field, Form, Table
from .issues import CODES, ERROR, FATAL, WARNING, Issue, Report
from .schema import DTYPES
from .sheets import (
    ERROR_FILL,
    HEADER_FILL,
    KEY_FILL,
    REQUIRED_FILL,
    WARNING_FILL,
    fit_rows,
    print_setup,
    put,
    save_workbook,
    unneutral,
)
from .sheetscan import SheetFacts, scan_sheets
from .values import EMPTY, Parsed, distinct, parse_column, parse_value

INSTRUCTIONS = "Instructions"
LISTS = "Lists"
DEFAULT_ROWS = 500  # rows that carry dropdowns and checks; reviewers can add more below

_ISSUE_FILL = {ERROR: ERROR_FILL, WARNING: WARNING_FILL}
_WIDE_TEXT = {"citation": 60, "support": 60, "comment": 40, "notes": 40, "intervention": 28, "label": 24}


class UnreadableWorkbook(UnreadableInput):
    """Raised for a file that cannot be read; `code` is its issue code (unreadable-file, missing-sheet...)."""

    def __init__(self, message: str, code: str = "unreadable-file", file: str = "", sheet: str = ""):
        super().__init__(message)
        self.code, self.file, self.sheet = code, file, sheet

    def as_issue(self) -> Issue:
        return Issue(FATAL, self.code, str(self), file=self.file, sheet=self.sheet)


# ================================================================================================================
# Writing


def make_workbook(
    form: Form,
    path: str | Path,
    *,
    reviewer: str = "",
    data: Mapping[str, pd.DataFrame] | None = None,
    rows: int = DEFAULT_ROWS,
) -> Path:
    """Write a reviewer workbook for `form` to `path` (atomically); `data` pre-fills tables by name.

    Frames in `data` may hold the codes "NR" and "NA" as strings in any column; they are written as typed.
    """
    wb = Workbook()
    wb.remove(wb.active)
    _instructions_sheet(wb.create_sheet(INSTRUCTIONS), form, reviewer)
    lists = wb.create_sheet(LISTS)
    lists.sheet_state = "hidden"
    list_ranges = _write_lists(lists, form)
    data = data or {}
    for t in form.tables.values():
        frame = data.get(t.name)
        count = 0 if frame is None else len(frame)
        ws = wb.create_sheet(t.sheet)
        _table_sheet(ws, form, t, list_ranges, rows=max(rows, count + 50))
        if frame is not None:
            _fill_rows(ws, t, frame)
    wb.active = 0
    return save_workbook(wb, path)


def _instructions_sheet(ws: Worksheet, form: Form, reviewer: str) -> None:
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 62  # with A, a portrait page's width
    put(ws, 1, 1, form.title, font=Font(bold=True, size=14))
    meta = [
        ("Form", form.name),
        ("Form version", form.version),
        ("Reviewer", reviewer),
        ("Created", dt.date.today().isoformat()),
    ]
    for i, (label, value) in enumerate(meta, start=3):
        put(ws, i, 1, label, font=Font(bold=True))
        put(ws, i, 2, value)
    if not reviewer:
        ws["B5"].fill = REQUIRED_FILL
        ws["B5"].comment = Comment("Type your name or initials here.", "review")
    lines: list[tuple[str, str]] = [
        ("", ""),
        (
            "How to fill",
            "One row per fact, on the sheet of its table. Pick ids and categories from the dropdowns.",
        ),
        (
            "",
            (
                "Type values as the report gives them: counts as whole numbers, percentages as numbers of percent "
                "(49.3, not 0.493), dates as YYYY-MM-DD, or YYYY-MM when the report gives only the month."
            ),
        ),
        (
            "",
            (
                "Fill Source and Location on every row: the report and the page, table, figure or registry "
                "section where the value is. A zero must always have a Location."
            ),
        ),
        ("", "Blue headers identify the row and must be filled; orange headers are required."),
        ("", "Check your workbook with: review validate THIS_FILE.xlsx"),
        ("", ""),
        ("Missing values", "Four different things, never to be confused:"),
        *[(code, meaning) for code, meaning in MISSING_CODES.items()],
        ("(empty cell)", "not yet extracted"),
        ("0", "the report states zero (say where in Location)"),
        ("", ""),
        ("Sheets", ""),
        *[(t.sheet, t.description) for t in form.tables.values()],
    ]
    for i, (a, b) in enumerate(lines, start=3 + len(meta)):
        put(ws, i, 1, a, font=Font(bold=bool(a)))
        put(ws, i, 2, b)
        ws.cell(row=i, column=2).alignment = Alignment(wrap_text=True, vertical="top")
        ws.cell(row=i, column=1).alignment = Alignment(wrap_text=True, vertical="top")
    ws.sheet_view.showGridLines = False
    fit_rows(ws)
    print_setup(ws, title=_page_title(form), header_rows=0, portrait=True, subtitle=form.title)


def _page_title(form: Form) -> str:
    return f"form {form.name} version {form.version}"


def _write_lists(ws: Worksheet, form: Form) -> dict[tuple[str, str], str]:
    """One column per vocabulary (plus NR/NA where allowed); returns absolute ranges for dropdowns."""
    ranges: dict[tuple[str, str], str] = {}
    col = 0
    for t in form.tables.values():
        for f in t.fields.values():
            if f.type not in ("category", "boolean"):
                continue
            col += 1
            values = list(f.values) if f.type == "category" else ["TRUE", "FALSE"]
            if f.name not in t.key:
                values += list(MISSING_CODES)
            put(ws, 1, col, f"{t.name}.{f.name}")
            for r, v in enumerate(values, start=2):
                put(ws, r, col, v)
            letter = get_column_letter(col)
            ranges[(t.name, f.name)] = f"{_quote(LISTS)}!${letter}$2:${letter}${len(values) + 1}"
    return ranges


def _quote(sheet: str) -> str:
    return f"'{sheet}'" if re.search(r"[^A-Za-z0-9_]", sheet) else sheet


def _table_sheet(ws: Worksheet, form: Form, t: Table, list_ranges: dict, rows: int) -> None:
    last = rows + 1
    for col, f in enumerate(t.fields.values(), start=1):
        letter = get_column_letter(col)
        cell = put(ws, 1, col, f.header, font=Font(bold=True))
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        cell.fill = KEY_FILL if f.name in t.key else REQUIRED_FILL if f.required else HEADER_FILL
        width = _WIDE_TEXT.get(f.name, 14 if f.type != "text" else 18)
        ws.column_dimensions[letter].width = max(width, min(len(f.header) + 2, 30))
        if f.type == "date":
            for r in range(2, last + 1):  # text format: "2000-06" must not become 1 June 2000
                ws.cell(row=r, column=col).number_format = "@"
        dv = _validation(form, t, f, letter, list_ranges, last)
        dv.add(f"{letter}2:{letter}{last}")
        ws.add_data_validation(dv)
    ws.freeze_panes = ws.cell(row=2, column=len(t.key) + 1)
    ws.auto_filter.ref = f"A1:{get_column_letter(len(t.fields))}1"
    fit_rows(ws, 1, 1)
    ws.row_dimensions[1].height = max(32, ws.row_dimensions[1].height or 0)
    print_setup(ws, title=_page_title(form), key_columns=len(t.key), subtitle=form.title)
    ws.print_options.gridLines = True  # on paper, the empty rows are boxes to write in
    _print_rows(ws, len(t.fields), 0)


def _print_rows(ws: Worksheet, columns: int, filled: int) -> None:
    """Print the header and the filled rows, or 15 empty rows of a blank sheet: not the hundreds of formatted
    empty rows kept for typing."""
    ws.print_area = f"A1:{get_column_letter(columns)}{1 + (filled or 15)}"


def _validation(form: Form, t: Table, f: Field, letter: str, list_ranges: dict, last: int) -> DataValidation:
    """The cell check and input message for one column."""
    key = f.name in t.key
    allow_codes = "" if key else ',A2="NR",A2="NA"'.replace("A2", f"{letter}2")
    if f.type in ("category", "boolean"):
        dv = DataValidation(type="list", formula1=list_ranges[(t.name, f.name)], allow_blank=True)
    elif f.references:
        ref_table = form.table(f.references[0])
        ref_col = get_column_letter(list(ref_table.fields).index(f.references[1]) + 1)
        dv = DataValidation(
            type="list",
            formula1=f"{_quote(ref_table.sheet)}!${ref_col}$2:${ref_col}${last}",
            allow_blank=True,
        )
    elif f.numeric:
        cell = f"{letter}2"
        conditions = [f"ISNUMBER({cell})"]
        if f.type == "integer":
            conditions.append(f"{cell}=INT({cell})")
        if f.min is not None:
            conditions.append(f"{cell}>={f.min:g}")
        if f.max is not None:
            conditions.append(f"{cell}<={f.max:g}")
        dv = DataValidation(
            type="custom", formula1=f"OR(AND({','.join(conditions)}){allow_codes})", allow_blank=True
        )
    else:
        dv = DataValidation(allow_blank=True)  # any value; carries the input message
    dv.showInputMessage = True
    dv.promptTitle = f.label[:32]
    dv.prompt = _prompt(f, key)[:255]
    if dv.type is not None:
        dv.showErrorMessage = True
        dv.errorStyle = "stop" if f.type in ("category", "boolean") or f.numeric else "warning"
        dv.errorTitle = f.label[:32]
        dv.error = _expected(f, key)[:255]
    return dv


_FORMAT_HINTS = {
    "doi": "Type the DOI as 10.xxxx/... (without https://doi.org/)",
    "pmid": "Type the PubMed id: digits only",
    "nct": "Type the registry id, e.g. NCT01234567",
    "year": "Type the year as four digits",
}


def _expected(f: Field, key: bool) -> str:
    """What the cell takes, in the words of its type: the input message's last sentence and the error text."""
    if f.type in ("category", "boolean"):
        what = "Pick a value from the list"
    elif f.references:
        what = f"Pick an id that exists on sheet {f.references[0]}"
    elif f.format in _FORMAT_HINTS:
        what = _FORMAT_HINTS[f.format]
    elif f.type == "integer":
        what = "Type a whole number"
    elif f.type == "percent":
        what = "Type a number of percent (49.3 for 49.3%, not 0.493)"
    elif f.type == "number":
        what = "Type a number"
    elif f.type == "date":
        what = "Type a date as YYYY-MM-DD, or YYYY-MM or YYYY when the report gives no more"
    else:
        what = "Type text" if key else "Type the text as the report gives it"
    if f.numeric and (f.min is not None or f.max is not None):
        lo = "" if f.min is None else f" from {f.min:g}"
        hi = "" if f.max is None else f" to {f.max:g}"
        what += lo + hi
    return what + ("." if key else ", or NR (not reported) / NA (not applicable).")


def _prompt(f: Field, key: bool) -> str:
    parts = [f.help] if f.help else []
    parts.append(_expected(f, key))
    return " ".join(parts)


def _fill_rows(ws: Worksheet, t: Table, frame: pd.DataFrame) -> None:
    unknown = [c for c in frame.columns if c not in t.fields]
    if unknown:
        raise ReviewError(
            f"table {t.name}: columns {unknown} are not fields of the form; "
            f"its fields are {', '.join(t.fields)}"
        )
    for r, (_, row) in enumerate(frame.iterrows(), start=2):
        for col, name in enumerate(t.fields, start=1):
            if name not in frame.columns:
                continue
            value = row[name]
            if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
                continue
            if hasattr(value, "item"):  # numpy scalar -> python
                value = value.item()
            put(ws, r, col, value)
    _print_rows(ws, len(t.fields), len(frame))


# ================================================================================================================
# Reading


@dataclass
class ExtractedTable:
    """One table as read: typed values, the missing codes, and where each value came from.

    `data` and `missing` share an index: the row number on the sheet (or the line in the CSV file).
    `missing` holds "NR", "NA" or "" (empty means: a value, or not yet extracted when the value is null).
    """

    table: Table
    data: pd.DataFrame
    missing: pd.DataFrame
    file: str
    sheet: str
    columns: dict[str, str]  # field -> column letter
    # (row, field) -> where the value was before it was imported from another tool (review import's origins.csv)
    origins: dict[tuple[int, str], str] = field(default_factory=dict)

    def cell(self, row: int, field: str) -> str:
        return f"{self.columns.get(field, '')}{row}"

    def where(self, row: int, field: str) -> str:
        """file:Sheet!A1 of a value, or, for an imported one, its origin in the other tool's export."""
        return self.origins.get((row, field)) or f"{self.file}:{self.sheet}!{self.cell(row, field)}"

    def as_typed(self) -> pd.DataFrame:
        """The table as a reviewer typed it: values, with NR/NA where the codes stand (object columns)."""
        out = self.data.astype(object).where(self.data.notna(), None)
        codes = self.missing.ne(EMPTY)
        return out.mask(codes, self.missing)


@dataclass
class Extraction:
    """All tables of one reviewer's workbook (or CSV folder), with the issues met while reading it."""

    form: Form
    source: Path
    reviewer: str
    form_version: str
    tables: dict[str, ExtractedTable]
    issues: list[Issue] = field(default_factory=list)

    def __getitem__(self, table: str) -> pd.DataFrame:
        return self.tables[table].data

    def frames(self) -> dict[str, pd.DataFrame]:
        return {name: t.data for name, t in self.tables.items()}

    def as_typed(self) -> dict[str, pd.DataFrame]:
        return {name: t.as_typed() for name, t in self.tables.items()}

    def __repr__(self) -> str:
        sizes = ", ".join(f"{n}={len(t.data)}" for n, t in self.tables.items() if len(t.data))
        return f"Extraction({self.source.name}, reviewer={self.reviewer!r}, form={self.form.label}, {sizes})"

    def _repr_html_(self) -> str:
        import html

        rows = "".join(
            f"<tr><td>{html.escape(t.table.sheet)}</td><td>{len(t.data)}</td>"
            f"<td>{int(t.missing.eq('NR').sum().sum())}</td><td>{int(t.missing.eq('NA').sum().sum())}</td>"
            "</tr>"
            for t in self.tables.values()
        )
        return (
            f"<p><b>Extraction</b> {html.escape(self.source.name)} by {html.escape(self.reviewer or '?')} "
            f"(form {html.escape(self.form.label)}, {len(self.issues)} reading issues)</p>"
            "<table><tr><th>sheet</th><th>rows</th><th>NR</th><th>NA</th></tr>" + rows + "</table>"
        )


def read_workbook(path: str | Path, form: Form) -> Extraction:
    """Read a reviewer workbook into typed tables. Unreadable files raise UnreadableWorkbook (exit code 2).

    The sheets the form needs are scanned first (sheetscan: row count and extent against the limits, formulas,
    error values, number formats, merged cells), then loaded with calamine; nothing else in the workbook is read.
    Each sheet loads in a worker thread as soon as its scan passes (calamine parses without holding the GIL),
    while the next sheets are scanned and the loaded ones typed."""
    path = check_xlsx(path)
    name = str(path)
    try:
        book = python_calamine.CalamineWorkbook.from_path(str(path))
        sheet_names = list(book.sheet_names)
    except python_calamine.PasswordError:
        raise UnreadableWorkbook(
            f"{name}: is password-protected; save a copy without the password.", file=name
        ) from None
    except (python_calamine.CalamineError, OSError, ValueError) as exc:  # corrupt archive or XML, I/O
        raise _unreadable(name, exc) from None
    by_fold = {_fold(s): s for s in sheet_names}
    found = {t.name: by_fold.get(_fold(t.sheet)) or by_fold.get(_fold(t.name)) for t in form.tables.values()}
    wanted = {s for s in found.values() if s} | {s for s in sheet_names if _fold(s) == _fold(INSTRUCTIONS)}
    # One worker: the book is used by that thread alone once loading starts (calamine's sheets cannot be loaded
    # from two threads at once), so loads run in the workbook's order while this thread scans and types.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="calamine") as loader:
        loading: dict[str, Future] = {}
        try:
            facts: dict[str, SheetFacts] = {}
            for sheet, sheet_facts in scan_sheets(path, wanted):
                facts[sheet] = sheet_facts
                loading[sheet] = loader.submit(_load_sheet, book, sheet)
            return _read_tables(path, form, _Loaded(name, loading), found, facts)
        except UnreadableInput as exc:
            loader.shutdown(cancel_futures=True)
            if isinstance(exc, UnreadableWorkbook):
                raise
            raise UnreadableWorkbook(str(exc), file=name) from None
        except BaseException:  # a refused workbook: the sheets not yet loaded are not needed
            loader.shutdown(cancel_futures=True)
            raise


def _load_sheet(book: python_calamine.CalamineWorkbook, sheet: str) -> list[list[object]]:
    rows: list[list[object]] = book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)  # type: ignore[assignment]
    return rows


class _Loaded(dict):
    """Sheet name -> its rows, waiting for the worker that loads them on first use."""

    def __init__(self, file: str, loading: dict[str, Future]):
        super().__init__()
        self.file, self.loading = file, loading

    def __missing__(self, sheet: str) -> list[list[object]]:
        try:
            rows = self[sheet] = self.loading[sheet].result()
        except (python_calamine.CalamineError, OSError, ValueError) as exc:
            raise _unreadable(self.file, exc) from None
        return rows

    def __contains__(self, sheet: object) -> bool:
        return sheet in self.loading

    def names(self) -> list[str]:
        return list(self.loading)


def _read_tables(
    path: Path, form: Form, sheets: _Loaded, found: dict[str, str | None], facts: dict[str, SheetFacts]
) -> Extraction:
    name = str(path)
    issues: list[Issue] = []
    reviewer, version, made_from = _read_instructions(sheets, form, name)
    if made_from:  # another form version: say so, and what changed, before any missing-column message
        changes = _form_changes(sheets, found, form)
        message = f"made from form {made_from}, read with form {form.label}" + (
            f": {changes}" if changes else ""
        )
        gaps = _missing_columns(sheets, found, form)
        if gaps:
            raise UnreadableWorkbook(
                f"{name}: {message}. So {gaps}. Read it with the form version it was made from (--form), or "
                "regenerate the workbook with `review workbook FORM -o OUT.xlsx` and copy the data over.",
                code="missing-column",
                file=name,
                sheet=INSTRUCTIONS,
            )
        issues.append(
            Issue(
                WARNING,
                "form-version-mismatch",
                message,
                file=name,
                sheet=INSTRUCTIONS,
                cell="B4",
                value=made_from,
            )
        )
    tables: dict[str, ExtractedTable] = {}
    for t in form.tables.values():
        sheet = found[t.name]
        if sheet is None:
            raise UnreadableWorkbook(
                f"{name}: has no sheet '{t.sheet}' (table {t.name} of form {form.label}); regenerate the workbook "
                f"with `review workbook FORM -o OUT.xlsx` and copy the data over, or add the sheet.",
                code="missing-sheet",
                file=name,
                sheet=t.sheet,
            )
        tables[t.name] = _read_rows(sheets[sheet], t, name, sheet, issues, facts.get(sheet), from_text=False)
        sheets.pop(sheet, None)  # typed: its rows can go
    return Extraction(form, path, reviewer, version, tables, issues)


def _unreadable(name: str, exc: Exception) -> UnreadableWorkbook:
    return UnreadableWorkbook(
        f"{name}: cannot be read as .xlsx ({type(exc).__name__}: {exc}); "
        "open it in Excel or LibreOffice and save it again as .xlsx.",
        file=name,
    )


def read_csv_folder(folder: str | Path, form: Form) -> Extraction:
    """Read one CSV per table (named after the table, e.g. arms.csv) from `folder`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UnreadableWorkbook(f"{folder}: is not a folder of CSV files.", file=str(folder))
    issues: list[Issue] = []
    tables: dict[str, ExtractedTable] = {}
    for t in form.tables.values():
        path = folder / f"{t.name}.csv"
        if not path.exists():
            raise UnreadableWorkbook(
                f"{path}: missing; every table of form {form.label} needs its CSV file "
                f"(a header row is enough for an empty table).",
                code="missing-sheet",
                file=str(path),
            )
        tables[t.name] = _read_rows(_csv_rows(path), t, str(path), "", issues, None, from_text=True)
    _read_origins(folder / ORIGINS, tables)
    return Extraction(form, folder, "", form.version, tables, issues)


ORIGINS = "origins.csv"  # written by review import (importers.py): each value's place in the tool's export


def _read_origins(path: Path, tables: dict[str, ExtractedTable]) -> None:
    if not path.is_file():
        return
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            for r in csv.DictReader(fh):
                et = tables.get(r.get("table") or "")
                if et is None or not str(r.get("row", "")).isdigit():
                    continue
                sheet = f" sheet {unneutral(r['sheet'])}," if r.get("sheet") else ""
                origin = f"{unneutral(r.get('file') or '')}:{sheet} row {r.get('source_row')}, column '{unneutral(r.get('column') or '')}'"
                et.origins[(int(r["row"]), r.get("field") or "")] = origin
    except (OSError, UnicodeDecodeError, csv.Error, KeyError):
        return  # the origins are a courtesy: without them each value's place is its CSV cell


def _csv_rows(path: Path) -> list[list[object]]:
    """A CSV file's rows, within the file-size and row limits; text the toolkit neutralised is given back."""
    try:
        check_file(path, "CSV file")
    except UnreadableInput as exc:
        raise UnreadableWorkbook(str(exc), file=str(path)) from None
    rows: list[list[object]] = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            for record in csv.reader(fh):
                if len(rows) >= MAX_SHEET_ROWS:
                    raise UnreadableWorkbook(
                        f"{path}: more than {MAX_SHEET_ROWS:,} lines, the limit for a table; remove the "
                        "lines that are not data, or split the table.",
                        file=str(path),
                    )
                # unneutral: the toolkit's own CSVs (a consensus) carry an apostrophe before text that would run;
                # one search of the joined record finds the rare records with a value that starts with one
                if "\x1f'" in "\x1f" + "\x1f".join(record):
                    record = [unneutral(v) for v in record]
                rows.append(list[object](record))
    except UnicodeDecodeError as exc:
        raise UnreadableWorkbook(
            f"{path}, line {len(rows) + 1}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); save it as "
            "CSV UTF-8.",
            file=str(path),
        ) from None
    except (OSError, csv.Error) as exc:
        raise UnreadableWorkbook(
            f"{path}, line {len(rows) + 1}: cannot be read as CSV ({exc}); save it as CSV UTF-8.",
            file=str(path),
        ) from None
    return rows


def read_extraction(path: str | Path, form: Form) -> Extraction:
    """A workbook or a CSV folder, whichever `path` is."""
    return read_csv_folder(path, form) if Path(path).is_dir() else read_workbook(path, form)


def read_extractions(paths: Sequence[str | Path], form: Form) -> list[Extraction]:
    """Several reviewers' workbooks (or CSV folders), two at a time: while calamine parses one without holding the
    GIL, Python scans and types the other. The first unreadable one, in the order given, raises."""
    with ThreadPoolExecutor(max_workers=max(1, min(len(paths), 2)), thread_name_prefix="read") as pool:
        return list(pool.map(lambda path: read_extraction(path, form), paths))


def _fold(text: str) -> str:
    return re.sub(r"[\s_]+", " ", str(text)).strip().casefold()


def _read_instructions(sheets: dict, form: Form, file: str) -> tuple[str, str, str]:
    """Reviewer, form version, and 'name vN' of the form the workbook was made from when it is another one."""
    names = sheets.names() if isinstance(sheets, _Loaded) else list(sheets)
    sheet = next((k for k in names if _fold(k) == _fold(INSTRUCTIONS)), None)
    rows: list[list[object]] = sheets[sheet] if sheet is not None else []
    meta = {_fold(r[0]): r[1] for r in rows if len(r) >= 2 and isinstance(r[0], str) and r[0]}
    reviewer = str(meta.get("reviewer") or "").strip()
    name, version = str(meta.get("form") or ""), _as_version(meta.get("form version"))
    other = (name and name != form.name) or (version and version != form.version)
    made_from = f"{name or form.name} v{version or '?'}" if other else ""
    return reviewer, version or form.version, made_from


def _headers(rows: list[list[object]]) -> list[str]:
    return [str(h).strip() for h in (rows[0] if rows else []) if h not in ("", None)]


def _missing_columns(sheets: dict, found: dict, form: Form) -> str:
    """'sheet Arms has no column X, Y; ...' for every sheet the form needs, or '' when none is missing."""
    gaps = []
    for t in form.tables.values():
        if found[t.name] is None:
            gaps.append(f"there is no sheet '{t.sheet}'")
            continue
        have = {f.name for h in _headers(sheets[found[t.name]]) if (f := t.field_for_header(h))}
        lacking = [f"'{f.header}'" for f in t.fields.values() if f.name not in have]
        if lacking:
            gaps.append(f"sheet '{found[t.name]}' has no column {', '.join(lacking)}")
    return "; ".join(gaps)


def _form_changes(sheets: dict, found: dict, form: Form) -> str:
    """What differs between the form the workbook was made from (as its header rows show) and `form`: fields
    added, removed and renamed (a header that matches no field, standing where a field without a column is)."""
    added, removed, renamed = [], [], []
    for t in form.tables.values():
        if found[t.name] is None:
            added.append(f"table {t.name} (sheet '{t.sheet}')")
            continue
        headers = _headers(sheets[found[t.name]])
        have = {f.name for h in headers if (f := t.field_for_header(h))}
        lacking = [f for f in t.fields.values() if f.name not in have]
        unknown = [h for h in headers if t.field_for_header(h) is None]
        for f in lacking:
            position = list(t.fields).index(f.name)
            guess = headers[position] if position < len(headers) and headers[position] in unknown else None
            guess = guess or next(iter(difflib.get_close_matches(f.header, unknown, n=1, cutoff=0.6)), None)
            if guess:
                unknown.remove(guess)
                renamed.append(f"'{guess}' -> '{f.header}' ({t.sheet})")
            else:
                added.append(f"'{f.header}' ({t.sheet})")
        removed += [f"'{h}' ({t.sheet})" for h in unknown]
    parts = [
        f"{what}: {', '.join(items)}"
        for what, items in (("fields added", added), ("removed", removed), ("renamed", renamed))
        if items
    ]
    return "; ".join(parts)


def _as_version(value: object) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value or "")


def _read_rows(
    rows: Sequence[Sequence[object]],
    t: Table,
    file: str,
    sheet: str,
    issues: list[Issue],
    facts: SheetFacts | None,
    *,
    from_text: bool,
) -> ExtractedTable:
    facts = facts or SheetFacts()

    def issue(code: str, ref: str, message: str, value: str, **where: str) -> None:
        issues.append(
            Issue(
                CODES[code].severity,
                code,
                message,
                file=file,
                sheet=sheet,
                cell=ref,
                table=t.name,
                value=value,
                **where,
            )
        )

    header = rows[0] if rows else []
    columns: dict[str, int] = {}
    for i, h in enumerate(header):
        if h in ("", None):
            continue
        ref = f"{get_column_letter(i + 1)}1"
        f = t.field_for_header(str(h))
        if f is None:
            issue("unknown-column", ref, f"column '{h}' matches no field of {t.name}; ignored", str(h))
        elif f.name in columns:  # a second column for the same field: its values would be lost
            first = f"{get_column_letter(columns[f.name] + 1)}1"
            issue(
                "duplicate-column",
                ref,
                f"column '{h}' is field {f.label} again (first at {first}); only one column per field is read. "
                f"Fix: {CODES['duplicate-column'].fix}",
                str(h),
                field=f.name,
            )
        else:
            columns[f.name] = i
    grid = _grid(rows)
    _unheaded_values(grid, header, issue)
    missing_cols = [f for f in t.fields.values() if f.name not in columns]
    if missing_cols:
        where = f"sheet '{sheet}'" if sheet else "the header row"
        raise UnreadableWorkbook(
            f"{file}: {where} has no column "
            + ", ".join(f"'{f.header}'" for f in missing_cols)
            + f" (table {t.name}); regenerate the workbook with `review workbook` or add the column.",
            code="missing-column",
            file=file,
            sheet=sheet,
        )
    for span in facts.merged:
        issue(
            "merged-cells",
            span.split(":")[0],
            f"cells {span} are merged: only the first holds a value, the others read as empty. "
            f"Fix: {CODES['merged-cells'].fix}",
            span,
        )
    letters = {name: get_column_letter(i + 1) for name, i in columns.items()}
    # Column by column, each distinct raw value parsed once (values.parse_column): a sheet of 300,000 rows holds a
    # few thousand distinct values per column. Cells the sheet XML says something about (formulas, errors,
    # formats, long text) and over-long text are read one by one, with their reference (_cell).
    long_text = lambda raw: raw.__class__ is str and len(raw) > MAX_CELL_CHARS  # noqa: E731
    parsed = {
        name: parse_column(grid[:, i], t.fields[name], from_text=from_text, skip=long_text)
        for name, i in columns.items()
    }
    kept = np.zeros(len(grid), dtype=bool)
    for column in parsed.values():
        kept |= np.array([_filled(raw) for raw in column.raw], dtype=bool)[column.codes]
    noted = _noted_cells(facts, letters, len(grid))
    for (_, p), ref in noted.items():
        if ref in facts.formulas or ref in facts.errors:  # cells that count even when they read as empty
            kept[p] = True
    positions = np.flatnonzero(kept)
    at = np.full(len(grid), -1)
    at[positions] = np.arange(len(positions))
    study_column = columns.get("study_id")
    found: list[tuple[int, int, Issue]] = []  # (row, column, issue): sorted into sheet order below
    values: dict[str, pd.api.extensions.ExtensionArray] = {}  # typed as the schema's columns (DTYPES)
    codes: dict[str, pd.api.extensions.ExtensionArray] = {}
    for order, (name, column) in enumerate(parsed.items()):
        f, letter, i = t.fields[name], letters[name], columns[name]
        column.codes = column.codes[positions]
        values[name] = column.cells(lambda p: None if _refused(p) else p.value, DTYPES[f.type])
        codes[name] = column.cells(lambda p: p.missing, str)
        one_by_one = {int(at[p]): ref for (n, p), ref in noted.items() if n == name and at[p] >= 0}
        long = np.array([long_text(raw) for raw in column.raw], dtype=bool)[column.codes]
        one_by_one.update((int(k), "") for k in np.flatnonzero(long) if k not in one_by_one)
        noisy = np.array([bool(p.codes) for p in column.parsed], dtype=bool)[column.codes]
        cells = sorted({*one_by_one, *np.flatnonzero(noisy).tolist()})
        for k in cells:
            p = int(positions[k])
            raw, ref = grid[p, i], one_by_one.get(k, "") or f"{letter}{p + 2}"
            if k in one_by_one:
                cell = _cell(raw, f, ref, facts, from_text)
                values[name][k] = None if _refused(cell) else cell.value
                codes[name][k] = cell.missing
            else:
                cell = column.parsed[column.codes[k]]
            study = _text([grid[p, study_column]], 0) if study_column is not None else ""
            for code in cell.codes:
                found_issue = Issue(
                    CODES[code].severity,
                    code,
                    _message(code, f, cell.note),
                    file=file,
                    sheet=sheet,
                    cell=ref,
                    table=t.name,
                    study_id=study,
                    field=name,
                    value=facts.errors.get(ref) or _shown(raw),
                )
                found.append((p, order, found_issue))
    found.sort(key=lambda x: (x[0], x[1]))  # stable: a cell's codes keep their order
    issues.extend(issue for _, _, issue in found)
    idx = pd.Index(positions + 2, name="row", dtype="int64")  # every field has a column (checked above)
    data = pd.DataFrame({n: values[n] for n in t.fields}, index=idx)
    missing = pd.DataFrame({n: codes[n] for n in t.fields}, index=idx)
    return ExtractedTable(t, data, missing, file, sheet, letters)


def _grid(rows: Sequence[Sequence[object]]) -> np.ndarray:
    """The rows below the header as a 2-D object array as wide as the widest row; short rows (CSV) end in None."""
    lengths = set(map(len, rows))
    width, body = max(lengths, default=0), rows[1:]
    if len(lengths) > 1:
        body = [[*r, *([None] * (width - len(r)))] if len(r) < width else r for r in body]
    cells = itertools.chain.from_iterable(body)
    return np.fromiter(cells, dtype=object, count=len(body) * width).reshape(len(body), width)


def _noted_cells(facts: SheetFacts, letters: dict[str, str], height: int) -> dict[tuple[str, int], str]:
    """(field, position below the header) -> A1 reference, for the cells the sheet XML says something about."""
    fields = {letter: name for name, letter in letters.items()}
    noted = {}
    for ref in (
        facts.formulas | facts.errors.keys() | facts.no_value | facts.long_text.keys() | facts.formats.keys()
    ):
        r = _row_number(ref)
        if r is not None and 2 <= r < height + 2 and ref[: -len(str(r))] in fields:
            noted[(fields[ref[: -len(str(r))]], r - 2)] = ref
    return noted


def _unheaded_values(grid: np.ndarray, header: Sequence[object], issue) -> None:
    """A value in a column without a header would be ignored: say where the first one is, per column."""
    for i in range(grid.shape[1]):
        if i < len(header) and header[i] not in ("", None):
            continue
        codes, raw = distinct(grid[:, i])
        filled = np.array([_filled(v) for v in raw], dtype=bool)[codes]
        if filled.any():
            r = int(np.argmax(filled))
            ref = f"{get_column_letter(i + 1)}{r + 2}"
            issue(
                "unknown-column",
                ref,
                f"a value in column {get_column_letter(i + 1)}, which has no header, is ignored; move it to "
                "the column it belongs to (or to Comment)",
                str(grid[r, i]),
            )


def _cell(raw: object, f: Field, ref: str, facts: SheetFacts, from_text: bool) -> Parsed:
    """One cell, with what the sheet XML says about it: error values, formulas, formats, over-long text."""
    if ref in facts.errors:
        return Parsed(codes=("error-value",), note=f"{facts.errors[ref]}; read as nothing")
    if ref in facts.no_value:
        return Parsed(codes=("formula-without-value",), note="no value can be read from it")
    if ref in facts.long_text or (
        isinstance(raw, str) and len(raw) > MAX_CELL_CHARS
    ):  # calamine cuts it short
        length = max(facts.long_text.get(ref, 0), len(raw) if isinstance(raw, str) else 0)
        return Parsed(
            codes=("text-too-long",), note=f"{length:,} characters; the limit is {MAX_CELL_CHARS:,}"
        )
    shown = facts.formats.get(ref)
    extra: tuple[str, ...] = ()
    if shown == "percent" and isinstance(raw, float) and f.numeric:
        if f.type != "percent":
            return Parsed(
                codes=("ambiguous-number",),
                note=f"shown as {raw * 100:g}% in a {f.type} field; type the number itself",
            )
        raw, extra = float(f"{raw * 100:.12g}"), ("percent-format",)  # the percentage shown: 0.151 -> 15.1
    elif shown in ("month", "year") and f.type == "date" and isinstance(raw, (dt.date, dt.datetime)):
        iso = raw.isoformat()
        return Parsed(iso[:7] if shown == "month" else iso[:4])  # the precision shown, never an invented day
    parsed = parse_value(raw, f, from_text=from_text)
    if ref in facts.formulas:
        return Parsed(
            parsed.value, parsed.missing, ("formula-cell", *parsed.codes), "its saved result was used"
        )
    if extra:
        return Parsed(
            parsed.value, parsed.missing, (*extra, *parsed.codes), parsed.note or f"read as {raw:g}"
        )
    return parsed


def _filled(cell: object) -> bool:
    return not (cell is None or cell == "" or (cell.__class__ is str and not cell.strip()))


def _refused(parsed: Parsed) -> bool:
    """An error code refuses the value: it is read as nothing (the issue says why)."""
    return any(CODES[c].severity == ERROR for c in parsed.codes)


def _row_number(ref: str) -> int | None:
    digits = ref.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    return int(digits) if digits.isdigit() else None


def _text(row: Sequence[object], i: int | None) -> str:
    if i is None or i >= len(row) or row[i] in (None, ""):
        return ""
    v = row[i]
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v).strip()


def _shown(raw: object) -> str:
    if raw is None:
        return ""
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw)


def _message(code: str, f: Field, note: str) -> str:
    text = CODES[code].title.rstrip(".")
    text = f"{f.label}: {text[0].lower()}{text[1:]}"
    if note:
        text += f" ({note})"
    return f"{text}. Fix: {CODES[code].fix}"


# ================================================================================================================
# A copy of a reviewer's workbook with its issues marked: the original is never touched.


def annotate_workbook(source: str | Path, report: Report, target: str | Path) -> Path:
    """Write a copy of `source` to `target` with each issue's cell highlighted and commented."""
    source, target = check_xlsx(source), Path(target)
    if source.resolve() == target.resolve():
        raise ReviewError(
            f"{target}: the annotated copy must not overwrite the reviewer's workbook; "
            "choose another file name."
        )
    wb = load_workbook(source)  # openpyxl parses through defusedxml when it is installed (a dependency here)
    by_cell: dict[tuple[str, str], list[Issue]] = {}
    for issue in report:
        if Path(issue.file) == source and issue.sheet in wb.sheetnames and issue.cell:
            by_cell.setdefault((issue.sheet, issue.cell), []).append(issue)
    for (sheet, ref), found in by_cell.items():
        cell = wb[sheet][ref]
        worst = ERROR if any(i.severity == ERROR for i in found) else WARNING
        cell.fill = _ISSUE_FILL[worst]
        text = "\n".join(f"[{i.severity} {i.code}] {i.message}" for i in found)
        cell.comment = Comment(text[:30000], "review validate", width=400, height=160)
    return save_workbook(wb, target)
