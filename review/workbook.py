"""Reviewer workbooks written from a form with openpyxl, and a copy of one with its issues marked.

Writing gives reviewers an instructions sheet, one sheet per table with readable headers, dropdowns, range checks
and help on every column. Reading them back (python-calamine, typed tables whose index is the sheet's row number)
is review.extraction; its functions are importable from here too, as `review.workbook.read_workbook`.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from openpyxl import Workbook, load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from .errors import ReviewError
from .extraction import (  # reading lives there; these names stay importable from here
    INSTRUCTIONS,
    ExtractedTable,
    Extraction,
    UnreadableWorkbook,
    _fold,
    instructions,
    read_csv_folder,
    read_extraction,
    read_extractions,
    read_workbook,
    table_sheets,
)
from .files import MAX_SHEET_ROWS, check_output, check_xlsx
from .forms import MISSING_CODES, Field, Form, Table
from .issues import ERROR, WARNING, Issue, Report
from .sheets import (
    ERROR_FILL,
    HEADER_FILL,
    KEY_FILL,
    NUMBER_HEADER,
    REQUIRED_FILL,
    WARNING_FILL,
    WRAP,
    fit_rows,
    print_setup,
    put,
    save_workbook,
)
from .sheetscan import constant_boolean

__all__ = [
    "DEFAULT_ROWS",
    "INSTRUCTIONS",
    "LISTS",
    "ExtractedTable",
    "Extraction",
    "UnreadableWorkbook",
    "annotate_workbook",
    "make_workbook",
    "read_csv_folder",
    "read_extraction",
    "read_extractions",
    "read_workbook",
    "upgrade_workbook",
]
LISTS = "Lists"
DEFAULT_ROWS = 500  # rows that carry dropdowns and checks; reviewers can add more below

_ISSUE_FILL = {ERROR: ERROR_FILL, WARNING: WARNING_FILL}
_WIDE_TEXT = {"citation": 60, "support": 60, "comment": 40, "notes": 40, "intervention": 28, "label": 24}


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
    return save_workbook(_build(form, reviewer, data, rows), path)


def _build(
    form: Form,
    reviewer: str,
    data: Mapping[str, pd.DataFrame] | None,
    rows: int,
    sizes: Mapping[str, int] | None = None,
) -> Workbook:
    """The workbook, tables pre-filled from `data`; `sizes`: rows to be filled later, per table (to size the
    checks and dropdowns)."""
    wb = Workbook()
    wb.remove(wb.active)
    _instructions_sheet(wb.create_sheet(INSTRUCTIONS), form, reviewer)
    lists = wb.create_sheet(LISTS)
    lists.sheet_state = "hidden"
    list_ranges = _write_lists(lists, form)
    data = data or {}
    sizes = sizes or {}
    for t in form.tables.values():
        frame = data.get(t.name)
        count = len(frame) if frame is not None else sizes.get(t.name, 0)
        ws = wb.create_sheet(t.sheet)
        _table_sheet(ws, form, t, list_ranges, rows=min(max(rows, count + 50), MAX_SHEET_ROWS - 1))
        if frame is not None:
            _fill_rows(ws, t, frame)
    wb.active = 0
    return wb


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
        cell.alignment = NUMBER_HEADER if f.numeric else WRAP  # right over numbers, as they are typed
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
    dv.prompt = _prompt(f, key, t)[:255]
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
    if f.if_reported:
        return what + ", only when the report gives it; otherwise leave it empty."
    return what + ("." if key else ", or NR (not reported) / NA (not applicable).")


def _prompt(f: Field, key: bool, table: Table | None = None) -> str:
    parts = [f.help] if f.help else []
    parts.append(_expected(f, key))
    if f.unless_given and table is not None:
        labels = [table.fields[n].label for n in f.unless_given]
        given = ", ".join(labels[:-1]) + " or " + labels[-1] if len(labels) > 1 else labels[0]
        parts.append(f"Leave it empty where the row gives {given} instead.")
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
# A reviewer's workbook carried to another version of its form: a new file, the original never touched.


def upgrade_workbook(source: str | Path, form: Form, target: str | Path) -> tuple[Path, list[str]]:
    """Write to `target` a workbook made from `form` holding every value of `source`, a reviewer's workbook
    made from another version of the form (fields added, moved or relabelled since). Returns (target, what was
    done, one line each).

    Each column goes to the field its header names (as reading does, so an old label read by the form still
    matches), each value with its number format (a percent typed as 15.1% is stored as 0.151: its format says
    so) and its note, in the same row; an error value (#REF!) stays an error. A formula is carried as its saved
    value and listed. Nothing is dropped in silence: a value or note the new workbook would not hold (in a column
    no field matches, on a sheet the form has no table for, under a merged range, a formula never calculated, two
    sheets for one table) makes it refuse (ReviewError) with the cells and what to do; text typed on the
    Instructions or Lists sheet, and notes on headers, which the form writes afresh, are listed. Cell colours and
    the sheets' layout are the new form's. `target` is never `source`.
    """
    src = check_xlsx(source)
    # replacing another file is the caller's to allow (--force); writing over the input never is
    check_output(target, [src], force=True)
    # not read-only, for number formats and notes (it keeps only a merged range's first cell)
    old = _open(src)
    saved: Workbook | None = None  # the formulas' saved values, read when there is a formula
    found = table_sheets([ws.title for ws in old.worksheets], form, str(src))  # as reading finds them
    left = {ws.title: ws for ws in old.worksheets if ws.title not in found.values()}
    instructions_sheet = next((ws for ws in left.values() if _fold(ws.title) == _fold(INSTRUCTIONS)), None)
    meta = instructions(list(instructions_sheet.iter_rows(values_only=True))) if instructions_sheet else {}
    refusals: list[str] = []
    cells: dict[str, list[tuple[int, int, object, str, bool, Comment | None]]] = {}  # table: (row, col, ...)
    formulas: list[str] = []
    listed: list[str] = []  # what the new workbook will not hold, said but not refused
    for t in form.tables.values():
        if found[t.name] is None:
            continue  # a table added since: its sheet starts empty
        ws = old[found[t.name]]
        for merged in ws.merged_cells.ranges:
            if merged.max_row >= 2:
                refusals.append(
                    f"sheet '{ws.title}' has cells {merged.coord} merged (their values may be hidden)"
                )
        header = [c.value for c in next(ws.iter_rows(max_row=1), ())]
        listed += [
            f"the note on '{ws.title}'!{c.coordinate}" for c in next(ws.iter_rows(max_row=1), ()) if c.comment
        ]
        fields: dict[int, str] = {}
        for i, h in enumerate(header):
            f = t.field_for_header(str(h)) if h not in (None, "") else None
            if f is not None and f.name not in fields.values():  # (a second column for a field is not read)
                fields[i] = f.name
        column_of = {name: list(t.fields).index(name) + 1 for name in fields.values()}
        cells[t.name] = []
        for row in ws.iter_rows(min_row=2):
            for i, cell in enumerate(row):
                if cell.value in (None, "") and cell.comment is None:
                    continue
                where = f"sheet '{ws.title}' cell {cell.coordinate}"
                if i not in fields:
                    h = header[i] if i < len(header) else None
                    f = t.field_for_header(str(h)) if h not in (None, "") else None
                    what = (
                        "without a header"
                        if h in (None, "")
                        else f"'{h}', a second column for field {f.label}"
                        if f
                        else f"'{h}', which no field of {t.name} matches"
                    )
                    refusals.append(f"{where} holds a value or note in a column {what}")
                    continue
                value, error = cell.value, cell.data_type == "e"
                # LibreOffice saves a typed TRUE as =TRUE(): a value, not a calculation
                constant = constant_boolean(str(value)) if cell.data_type == "f" else None
                if constant is not None:
                    value = constant
                elif cell.data_type == "f":
                    saved = saved or _open(src, data_only=True)
                    result = saved[ws.title][cell.coordinate]
                    if result.value in (None, ""):
                        refusals.append(f"{where} holds a formula with no saved value (never calculated)")
                        continue
                    value, error = result.value, result.data_type == "e"
                    formulas.append(f"{ws.title}!{cell.coordinate}")
                fmt = (
                    cell.number_format if value not in (None, "") and cell.number_format != "General" else ""
                )
                cells[t.name].append((cell.row, column_of[fields[i]], value, fmt, error, cell.comment))
    for ws in left.values():  # the sheets no table took
        if _fold(ws.title) in (_fold(INSTRUCTIONS), _fold(LISTS)):
            continue  # written afresh from the form: what a reviewer typed there is listed below
        if any(c.value not in (None, "") or c.comment for row in ws.iter_rows() for c in row):
            refusals.append(
                f"sheet '{ws.title}' is not a table of form {form.label} and holds values or notes"
            )
    if refusals:
        shown = "; ".join(refusals[:5]) + (f"; and {len(refusals) - 5} more" if len(refusals) > 5 else "")
        raise ReviewError(
            f"{src}: cannot be carried to form {form.label} without losing values: {shown}. Move those values "
            "into the form's columns (or delete them), unmerge merged cells, open and save the workbook in Excel "
            "or LibreOffice to calculate its formulas, and upgrade again; or upgrade with the form version whose "
            "fields they are."
        )
    sizes = {name: max([r for r, *_ in found], default=1) - 1 for name, found in cells.items()}
    wb = _build(form, str(meta.get("reviewer") or ""), None, DEFAULT_ROWS, sizes)
    listed += _not_rewritten(wb, left)
    if meta.get("created"):  # the extraction's start date stays
        for label, created in wb[INSTRUCTIONS].iter_rows(min_row=3, max_row=8, max_col=2):
            if label.value == "Created":
                put(wb[INSTRUCTIONS], created.row, 2, meta["created"])
    carried = 0
    for t in form.tables.values():
        ws = wb[t.sheet]
        for row, col, value, fmt, error, comment in cells.get(t.name, []):
            if value not in (None, ""):
                cell = put(ws, row, col, value)
                if error:  # #REF!, #N/A: read as an error value, never as text
                    cell.data_type = "e"
                carried += 1
            cell = ws.cell(row=row, column=col)
            if fmt:
                cell.number_format = fmt
            if comment is not None:
                cell.comment = Comment(comment.text, comment.author or "review")
        _print_rows(ws, len(t.fields), sizes.get(t.name, 0))
    made_from = f"{meta.get('form') or '?'} v{meta.get('form version') or '?'}"
    done = [f"carried {carried:,} values from {src.name} (form {made_from}) to form {form.label}"]
    if formulas:
        shown = ", ".join(formulas[:5]) + (f" and {len(formulas) - 5} more" if len(formulas) > 5 else "")
        done.append(f"{len(formulas):,} formulas carried as their saved values: {shown}")
    if listed:
        shown = "; ".join(listed[:10]) + (f"; and {len(listed) - 10} more" if len(listed) > 10 else "")
        done.append(f"not carried (the new form writes these afresh): {shown}")
    return save_workbook(wb, target), done


def _not_rewritten(new: Workbook, left: dict[str, Worksheet]) -> list[str]:
    """What a reviewer typed on the old Instructions and Lists sheets (among `left`, by title) that the new ones
    do not hold (their own notes, a dropdown value added), to be said: not what the old form wrote there (its
    version, its tables' descriptions, the toolkit's own notes)."""
    out = []
    for name in (INSTRUCTIONS, LISTS):
        ws = next((ws for title, ws in left.items() if _fold(title) == _fold(name)), None)
        if ws is None:
            continue
        fresh = new[name]
        known = {str(v) for row in fresh.iter_rows(values_only=True) for v in row if v not in (None, "")}
        for row in ws.iter_rows():
            for c in row:
                beside = name == LISTS or c.column > 2 or c.row > fresh.max_row  # outside the form's own text
                if c.value not in (None, "") and beside and str(c.value) not in known:
                    out.append(f"'{ws.title}'!{c.coordinate} ({str(c.value)[:40]!r})")
                mine = fresh[
                    c.coordinate
                ].comment  # the form's own note there (its author LibreOffice may drop)
                if c.comment is not None and (mine is None or mine.text.strip() != c.comment.text.strip()):
                    out.append(f"the note on '{ws.title}'!{c.coordinate}")
    return out


def _open(path: Path, data_only: bool = False) -> Workbook:
    try:
        with warnings.catch_warnings():  # openpyxl's on merged cells and notes: its callers say what matters
            warnings.simplefilter("ignore", UserWarning)
            return load_workbook(path, data_only=data_only)
    except Exception as exc:  # a corrupt archive or XML (openpyxl raises many kinds)
        raise UnreadableWorkbook(
            f"{path}: cannot be read as .xlsx ({type(exc).__name__}: {exc}); open it in Excel or LibreOffice and "
            "save it again as .xlsx.",
            file=str(path),
        ) from None


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
    wb = _open(source)  # openpyxl parses through defusedxml when it is installed (a dependency here)
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
