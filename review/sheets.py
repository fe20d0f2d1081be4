"""The one place that writes workbooks and CSV files: styles, text that never runs, the CSV dialect.

Every .xlsx and .csv the toolkit makes goes through here, so the safety rules live once:

- Text is always stored as text, never as a formula. Text a spreadsheet would run when opened or edited (it
  starts with = + - @ tab or carriage return: OWASP's CSV-injection list) is neutralised. In a workbook the cell
  keeps its exact value and gets Excel's "quote prefix" (what typing '=... does), so reading it back gives the
  same text. In a CSV, which has no cell types, such text gets a leading apostrophe (OWASP's advice);
  `unneutral` removes it when the toolkit reads its own CSVs back.
- Real numbers stay numbers: a float or int is written as a number, and text that is a plain number
  ("-1.5", "+3") is left as it is, since no spreadsheet runs it.
- One CSV dialect: UTF-8 without a byte-order mark, comma-separated, "\n" line ends, minimal quoting, empty
  cells for missing values and floats as their shortest exact text: what R's read.csv (and pandas, and Excel)
  read as they are.
- Saves are atomic (review.files.atomic_path): a reader never sees half a file.
"""

from __future__ import annotations

import csv
import io
import math
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.cell import _writer as _cell_writer
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.table import Table as ExcelTable
from openpyxl.worksheet.table import TableStyleInfo
from openpyxl.worksheet.worksheet import Worksheet

from .errors import ReviewError
from .files import MAX_CELL_CHARS, atomic_path

# --- styles: one palette for every workbook -------------------------------------------------------------------

HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")  # an ordinary column header
KEY_FILL = PatternFill("solid", fgColor="9BC2E6")  # a column that identifies the row
REQUIRED_FILL = PatternFill("solid", fgColor="F8CBAD")  # a column that must be filled
DECISION_FILL = PatternFill("solid", fgColor="FFF2CC")  # where the adjudicator types
STALE_FILL = PatternFill("solid", fgColor="FFC7CE")
ERROR_FILL = PatternFill("solid", fgColor="FFC7CE")
WARNING_FILL = PatternFill("solid", fgColor="FFEB9C")
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=14)
WRAP = Alignment(wrap_text=True, vertical="top")


# --- text that must never run -----------------------------------------------------------------------------------

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_ESCAPED = re.compile(r"^'+[=+\-@\t\r]")  # apostrophes before a formula start: ours (one) or the user's


def runs(text: str) -> bool:
    """True for text a spreadsheet would take as a formula: starts with = + - @ tab or CR, not a plain number."""
    return text.startswith(FORMULA_START) and not _PLAIN_NUMBER.match(text)


def neutral(text: str) -> str:
    """Text as written to a CSV: a leading apostrophe before text that would run (and before text that already
    starts with apostrophes and then a formula start, so that `unneutral` gives back exactly what was written)."""
    return "'" + text if runs(text) or _ESCAPED.match(text) else text


def unneutral(text: str) -> str:
    """The inverse of `neutral`, for reading the toolkit's own CSVs back."""
    return text[1:] if _ESCAPED.match(text) else text


def is_missing(value: object) -> bool:
    return (
        value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))
    )


def plain(value: object) -> object:
    """A frame's cell as a plain Python value (numpy scalars unwrapped), None for missing."""
    if is_missing(value):
        return None
    return value.item() if hasattr(value, "item") and not isinstance(value, (str, bytes)) else value


# --- workbooks --------------------------------------------------------------------------------------------------

# openpyxl writes every number as "%.16g": a double needs up to 17 digits, so 0.1 + 0.2 would come back as 0.3,
# the largest double as "inf" (invalid XML), and whole numbers past 16 digits rounded. Numbers are written as
# their shortest exact text instead (repr), which Excel, LibreOffice and calamine read back to the same double.
_openpyxl_string = _cell_writer.safe_string


def _exact_string(value: object) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return repr(float(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return str(int(value))
    return _openpyxl_string(value)


_cell_writer.safe_string = _exact_string


def put(ws: Worksheet, row: int, col: int, value: object, *, font: Font | None = None, fill=None) -> Cell:
    """Write one cell. Text is text (never a formula; quote-prefixed where it would run), numbers are numbers,
    missing is an empty cell."""
    value = plain(value)
    cell = ws.cell(row=row, column=col)
    if isinstance(value, str):
        if len(value) > MAX_CELL_CHARS:  # Excel would cut it short on opening: refuse rather than lose text
            raise ReviewError(
                f"sheet '{ws.title}', cell {cell.coordinate}: {len(value):,} characters of text is more than the "
                f"{MAX_CELL_CHARS:,} a spreadsheet cell holds; shorten it in the input."
            )
        cell.value = value
        cell.data_type = "s"
        if runs(value):
            cell.quotePrefix = True
    else:
        cell.value = value
    if font is not None:
        cell.font = font
    if fill is not None:
        cell.fill = fill
    return cell


def put_row(ws: Worksheet, row: int, values: Iterable[object], *, start: int = 1) -> None:
    for col, value in enumerate(values, start=start):
        put(ws, row, col, value)


def header(
    ws: Worksheet,
    row: int,
    names: Sequence[str],
    *,
    fills: Sequence[PatternFill] | None = None,
    wrap: bool = True,
) -> None:
    """A bold, filled header row (one fill per column when `fills` is given)."""
    for col, name in enumerate(names, start=1):
        cell = put(ws, row, col, str(name), font=BOLD, fill=fills[col - 1] if fills else HEADER_FILL)
        if wrap:
            cell.alignment = WRAP


def write_frame(
    ws: Worksheet,
    frame: pd.DataFrame,
    *,
    start: int = 1,
    percent: Iterable[str] = (),
    table_name: str = "",
    max_width: int = 60,
) -> None:
    """A frame as a header row and data rows from row `start`; columns named in `percent` (numbers of percent,
    49.3) are shown as percentages. With `table_name`, the range becomes an Excel table (filters, stripes)."""
    percent = set(percent)
    header(ws, start, [str(c) for c in frame.columns])
    for r, record in enumerate(frame.itertuples(index=False), start=start + 1):
        for c, value in enumerate(record, start=1):
            value = plain(value)
            if value is None:
                continue
            if (
                frame.columns[c - 1] in percent
                and isinstance(value, (int, float))
                and not isinstance(value, bool)
            ):
                cell = put(ws, r, c, value / 100)
                cell.number_format = "0.0%"
            else:
                put(ws, r, c, value)
    for c, name in enumerate(frame.columns, start=1):
        longest = max([len(str(name))] + [len(str(v)) for v in frame.iloc[:200, c - 1].tolist()])
        ws.column_dimensions[get_column_letter(c)].width = min(max(10, longest + 2), max_width)
    ws.freeze_panes = ws.cell(row=start + 1, column=1)
    if table_name and len(frame) and len(frame.columns):
        ref = f"A{start}:{get_column_letter(len(frame.columns))}{start + len(frame)}"
        name = "t_" + "".join(ch for ch in table_name if ch.isalnum())[:40]
        table = ExcelTable(displayName=name, ref=ref)
        table.tableStyleInfo = TableStyleInfo(name="TableStyleLight9", showRowStripes=True)
        ws.add_table(table)


def stream_cell(ws, value: object, *, font: Font | None = None, fill=None, alignment=None, number_format=""):
    """A cell for a write-only worksheet (openpyxl's streaming mode), with the rules of `put`; plain values
    that need no style are returned as they are (the cheapest thing to append)."""
    value = plain(value)
    if isinstance(value, str) and len(value) > MAX_CELL_CHARS:  # as put: refuse rather than lose text
        raise ReviewError(
            f"sheet '{ws.title}': {len(value):,} characters of text is more than the {MAX_CELL_CHARS:,} a "
            "spreadsheet cell holds; shorten it in the input."
        )
    if font is None and fill is None and alignment is None and not number_format:
        if not isinstance(value, str) or not runs(value):
            return value
    cell = WriteOnlyCell(ws, value)
    if isinstance(value, str):
        cell.data_type = "s"
        if runs(value):
            cell.quotePrefix = True
    if font is not None:
        cell.font = font
    if fill is not None:
        cell.fill = fill
    if alignment is not None:
        cell.alignment = alignment
    if number_format:
        cell.number_format = number_format
    return cell


def stream_frame(
    ws,
    frame: pd.DataFrame,
    *,
    before: Sequence[Sequence[object]] = (),
    percent: Iterable[str] = (),
    table_name: str = "",
    max_width: int = 60,
) -> None:
    """`write_frame` for a write-only worksheet (`Workbook(write_only=True)`): the same cells, styles, widths,
    frozen header and table, appended row by row. Streaming keeps memory flat and is about twice as fast for
    the hundreds of thousands of rows of a large review. `before`: rows above the header (e.g. a note)."""
    percent = set(percent)
    for c, name in enumerate(frame.columns, start=1):  # a streamed sheet writes its columns before its rows
        longest = max([len(str(name))] + [len(str(v)) for v in frame.iloc[:200, c - 1].tolist()])
        ws.column_dimensions[get_column_letter(c)].width = min(max(10, longest + 2), max_width)
    start = len(before) + 1
    ws.freeze_panes = f"A{start + 1}"
    for row in before:
        ws.append(row)
    ws.append([stream_cell(ws, str(c), font=BOLD, fill=HEADER_FILL, alignment=WRAP) for c in frame.columns])
    scaled = [c in percent for c in frame.columns]
    for record in frame.itertuples(index=False):
        out = []
        for value, pct in zip(record, scaled, strict=True):
            value = plain(value)
            if pct and isinstance(value, (int, float)) and not isinstance(value, bool):
                out.append(stream_cell(ws, value / 100, number_format="0.0%"))
            else:
                out.append(stream_cell(ws, value))
        ws.append(out)
    if table_name and len(frame) and len(frame.columns):
        ref = f"A{start}:{get_column_letter(len(frame.columns))}{start + len(frame)}"
        name = "t_" + "".join(ch for ch in table_name if ch.isalnum())[:40]
        table = ExcelTable(displayName=name, ref=ref)
        table.tableStyleInfo = TableStyleInfo(name="TableStyleLight9", showRowStripes=True)
        table._initialise_columns()  # a streamed sheet cannot be read back for its header: name them here
        for column, header_text in zip(table.tableColumns, frame.columns, strict=True):
            column.name = str(header_text)
        with warnings.catch_warnings():  # openpyxl's reminder to do what the lines above did
            warnings.filterwarnings("ignore", "In write-only mode you must add table columns manually")
            ws.add_table(table)


def save_workbook(wb: Workbook, path: str | Path) -> Path:
    """Save atomically: the target is replaced only once the whole workbook is written."""
    path = Path(path)
    with atomic_path(path) as tmp:
        wb.save(tmp)
    return path


# --- print setup ----------------------------------------------------------------------------------------------
# Page layout, headers and footers for printed (or PDF) sheets belong here, next to the other styles, so every
# workbook prints the same way.


def print_setup(ws: Worksheet) -> None:
    """Printed or saved as PDF, a sheet fits the page width instead of spilling columns onto extra pages."""
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.page_setup.orientation = "landscape"


# --- CSV ------------------------------------------------------------------------------------------------------


def csv_text(value: object) -> str:
    """One value as CSV text: empty for missing, floats as their shortest exact text, text neutralised."""
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    return neutral(str(value))


def csv_bytes(frame: pd.DataFrame, show: Callable[[object], object] | None = None) -> bytes:
    """The frame in the project's CSV dialect. `show` turns each value into what is written first (it may return
    text or a number); text is neutralised either way."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([neutral(str(c)) for c in frame.columns])
    for record in frame.itertuples(index=False):
        writer.writerow([csv_text(show(v) if show else v) for v in record])
    return buffer.getvalue().encode("utf-8")


def write_csv(frame: pd.DataFrame, path: str | Path, show: Callable[[object], object] | None = None) -> Path:
    """Write `frame` as CSV (the project's dialect), atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(csv_bytes(frame, show))
    return path
