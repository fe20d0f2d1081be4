"""Reviewer workbooks: written from a form with openpyxl, read back with python-calamine.

Writing gives reviewers an instructions sheet, one sheet per table with readable headers, dropdowns, range checks
and help on every column. Reading turns each sheet into a typed DataFrame whose index is the sheet's row number,
so every value keeps its file, sheet and cell. The same tables can be read from a folder of CSV files.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pandas as pd
import python_calamine
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET
from openpyxl import Workbook, load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from .errors import RefusedOutput, ReviewError, UnreadableInput
from .files import check_output, check_xlsx
from .forms import MISSING_CODES, Field, Form, Table
from .issues import CODES, ERROR, FATAL, WARNING, Issue, Report
from .schema import DTYPES
from .sheets import (
    ERROR_FILL,
    HEADER_FILL,
    KEY_FILL,
    REQUIRED_FILL,
    WARNING_FILL,
    put,
    save_workbook,
    unneutral,
)
from .values import EMPTY, Parsed, parse_value

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
    ws.column_dimensions["B"].width = 100
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
    ws.sheet_view.showGridLines = False


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
    ws.row_dimensions[1].height = 32


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


def _expected(f: Field, key: bool) -> str:
    if f.type in ("category", "boolean"):
        what = "Pick a value from the list"
    elif f.references:
        what = f"Pick an id that exists on sheet {f.references[0]}"
    elif f.type == "integer":
        what = "Type a whole number"
    else:
        what = "Type a number"
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


def read_studies(path: str | Path) -> pd.DataFrame:
    """Studies to pre-fill, from an RIS export (rispy) or a CSV whose headers are Studies fields or labels."""
    path = Path(path)
    if not path.exists():
        raise UnreadableInput(f"{path}: file not found.")
    if path.suffix.lower() in (".ris", ".txt"):
        import rispy

        try:
            with open(path, encoding="utf-8-sig") as fh:
                entries = rispy.load(fh)
        except (ValueError, OSError, UnicodeDecodeError) as exc:
            raise UnreadableInput(f"{path}: not a readable RIS file ({exc}).") from None
        rows = [_study_from_ris(e) for e in entries]
    elif path.suffix.lower() == ".csv":
        try:
            with open(path, newline="", encoding="utf-8-sig") as fh:
                rows = list(csv.DictReader(fh))
        except (UnicodeDecodeError, csv.Error) as exc:
            raise UnreadableInput(
                f"{path}: not a readable UTF-8 CSV ({exc}); save it as CSV UTF-8."
            ) from None
    else:
        raise UnreadableInput(f"{path}: give the included studies as .ris or .csv.")
    if not rows:
        raise UnreadableInput(f"{path}: no studies found.")
    frame = pd.DataFrame(rows).fillna("")
    if "study_id" not in frame.columns or (frame["study_id"] == "").any():
        frame["study_id"] = _study_ids(frame)
    if frame["study_id"].duplicated().any():
        dupes = sorted(set(frame.loc[frame["study_id"].duplicated(), "study_id"]))
        raise ReviewError(f"{path}: study ids {dupes} occur twice; make them unique.")
    return frame


def _study_from_ris(entry: dict) -> dict:
    authors = entry.get("authors") or entry.get("first_authors") or []
    year = str(entry.get("year") or entry.get("publication_year") or "")[:4]
    journal = entry.get("secondary_title") or entry.get("journal_name") or entry.get("alternate_title3") or ""
    pages = "-".join(p for p in (entry.get("start_page"), entry.get("end_page")) if p)
    volume = entry.get("volume") or ""
    issue = f"({entry['number']})" if entry.get("number") else ""
    author_text = ", ".join(authors[:3]) + (", et al" if len(authors) > 3 else "")
    citation = ". ".join(
        p for p in (author_text, entry.get("title") or entry.get("primary_title"), journal) if p
    )
    citation += f" {year}" + (f";{volume}{issue}" if volume else "") + (f":{pages}" if pages else "") + "."
    pmid = next(
        (str(entry[k]) for k in ("accession_number", "pubmed_id") if str(entry.get(k, "")).isdigit()), ""
    )
    return {
        "citation": citation.strip(),
        "first_author": authors[0].split(",")[0].strip() if authors else "",
        "year": year,
        "doi": re.sub(
            r"^(https?://(dx\.)?doi\.org/|doi:\s*)", "", entry.get("doi") or "", flags=re.IGNORECASE
        ),
        "pmid": pmid,
    }


def _study_ids(frame: pd.DataFrame) -> list[str]:
    """'Surname Year', with a/b suffixes where two studies would share one."""
    base = [f"{r.get('first_author') or 'Study'} {r.get('year') or ''}".strip() for _, r in frame.iterrows()]
    counts = pd.Series(base).value_counts()
    seen: dict[str, int] = {}
    ids = []
    for b in base:
        if counts[b] > 1:
            seen[b] = seen.get(b, 0) + 1
            ids.append(f"{b}{chr(ord('a') + seen[b] - 1)}")
        else:
            ids.append(b)
    return ids


def make_study_workbooks(
    form: Form,
    studies: pd.DataFrame,
    folder: str | Path,
    *,
    reviewer: str = "",
    rows: int = DEFAULT_ROWS,
    inputs: Sequence[str | Path] = (),
    force: bool = False,
) -> list[Path]:
    """One workbook per study, each with its Studies row filled in; returns the paths written.

    Every target is checked before any is written: none may be one of `inputs`, and none that exists is
    replaced unless `force` (a reviewer may already have filled it in)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise RefusedOutput(f"{folder}: is a file; give a folder for the per-study workbooks.")
    targets = {}
    for _, study in studies.iterrows():
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", str(study["study_id"])).strip("_") or "study"
        target = folder / f"{name}.xlsx"
        if target in targets.values():
            raise ReviewError(
                f"studies {study['study_id']!r} and another give the same file name {target.name}."
            )
        targets[study.name] = check_output(target, inputs, force=force)
    paths = []
    for _, study in studies.iterrows():
        frame = studies.loc[[study.name], [c for c in studies.columns if c in form.table("studies").fields]]
        paths.append(
            make_workbook(form, targets[study.name], reviewer=reviewer, data={"studies": frame}, rows=rows)
        )
    return paths


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

    def cell(self, row: int, field: str) -> str:
        return f"{self.columns.get(field, '')}{row}"

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
    """Read a reviewer workbook into typed tables. Unreadable files raise UnreadableWorkbook (exit code 2)."""
    path = check_xlsx(path)
    name = str(path)
    try:
        book = python_calamine.CalamineWorkbook.from_path(str(path))
        sheet_names = list(book.sheet_names)
        sheets = {s: book.get_sheet_by_name(s).to_python(skip_empty_area=False) for s in sheet_names}
    except python_calamine.PasswordError:
        raise UnreadableWorkbook(
            f"{name}: is password-protected; save a copy without the password.", file=name
        ) from None
    except (python_calamine.CalamineError, OSError, ValueError) as exc:  # corrupt archive or XML, I/O
        raise UnreadableWorkbook(
            f"{name}: cannot be read as .xlsx ({type(exc).__name__}: {exc}); "
            "open it in Excel or LibreOffice and save it again as .xlsx.",
            file=name,
        ) from None
    issues: list[Issue] = []
    reviewer, version = _read_instructions(sheets, form, name, issues)
    formulas = _formula_cells(path)
    tables: dict[str, ExtractedTable] = {}
    by_fold = {_fold(s): s for s in sheet_names}
    for t in form.tables.values():
        sheet = by_fold.get(_fold(t.sheet)) or by_fold.get(_fold(t.name))
        if sheet is None:
            raise UnreadableWorkbook(
                f"{name}: has no sheet '{t.sheet}' (table {t.name} of form {form.label}); regenerate the workbook "
                f"with `review workbook FORM -o OUT.xlsx` and copy the data over, or add the sheet.",
                code="missing-sheet",
                file=name,
                sheet=t.sheet,
            )
        tables[t.name] = _read_rows(
            sheets[sheet], t, name, sheet, issues, formulas.get(sheet, set()), from_text=False
        )
    return Extraction(form, path, reviewer, version, tables, issues)


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
        try:
            with open(path, newline="", encoding="utf-8-sig") as fh:
                # unneutral: the toolkit's own CSVs (a consensus) carry an apostrophe before text that would run
                rows: list[list[object]] = [[unneutral(v) for v in r] for r in csv.reader(fh)]
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise UnreadableWorkbook(
                f"{path}: cannot be read as UTF-8 CSV ({exc}).", file=str(path)
            ) from None
        tables[t.name] = _read_rows(rows, t, str(path), "", issues, set(), from_text=True)
    return Extraction(form, folder, "", form.version, tables, issues)


def read_extraction(path: str | Path, form: Form) -> Extraction:
    """A workbook or a CSV folder, whichever `path` is."""
    return read_csv_folder(path, form) if Path(path).is_dir() else read_workbook(path, form)


def _fold(text: str) -> str:
    return re.sub(r"[\s_]+", " ", str(text)).strip().casefold()


def _read_instructions(sheets: dict, form: Form, file: str, issues: list[Issue]) -> tuple[str, str]:
    rows = next((v for k, v in sheets.items() if _fold(k) == _fold(INSTRUCTIONS)), [])
    meta = {_fold(r[0]): r[1] for r in rows if len(r) >= 2 and isinstance(r[0], str) and r[0]}
    reviewer = str(meta.get("reviewer") or "").strip()
    name, version = str(meta.get("form") or ""), _as_version(meta.get("form version"))
    if (name and name != form.name) or (version and version != form.version):
        issues.append(
            Issue(
                WARNING,
                "form-version-mismatch",
                f"made from form {name} v{version}, validated with {form.label}",
                file=file,
                sheet=INSTRUCTIONS,
                cell="B4",
                value=f"{name} v{version}",
            )
        )
    return reviewer, version or form.version


def _as_version(value: object) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value or "")


def _read_rows(
    rows: list[list[object]],
    t: Table,
    file: str,
    sheet: str,
    issues: list[Issue],
    formulas: set[str],
    *,
    from_text: bool,
) -> ExtractedTable:
    header = rows[0] if rows else []
    columns: dict[str, int] = {}
    for i, h in enumerate(header):
        if h in ("", None):
            continue
        f = t.field_for_header(str(h))
        if f is None:
            issues.append(
                Issue(
                    WARNING,
                    "unknown-column",
                    f"column '{h}' matches no field of {t.name}; ignored",
                    file=file,
                    sheet=sheet,
                    cell=f"{get_column_letter(i + 1)}1",
                    table=t.name,
                    value=str(h),
                )
            )
        elif f.name not in columns:
            columns[f.name] = i
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
    letters = {name: get_column_letter(i + 1) for name, i in columns.items()}
    # Column by column, each distinct raw value parsed once: a sheet of 300,000 rows holds a few thousand
    # distinct values per column, and a per-cell loop over parse_value was most of the reading time.
    body = rows[1:]
    cells = {name: _column(body, i) for name, i in columns.items()}
    kept = [any(filled) for filled in zip(*(map(_filled, c) for c in cells.values()), strict=True)]
    for ref in formulas:  # a formula without a saved result still keeps its row (and gets its issue)
        r = _row_number(ref)
        if r is not None and 2 <= r < len(kept) + 2 and ref[: -len(str(r))] in letters.values():
            kept[r - 2] = True
    positions = [p for p, keep in enumerate(kept) if keep]
    index = [p + 2 for p in positions]
    found: list[tuple[int, int, Issue]] = []  # (row, column, issue): sorted into sheet order below
    study_column = cells.get("study_id")
    values: dict[str, list] = {}
    codes: dict[str, list] = {}
    for order, (name, column) in enumerate(cells.items()):
        f = t.fields[name]
        cache: dict[tuple[type, object], tuple[Parsed, bool]] = {}
        out_values, out_codes = [], []
        for p in positions:
            raw = column[p]
            key = (raw.__class__, raw)
            hit = cache.get(key)
            if hit is None:
                parsed = parse_value(raw, f, from_text=from_text)
                hit = cache[key] = (parsed, any(CODES[c].severity == ERROR for c in parsed.codes))
            parsed, refused = hit
            out_values.append(None if refused else parsed.value)
            out_codes.append(parsed.missing)
            ref = f"{letters[name]}{p + 2}" if formulas else ""
            if parsed.codes or ref in formulas:
                if not ref:
                    ref = f"{letters[name]}{p + 2}"
                if ref in formulas:
                    parsed_codes = ("formula-cell", *parsed.codes)
                    note = (
                        "formula never evaluated; its saved result was used"
                        if not parsed.is_empty
                        else "formula has no saved result; the cell is treated as empty"
                    )
                else:
                    parsed_codes, note = parsed.codes, parsed.note
                study = _text([study_column[p]], 0) if study_column is not None else ""
                for code in parsed_codes:
                    issue = Issue(
                        CODES[code].severity,
                        code,
                        _message(code, f, note),
                        file=file,
                        sheet=sheet,
                        cell=ref,
                        table=t.name,
                        study_id=study,
                        field=name,
                        value=_shown(raw),
                    )
                    found.append((p, order, issue))
        values[name], codes[name] = out_values, out_codes
    found.sort(key=lambda x: (x[0], x[1]))  # stable: a cell's codes keep their order
    issues.extend(issue for _, _, issue in found)
    idx = pd.Index(index, name="row", dtype="int64")  # every field has a column (checked above)
    data = pd.DataFrame({n: pd.Series(values[n], index=idx, dtype=object) for n in t.fields}, index=idx)
    data = data.astype({n: DTYPES[t.fields[n].type] for n in t.fields})
    missing = pd.DataFrame({n: pd.Series(codes[n], index=idx, dtype=object) for n in t.fields}, index=idx)
    return ExtractedTable(t, data, missing.astype(str), file, sheet, letters)


def _column(rows: list[list[object]], i: int) -> list[object]:
    """Column `i` of the rows; short rows (CSV) give None."""
    return [row[i] if i < len(row) else None for row in rows]


def _filled(cell: object) -> bool:
    return not (cell is None or cell == "" or (cell.__class__ is str and not cell.strip()))


def _row_number(ref: str) -> int | None:
    digits = ref.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    return int(digits) if digits.isdigit() else None


def _text(row: list[object], i: int | None) -> str:
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


# --- formulas: found by a streaming scan of the sheet XML, never evaluated ----------------------------------

_NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
}


# A formula is an <f> element (possibly prefixed); text content cannot contain a raw '<', so this finds them all.
_HAS_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")


def _formula_cells(path: Path) -> dict[str, set[str]]:
    """Cells holding a formula, per sheet name. calamine returns only the saved results, which is what we
    want to read, but a reviewer must hear that a formula stood there. defusedxml refuses entity tricks."""
    found: dict[str, set[str]] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            book = SafeET.fromstring(zf.read("xl/workbook.xml"))
            rels = SafeET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
            targets = {r.get("Id"): r.get("Target") for r in rels.findall("rel:Relationship", _NS)}
            for s in book.findall("m:sheets/m:sheet", _NS):
                target = targets.get(s.get(f"{{{_NS['r']}}}id"), "")
                part = target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)
                if part not in zf.namelist():
                    continue
                raw = zf.read(part)
                if not _HAS_FORMULA.search(raw):
                    continue  # most sheets have none; skip the (slow, pure-Python) XML walk
                cells: set[str] = set()
                with zf.open(part) as fh:
                    for _, elem in SafeET.iterparse(fh, events=("end",)):
                        if elem.tag == f"{{{_NS['m']}}}c":
                            if elem.find("m:f", _NS) is not None:
                                cells.add(elem.get("r", ""))
                            elem.clear()
                if cells:
                    found[s.get("name", "")] = cells
    except (KeyError, zipfile.BadZipFile, SafeET.ParseError) as exc:
        raise UnreadableWorkbook(
            f"{path}: the workbook's XML is damaged ({exc}); save it again as .xlsx.", file=str(path)
        ) from None
    except DefusedXmlException as exc:  # refused DTDs or entities: a hostile or broken file
        raise UnreadableWorkbook(
            f"{path}: refused unsafe XML ({type(exc).__name__}); save it again as .xlsx.", file=str(path)
        ) from None
    return found


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
