"""A reviewer's extraction read back: each sheet of a workbook (python-calamine) or each CSV of a folder turned into a
typed DataFrame whose index is the row number, so every value keeps its file, sheet and cell; with the issues met
while reading. The workbooks are the ones `review.workbook.make_workbook` writes (or any with the same sheets and
headers); INSTRUCTIONS is the sheet both sides know.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import itertools
import re
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import python_calamine
from openpyxl.utils import get_column_letter

from .errors import UnreadableInput
from .files import MAX_CELL_CHARS, MAX_SHEET_ROWS, check_file, check_xlsx
from .forms import Field, Form, Table
from .issues import CODES, ERROR, FATAL, WARNING, Issue
from .schema import DTYPES
from .sheets import unneutral
from .sheetscan import SheetFacts, scan_sheets
from .values import EMPTY, Parsed, distinct, parse_column, parse_value

INSTRUCTIONS = "Instructions"


class UnreadableWorkbook(UnreadableInput):
    """Raised for a file that cannot be read; `code` is its issue code (unreadable-file, missing-sheet...)."""

    def __init__(self, message: str, code: str = "unreadable-file", file: str = "", sheet: str = ""):
        super().__init__(message)
        self.code, self.file, self.sheet = code, file, sheet

    def as_issue(self) -> Issue:
        return Issue(FATAL, self.code, str(self), file=self.file, sheet=self.sheet)


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
    found = table_sheets(sheet_names, form, name)
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
                f"{name}: {message}. So {gaps}. Carry it to this form version with `review upgrade {name} -o "
                "NEW.xlsx` (a new workbook with every value), or read it with the form version it was made from "
                "(--form).",
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


def table_sheets(sheet_names: Sequence[str], form: Form, file: str) -> dict[str, str | None]:
    """Each table's sheet (by its label or its name, ignoring case, spaces and _), None where there is none.
    Two sheets that name one table ('Studies', 'studies ') are refused: one would be read, the other ignored."""
    by_fold = {_fold(s): s for s in sheet_names}
    found = {t.name: by_fold.get(_fold(t.sheet)) or by_fold.get(_fold(t.name)) for t in form.tables.values()}
    for sheet in {s for s in found.values() if s}:
        twins = [s for s in sheet_names if _fold(s) == _fold(sheet)]
        if len(twins) > 1:
            raise UnreadableWorkbook(
                f"{file}: sheets {' and '.join(repr(s) for s in twins)} both name one table; rename or delete "
                "all but one (their values would otherwise be read from one and the other ignored).",
                file=file,
                sheet=twins[1],
            )
    return found


def instructions(rows: Sequence[Sequence[object]]) -> dict[str, object]:
    """The Instructions sheet's labelled values (form, form version, reviewer, created), by folded label."""
    return {_fold(r[0]): r[1] for r in rows if len(r) >= 2 and isinstance(r[0], str) and r[0]}


def _read_instructions(sheets: dict, form: Form, file: str) -> tuple[str, str, str]:
    """Reviewer, form version, and 'name vN' of the form the workbook was made from when it is another one."""
    names = sheets.names() if isinstance(sheets, _Loaded) else list(sheets)
    sheet = next((k for k in names if _fold(k) == _fold(INSTRUCTIONS)), None)
    meta = instructions(sheets[sheet] if sheet is not None else [])
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
        facts.formulas.keys()
        | facts.errors.keys()
        | facts.no_value
        | facts.long_text.keys()
        | facts.formats.keys()
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
            parsed.value, parsed.missing, ("formula-cell", *parsed.codes), _formula_note(facts.formulas[ref])
        )
    if extra:
        return Parsed(
            parsed.value, parsed.missing, (*extra, *parsed.codes), parsed.note or f"read as {raw:g}"
        )
    return parsed


def _formula_note(formula: str) -> str:
    if not formula:  # a shared formula's later cells carry only a reference to the first one's
        return ""
    shown = formula if len(formula) <= 60 else formula[:57] + "..."
    return f"={shown}"


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
