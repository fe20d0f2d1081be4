"""The one place that writes workbooks, and the rules for text that never runs, which the CSVs (review.csvs)
share: so the safety rules live once.

- Text is always stored as text, never as a formula. Text a spreadsheet would run when opened or edited (it
  starts with = + - @ tab or carriage return: OWASP's CSV-injection list) is neutralised. In a workbook the cell
  keeps its exact value and gets Excel's "quote prefix" (what typing '=... does), so reading it back gives the
  same text. In a CSV, which has no cell types, such text gets a leading apostrophe (OWASP's advice);
  `unneutral` removes it when the toolkit reads its own CSVs back.
- Real numbers stay numbers: a float or int is written as a number, and text that is a plain number
  ("-1.5", "+3") is left as it is, since no spreadsheet runs it.
- Saves are atomic (review.files.atomic_path): a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from copy import copy
from pathlib import Path
from typing import IO
from zipfile import ZIP_DEFLATED, ZipFile, ZipInfo

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.cell import _writer as _cell_writer
from openpyxl.compat.numbers import NUMERIC_TYPES
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import column_index_from_string, get_column_letter
from openpyxl.utils.datetime import to_excel
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
ITALIC = Font(italic=True)
TITLE = Font(bold=True, size=14)
WRAP = Alignment(wrap_text=True, vertical="top")
TOP = Alignment(vertical="top")
NUMBER_HEADER = Alignment(wrap_text=True, vertical="top", horizontal="right")  # over right-aligned numbers


def header_alignments(frame: pd.DataFrame, numeric: Iterable[str] = ()) -> list[Alignment]:
    """Each column's header alignment: right over a column of numbers (as spreadsheets align them; also the
    columns named in `numeric`, such as percentages), left over text."""
    numeric = set(numeric)
    return [
        NUMBER_HEADER
        if name in numeric
        or (
            pd.api.types.is_numeric_dtype(frame.iloc[:, c])
            and not pd.api.types.is_bool_dtype(frame.iloc[:, c])
        )
        else WRAP
        for c, name in enumerate(frame.columns)
    ]


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

# XML 1.0 cannot hold most control characters (a form feed or vertical tab pasted from a PDF): OOXML writes such a
# character as _xHHHH_ and a literal "_xHHHH_" as "_x005F_xHHHH_", which Excel, LibreOffice, openpyxl and calamine
# all decode back to the text typed, so nothing is lost or refused.
_CONTROL = re.compile(r"[\000-\010\013\014\016-\037]")
_LITERAL_ESCAPE = re.compile(r"_(?=x[0-9A-Fa-f]{4}_)")


def xlsx_text(text: str) -> str:
    """`text` as a workbook cell stores it (OOXML's escapes for control characters); read back, it is `text`."""
    if "_x" in text:
        text = _LITERAL_ESCAPE.sub("_x005F_", text)
    return _CONTROL.sub(lambda m: f"_x{ord(m.group()):04X}_", text)


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
        cell.value = xlsx_text(value)
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
    alignments: Sequence[Alignment] | None = None,
) -> None:
    """A bold, filled header row (one fill per column when `fills` is given; `alignments` likewise)."""
    for col, name in enumerate(names, start=1):
        cell = put(ws, row, col, str(name), font=BOLD, fill=fills[col - 1] if fills else HEADER_FILL)
        if alignments:
            cell.alignment = alignments[col - 1]
        elif wrap:
            cell.alignment = WRAP


def write_frame(
    ws: Worksheet,
    frame: pd.DataFrame,
    *,
    start: int = 1,
    percent: Iterable[str] = (),
    table_name: str = "",
    max_width: int = 60,
    formats: Mapping[str, str] | None = None,
    note: str = "",
) -> None:
    """A frame as a header row and data rows from row `start`; columns named in `percent` (numbers of percent,
    49.3) are shown as percentages. `formats` gives number formats by column (the cell keeps its full
    precision; only what is shown is rounded). With `table_name`, the range becomes an Excel table (filters,
    stripes). Long text wraps (at `max_width`) and its rows grow to show it. A `note` goes in italics one row
    below the table, outside it (what a reader at the end of the rows should know, such as rows left out)."""
    percent = set(percent)
    formats = dict(formats or {})
    header(
        ws, start, [str(c) for c in frame.columns], alignments=header_alignments(frame, [*percent, *formats])
    )
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
                cell.alignment = TOP
            else:
                cell = put(ws, r, c, value)
                name = frame.columns[c - 1]
                if name in formats and isinstance(value, (int, float)) and not isinstance(value, bool):
                    cell.number_format = formats[name]
                elif isinstance(value, str) and len(value) > max_width - 2:
                    cell.alignment = WRAP
                    continue
                cell.alignment = TOP  # a row grown for wrapped text reads from the top
    for c, name in enumerate(frame.columns, start=1):
        longest = max([len(str(name))] + [len(str(v)) for v in frame.iloc[:200, c - 1].tolist()])
        if name in formats:  # shown rounded: as wide as the rounded text
            longest = max(len(str(name)), format_width(formats[name]) + 4)
        # a column of long notes gets a wide column rather than rows taller than a page
        cap = LONG_TEXT_WIDTH if longest > 8 * max_width else max_width
        ws.column_dimensions[get_column_letter(c)].width = min(max(10, longest + 2), cap)
    if note:
        put(ws, start + len(frame) + 2, 1, note, font=ITALIC)
    fit_rows(ws, start)
    ws.freeze_panes = ws.cell(row=start + 1, column=1)
    if table_name and len(frame) and len(frame.columns):
        ref = f"A{start}:{get_column_letter(len(frame.columns))}{start + len(frame)}"
        name = "t_" + "".join(ch for ch in table_name if ch.isalnum())[:40]
        table = ExcelTable(displayName=name, ref=ref)
        table.tableStyleInfo = TableStyleInfo(name="TableStyleLight9", showRowStripes=True)
        ws.add_table(table)


# --- streamed workbooks ------------------------------------------------------------------------------------------
# openpyxl's write-only mode writes each row as it is appended, so a sheet of hundreds of thousands of rows never
# sits in memory cell by cell. Cells come from `streamed_cell` with the rules of `put`; each style (font, fill,
# alignment, number format, quote prefix) is made once per workbook and shared, not built again for every cell.


def _style(ws, font=None, fill=None, alignment=None, number_format: str = "", quote: bool = False):
    """The workbook's shared style array for this combination (made once, then looked up)."""
    book = ws.parent
    cache = book.__dict__.setdefault("_review_styles", {})
    # keyed by identity: hashing openpyxl's style objects costs more than the cell; the value keeps them alive
    key = (id(font), id(fill), id(alignment), number_format, quote)
    if key not in cache:
        template = WriteOnlyCell(ws)
        if font is not None:
            template.font = font
        if fill is not None:
            template.fill = fill
        if alignment is not None:
            template.alignment = alignment
        if number_format:
            template.number_format = number_format
        if quote:
            template.quotePrefix = True
        cache[key] = (template._style, (font, fill, alignment))
    return cache[key][0]


def _fill_cell(cell, ws, value: object, where, **style) -> None:
    """Give a write-only cell `value` (already `plain`) with the rules of `put` and its shared style."""
    if isinstance(value, str):
        if len(value) > MAX_CELL_CHARS:
            raise ReviewError(
                f"sheet '{ws.title}', cell {where()}: {len(value):,} characters of text is more than the "
                f"{MAX_CELL_CHARS:,} a spreadsheet cell holds; shorten it in the input."
            )
        cell.value = xlsx_text(value)
        cell.data_type = "s"
        cell._style = _style(ws, quote=runs(value), **style)
    else:
        cell.value = value
        cell._style = _style(ws, **style)


def streamed_cell(ws, value: object, *, font=None, fill=None, alignment=None, number_format: str = ""):
    """One cell for a write-only sheet's `append`, with the rules of `put` (text is text, quote-prefixed where
    it would run; numbers are numbers; missing is None, an empty cell)."""
    value = plain(value)
    if value is None:
        return None
    cell = WriteOnlyCell(ws)
    row = getattr(ws, "_max_row", 0) + 1
    _fill_cell(
        cell,
        ws,
        value,
        lambda: f"row {row}",
        font=font,
        fill=fill,
        alignment=alignment,
        number_format=number_format,
    )
    cell._style = copy(cell._style)  # its own: the caller may restyle it
    return cell


# --- data rows written as SpreadsheetML ---------------------------------------------------------------------------
# openpyxl makes, styles and serialises an object per cell (about 20 us a cell; a large review's workbooks hold a
# million cells). The data rows of a big sheet are written here instead, column by column, as the same XML that
# openpyxl writes for them: inline strings with the text escaped (& < >), xml:space="preserve" where openpyxl puts
# it, numbers as their shortest exact text (`_exact_string`), booleans as t="b", and the workbook's own style
# ids, registered in the order openpyxl would register them writing row by row. The rows are kept in a temporary
# file and put into the sheet's XML by `save_workbook`, after the rows openpyxl wrote (the header). XlsxWriter,
# the fastest maintained writer, still costs 5-10 us a cell in pure Python; no library writes a column at once.

_ROWS = "_review_rows"  # workbook attribute: the SheetRows to put into its sheets when saved
_DEFERRED = "_review_deferred"  # workbook attribute: SheetRows to render when saved (an in-memory workbook)
_ROW_CHUNK = 20_000  # rows rendered at a time: a sheet of every row of a large review stays small in memory


def _xml_text(text: str) -> str:
    """A text cell's content as openpyxl writes it (ElementTree's escaping; spaces kept where it keeps them)."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    stripped = text.strip()
    if stripped and stripped != text:
        return f' t="inlineStr"><is><t xml:space="preserve">{escaped}</t></is></c>'
    return f' t="inlineStr"><is><t>{escaped}</t></is></c>'


TEXT_EMPTY = ' t="inlineStr" />'  # an empty text cell
STYLE_ONLY = ' t="n" />'  # a cell with a style and no value (a format for what is typed later)


def text_body(sheet: str, text: str, where: Callable[[], str]) -> str:
    """The XML of a text cell after its reference and style, refusing what a cell cannot hold."""
    if len(text) > MAX_CELL_CHARS:  # Excel would cut it short on opening: refuse rather than lose text
        raise ReviewError(
            f"sheet '{sheet}', cell {where()}: {len(text):,} characters of text is more than the "
            f"{MAX_CELL_CHARS:,} a spreadsheet cell holds; shorten it in the input."
        )
    return _xml_text(xlsx_text(text)) if text else TEXT_EMPTY


def number_body(value: object) -> str:
    """The XML of a number cell after its reference and style."""
    return f' t="n"><v>{_exact_string(value)}</v></c>'


class SheetRows:
    """Data rows of one sheet from row `first`, given a column at a time: per row a style (a StyleArray, None for
    none) and the cell's XML after its reference and style (`text_body`, `number_body`, `STYLE_ONLY`; None: no
    cell). `finish` renders them; `save_workbook` puts them into the sheet. A row of `heights` gets that height."""

    def __init__(self, ws, first: int, count: int) -> None:
        self.ws, self.first, self.count = ws, first, count
        self.columns: list[tuple[int, list, list]] = []
        self.lines: dict[int, int] = {}  # row index (0-based) -> lines of wrapped text
        self.heights: dict[int, float] = {}  # row index (0-based) -> points
        self.dimension = ""  # the sheet's used range, for a sheet that states it (an in-memory workbook's)
        self.file: IO[bytes] | None = None

    def column(self, styles: list, bodies: list[str | None], number: int | None = None) -> None:
        number = number or (self.columns[-1][0] + 1 if self.columns else 1)
        self.columns.append((number, styles, bodies))

    def defer(self) -> None:
        """Render when the workbook is saved: an in-memory workbook registers its cells' styles as it writes
        them, sheet by sheet, and these rows' styles come after the cells openpyxl holds for this sheet."""
        self.ws.parent.__dict__.setdefault(_DEFERRED, []).append(self)

    def finish(self) -> None:
        book = self.ws.parent
        # style ids in the order openpyxl gives them: by each style's first cell, row by row
        first_use = []
        for number, styles, bodies in self.columns:
            ids = [id(s) if b is not None else 0 for s, b in zip(styles, bodies, strict=True)]
            for key in dict.fromkeys(ids):
                first = ids.index(key) if key else -1
                style = styles[first] if key else None
                if style is not None and any(style):  # an all-default style is no style (openpyxl)
                    first_use.append((first, number, style))
        attribute = {0: ""}
        for _, _, style in sorted(first_use, key=lambda t: t[:2]):
            attribute[id(style)] = f' s="{book._cell_styles.add(style)}"'
        columns = sorted(self.columns, key=lambda t: t[0])
        self.file = file = tempfile.TemporaryFile()
        heights = {i: f' ht="{h}" customHeight="1"' for i, h in self.heights.items()}
        for start in range(0, self.count, _ROW_CHUNK):
            stop = min(start + _ROW_CHUNK, self.count)
            rows = range(self.first + start, self.first + stop)
            cells = [
                [
                    "" if b is None else f'<c r="{letter}{r}"{attribute.get(id(s), "")}{b}'
                    for r, s, b in zip(rows, styles[start:stop], bodies[start:stop], strict=True)
                ]
                for letter, styles, bodies in ((get_column_letter(n), st, bo) for n, st, bo in columns)
            ]
            out = (
                [
                    f'<row r="{r}"{heights.get(i, "")}>' + "".join(row) + "</row>"
                    for i, r, row in zip(range(start, stop), rows, zip(*cells, strict=True), strict=True)
                ]
                if cells
                else [
                    f'<row r="{r}"{heights.get(i, "")}></row>'
                    for i, r in zip(range(start, stop), rows, strict=True)
                ]
            )
            file.write("".join(out).encode("utf-8"))
        self.columns = []
        book.__dict__.setdefault(_ROWS, []).append(self)


def _frame_column(
    items: list,
    sheet: str,
    letter: str,
    text_styles: Mapping[tuple[bool, bool], object],
    number_style,
    top,
    scale: int,
    wrap_from: int,
    width: float,
) -> tuple[list, list[str | None], dict[int, int]]:
    """One column of `stream_frame`'s data rows: (styles, cell XML, lines of wrapped text by row), each distinct
    value worked out once, with the rules of `put` (text is text, quote-prefixed where it would run; numbers are
    numbers; missing is no cell). A number of a percent column (scale 100) is stored as a fraction."""
    memo: dict[object, tuple[object, str | None, int]] = {}
    styles: list = []
    bodies: list[str | None] = []
    lines: dict[int, int] = {}
    for i, x in enumerate(items):
        t = type(x)
        # by value and type (1, 1.0 and True apart), a float zero by its sign too (0.0 == -0.0)
        key = (
            x
            if t is str
            else (t, x)
            if t is int or (t is float and x)
            else (t, str(x))
            if t is float
            else None
        )
        hit = memo.get(key) if key is not None else None
        if hit is None:
            where = lambda i=i: f"{letter}{i + 2}"  # noqa: E731
            style, body = _frame_cell(x, sheet, where, text_styles, wrap_from, number_style, top, scale)
            n = line_count(x, width) if t is str and style is not None and len(x) > wrap_from else 1
            hit = (style, body, n)
            if key is not None and key == key:  # NaN is not equal to itself: never a key
                memo[key] = hit
        styles.append(hit[0])
        bodies.append(hit[1])
        if hit[2] > 1:
            lines[i] = hit[2]
    return styles, bodies, lines


def _frame_cell(
    x, sheet, where, text_styles, wrap_from, number_style, top, scale
) -> tuple[object, str | None]:
    value = plain(x)
    if value is None:
        return None, None
    if isinstance(value, str):
        return text_styles[(len(value) > wrap_from, runs(value))], text_body(sheet, value, where)
    if isinstance(value, bool):
        return top, f' t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float)):
        return number_style, number_body(value / scale if scale != 1 else value)
    return top, other_body(sheet, value, where)


def other_body(sheet: str, value: object, where: Callable[[], str]) -> str:
    """A date, time or other number kind as openpyxl writes it (a date as Excel's day number)."""
    if isinstance(value, (dt.datetime, dt.date, dt.time, dt.timedelta)):
        if getattr(value, "tzinfo", None) is not None:
            raise ReviewError(
                f"sheet '{sheet}', cell {where()}: {value} has a time zone, which a workbook cannot store; "
                "give it without one (in UTC)."
            )
        return number_body(to_excel(value))
    if isinstance(value, NUMERIC_TYPES):
        return number_body(value)
    raise ReviewError(f"sheet '{sheet}', cell {where()}: {value!r} is not a value a workbook can store.")


def line_count(text: str, width: float, size: float = 11) -> int:
    """Lines a wrapped text needs at a column width (as `fit_rows` counts them)."""
    per_line = max(1.0, width * 1.1 * 11 / size)
    lines = sum(max(1, math.ceil(len(part) / per_line)) for part in text.split("\n"))
    return max(lines, math.ceil(size / 11))


def stream_frame(
    ws,
    frame: pd.DataFrame,
    *,
    percent: Iterable[str] = (),
    table_name: str = "",
    max_width: int = 60,
    formats: Mapping[str, str] | None = None,
    note: str = "",
    **page,
) -> None:
    """`write_frame` + `print_setup(ws, **page)` for a write-only sheet (`Workbook(write_only=True)`): the same
    cells, styles, widths, row heights, frozen header, table and print setup, from row 1. A streamed sheet writes
    its columns and panes before its rows, so widths are worked out first, from the first 200 rows (as
    `write_frame`). The header is an openpyxl row; the data rows are written as XML a column at a time
    (`SheetRows`, put into the sheet by `save_workbook`), each row as tall as its longest wrapped text."""
    percent = set(percent)
    formats = dict(formats or {})
    names = [str(c) for c in frame.columns]
    widths = []
    for c, name in enumerate(frame.columns, start=1):
        longest = max([len(str(name))] + [len(str(v)) for v in frame.iloc[:200, c - 1].tolist()])
        if name in formats:
            longest = max(len(str(name)), format_width(formats[name]) + 4)
        cap = LONG_TEXT_WIDTH if longest > 8 * max_width else max_width
        widths.append(min(max(10, longest + 2), cap))
        ws.column_dimensions[get_column_letter(c)].width = widths[-1]
    ws.freeze_panes = "A2"
    print_setup(ws, **page)

    def height(lines: int, row: int) -> None:
        if lines > 1:
            ws.row_dimensions[row].height = min(lines * LINE_POINTS, MAX_ROW_POINTS)

    head = [WriteOnlyCell(ws) for _ in names]
    aligned = header_alignments(frame, [*percent, *formats])
    for c, (cell, name) in enumerate(zip(head, names, strict=True)):
        _fill_cell(
            cell,
            ws,
            name,
            lambda c=c: f"{get_column_letter(c + 1)}1",
            font=BOLD,
            fill=HEADER_FILL,
            alignment=aligned[c],
        )
    height(max([line_count(n, w) for n, w in zip(names, widths, strict=True)] or [1]), 1)
    ws.append(head)
    # The data rows are written as SpreadsheetML column by column (`_frame_column`) rather than as openpyxl cells:
    # the cell objects cost about 20 us a cell, most of a large review's workbook time.
    top, wrap = _style(ws, alignment=TOP), _style(ws, alignment=WRAP)
    text_styles = {
        (False, False): top,
        (True, False): wrap,
        (False, True): _style(ws, alignment=TOP, quote=True),
        (True, True): _style(ws, alignment=WRAP, quote=True),
    }
    numbers = [  # the style of a number in each column: percent, a number format, or plain
        _style(ws, alignment=TOP, number_format="0.0%")
        if name in percent
        else _style(ws, alignment=TOP, number_format=formats[name])
        if name in formats
        else top
        for name in frame.columns
    ]
    rows = SheetRows(ws, first=2, count=len(frame) + (2 if note else 0))
    wrap_from = max_width - 2
    for c, name in enumerate(frame.columns):
        styles, bodies, lines = _frame_column(
            frame.iloc[:, c].tolist(),
            ws.title,
            get_column_letter(c + 1),
            text_styles,
            numbers[c],
            top,
            100 if name in percent else 1,
            wrap_from,
            widths[c],
        )
        if note:  # an empty row, then the note in the first column
            first = c == 0
            styles += [None, _style(ws, font=ITALIC) if first else None]
            bodies += [None, text_body(ws.title, note, lambda: f"A{len(frame) + 3}") if first else None]
        rows.column(styles, bodies)
        for i, n in lines.items():
            rows.lines[i] = max(rows.lines.get(i, 1), n)
    rows.heights = {i: min(n * LINE_POINTS, MAX_ROW_POINTS) for i, n in rows.lines.items() if n > 1}
    rows.finish()
    if table_name and len(frame) and len(frame.columns):
        ref = f"A1:{get_column_letter(len(frame.columns))}{1 + len(frame)}"
        table = ExcelTable(displayName="t_" + "".join(ch for ch in table_name if ch.isalnum())[:40], ref=ref)
        table.tableStyleInfo = TableStyleInfo(name="TableStyleLight9", showRowStripes=True)
        table._initialise_columns()  # a streamed sheet cannot be read back for its header: named here
        for column, name in zip(table.tableColumns, names, strict=True):
            column.name = name
        with warnings.catch_warnings():  # openpyxl's reminder to do what the lines above did
            warnings.filterwarnings("ignore", "In write-only mode you must add table columns manually")
            ws.add_table(table)


def format_width(number_format: str) -> int:
    """How wide a number format shows its numbers: its code's length, or for a format of sections with conditions
    ('[=0]0.0000;[<0.0001]"<0.0001";0.0000') that of its widest section without conditions and quotes."""
    if ";" not in number_format and "[" not in number_format:
        return len(number_format)
    sections = (re.sub(r'\[[^\]]*\]|"', "", part) for part in number_format.split(";"))
    return max(len(part) for part in sections)


@contextlib.contextmanager
def discard_on_error(wb: Workbook) -> Iterator[Workbook]:
    """Around filling a workbook: if an error stops it (text a cell cannot hold, say), a write-only workbook's
    sheets, each streaming its XML into a temporary file, are closed and their files removed at once, rather
    than left open until Python exits (a notebook's kernel lives long)."""
    try:
        yield wb
    except BaseException:
        if wb.write_only:
            for ws in wb.worksheets:
                rows, writer = getattr(ws, "_rows", None), getattr(ws, "_writer", None)
                if rows is not None:
                    rows.close()  # ends </sheetData> while the stream is still open
                if writer is not None:
                    writer.close()
                    Path(writer.out).unlink(missing_ok=True)
        raise


def save_workbook(wb: Workbook, path: str | Path) -> Path:
    """Save atomically: the target is replaced only once the whole workbook is written. Rows written as XML
    (`SheetRows`) are put into their sheets: openpyxl saves the workbook, then each such sheet is copied with
    its rows added at the end of its sheetData."""
    path = Path(path)
    deferred = {id(rows.ws): rows for rows in wb.__dict__.pop(_DEFERRED, [])}
    if deferred:  # style ids in the order openpyxl's writer gives them: sheet by sheet, cell by cell
        for ws in wb.worksheets:
            for key in sorted(ws._cells):
                if ws._cells[key].has_style:
                    ws._cells[key].style_id  # noqa: B018 (registers the cell's style)
            if id(ws) in deferred:
                deferred[id(ws)].finish()
    spliced = wb.__dict__.pop(_ROWS, [])
    with atomic_path(path) as tmp:
        if not spliced:
            wb.save(tmp)
            return path
        with tempfile.TemporaryFile() as raw:
            wb.save(raw)
            raw.seek(0)
            _add_rows(raw, tmp, {rows.ws.path.lstrip("/"): rows for rows in spliced})
    return path


def _add_rows(raw, target: Path, rows_of: Mapping[str, SheetRows]) -> None:
    with ZipFile(raw) as source, ZipFile(target, "w", ZIP_DEFLATED, allowZip64=True) as out:
        for info in source.infolist():
            data = source.read(info)
            rows = rows_of.get(info.filename)
            if rows is None:
                out.writestr(info, data)
                continue
            if rows.dimension:
                data = re.sub(
                    rb'<dimension ref="[^"]*" />', f'<dimension ref="{rows.dimension}" />'.encode(), data
                )
            data = data.replace(b"<sheetData />", b"<sheetData></sheetData>", 1)
            cut = data.index(b"</sheetData>")
            member = ZipInfo(info.filename, info.date_time)
            member.compress_type = ZIP_DEFLATED
            assert rows.file is not None
            size = rows.file.seek(0, 2)
            rows.file.seek(0)
            with out.open(member, "w", force_zip64=size + len(data) > 2**30) as sheet:
                sheet.write(data[:cut])
                shutil.copyfileobj(rows.file, sheet, 1 << 20)
                sheet.write(data[cut:])
            rows.file.close()


# --- print setup ----------------------------------------------------------------------------------------------
# Page layout, headers and footers for printed (or PDF) sheets belong here, next to the other styles, so every
# workbook prints the same way.


# A4 at 100%: about 130 characters of Calibri 11 across a landscape page and 90 down a portrait one, with the
# margins below. A sheet is shrunk to fit the page width only down to MIN_SCALE (about 7 pt text); a wider
# sheet prints across more pages, its first columns (the row's key) repeated, rather than unreadably small.
PORTRAIT_CHARS, LANDSCAPE_CHARS, MIN_SCALE = 90, 130, 0.65
LINE_POINTS = 15  # height of one line of 11 pt text
MAX_ROW_POINTS = 409  # Excel's tallest row; longer text is cut on paper only (the cell keeps it whole)
LONG_TEXT_WIDTH = 100


def print_setup(
    ws: Worksheet,
    *,
    title: str = "",
    header_rows: int = 1,
    key_columns: int = 0,
    portrait: bool | None = None,
    subtitle: str = "",
) -> None:
    """Page setup for printing or PDF: A4, portrait when the columns fit across a portrait page and landscape
    otherwise, shrunk to the page width within readable limits, the header row(s) (and `key_columns`) repeated
    on every page, margins, and a header and footer with `title` (form and version) on the left, `subtitle`
    (shortened) in the middle, the sheet on the right and "page N of M" below. Call after the column widths are set."""
    width = sheet_width(ws)
    if portrait is None:
        portrait = width <= PORTRAIT_CHARS
    across = PORTRAIT_CHARS if portrait else LANDSCAPE_CHARS
    ws.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    ws.page_setup.orientation = "portrait" if portrait else "landscape"
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = max(1, math.ceil(width / (across / MIN_SCALE)))
    ws.page_setup.fitToHeight = 0  # as many pages down as the rows need
    ws.page_setup.pageOrder = "overThenDown"  # a wide row's continuation is the next page
    ws.print_options.gridLines = False
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.page_margins.top = ws.page_margins.bottom = 0.75
    ws.page_margins.header = ws.page_margins.footer = 0.3
    if header_rows:
        ws.print_title_rows = f"1:{header_rows}"
    if key_columns and ws.page_setup.fitToWidth > 1:
        ws.print_title_cols = f"A:{get_column_letter(key_columns)}"
    ws.oddHeader.left.text = _hf(title)
    ws.oddHeader.left.size = 9
    if subtitle and portrait:  # too narrow for three sections: the subtitle goes to the footer
        ws.oddFooter.left.text = _hf(_short(subtitle, 70))
        ws.oddFooter.left.size = 9
    elif subtitle:
        ws.oddHeader.center.text = _hf(_short(subtitle, 60))
        ws.oddHeader.center.size = 9
    ws.oddHeader.right.text = "&A"  # the sheet's name
    ws.oddHeader.right.size = 9
    page = ws.oddFooter.right if subtitle and portrait else ws.oddFooter.center
    page.text, page.size = "Page &P of &N", 9


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def _hf(text: str) -> str:
    """Text for a page header or footer: '&' starts a code there, so it is doubled."""
    return text.replace("&", "&&")[:120]


def sheet_width(ws: Worksheet) -> float:
    """The sheet's width in characters: the visible columns' widths (Excel's default 8.43 where unset)."""
    # a streamed (write-only) sheet has no cells to count before it is written: its widths set its columns
    last = (
        ws.max_column
        if hasattr(ws, "max_column")
        else max((column_index_from_string(k) for k in ws.column_dimensions), default=0)
    )
    total = 0.0
    for col in range(1, last + 1):
        dim = ws.column_dimensions.get(get_column_letter(col))
        if dim is not None and dim.hidden:
            continue
        total += dim.width if dim is not None and dim.width else 8.43
    return total


def fit_rows(ws: Worksheet, first: int = 1, last: int | None = None) -> None:
    """Row heights that show wrapped text whole (Excel and LibreOffice do not grow a row written by a program):
    the most lines any wrapped cell of the row needs at its column's (or merged range's) width."""
    widths: dict[tuple[int, int], float] = {}
    for merged in ws.merged_cells.ranges:
        span = sum(
            (ws.column_dimensions[get_column_letter(c)].width or 8.43)
            for c in range(merged.min_col, merged.max_col + 1)
        )
        widths[(merged.min_row, merged.min_col)] = span
    for row in ws.iter_rows(min_row=first, max_row=last or ws.max_row):
        lines = 1
        for cell in row:
            if not isinstance(cell.value, str) or not (cell.alignment and cell.alignment.wrap_text):
                continue
            width = widths.get((cell.row, cell.column)) or (
                ws.column_dimensions[get_column_letter(cell.column)].width or 8.43
            )
            size = (cell.font.size or 11) if cell.font else 11
            per_line = max(1.0, width * 1.1 * 11 / size)  # characters per line at this width and font size
            lines = max(
                lines, sum(max(1, math.ceil(len(part) / per_line)) for part in cell.value.split("\n"))
            )
            lines = max(lines, math.ceil(size / 11))
        if lines > 1 or any(c.font and c.font.size and c.font.size > 11 for c in row if c.value is not None):
            size = max([(c.font.size or 11) for c in row if c.value is not None and c.font] or [11])
            height = lines * LINE_POINTS * max(1.0, size / 11)
            ws.row_dimensions[row[0].row].height = min(height, MAX_ROW_POINTS)
