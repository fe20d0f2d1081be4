"""The writers the exports used before their data rows were written as XML (issue 12), kept as oracles: the
new writers must give the same workbook. Copied from review/sheets.py and review/adjudication.py as they were;
used by tests/test_export_writers.py only."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping

import pandas as pd
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.table import Table as ExcelTable
from openpyxl.worksheet.table import TableStyleInfo

from review.errors import ReviewError
from review.files import MAX_CELL_CHARS
from review.sheets import (
    BOLD,
    HEADER_FILL,
    LINE_POINTS,
    LONG_TEXT_WIDTH,
    MAX_ROW_POINTS,
    TOP,
    WRAP,
    _fill_cell,
    _style,
    line_count,
    plain,
    print_setup,
    runs,
)


def old_stream_frame(
    ws,
    frame: pd.DataFrame,
    *,
    percent: Iterable[str] = (),
    table_name: str = "",
    max_width: int = 60,
    formats: Mapping[str, str] | None = None,
    **page,
) -> None:
    """`write_frame` + `print_setup(ws, **page)` for a write-only sheet (`Workbook(write_only=True)`): the same
    cells, styles, widths, row heights, frozen header, table and print setup, appended row by row from row 1.
    A streamed sheet writes its columns and panes before its rows, so widths and heights are worked out first:
    widths from the first 200 rows (as `write_frame`), each row's height as its cells are made."""
    percent = set(percent)
    formats = dict(formats or {})
    names = [str(c) for c in frame.columns]
    widths = []
    for c, name in enumerate(frame.columns, start=1):
        longest = max([len(str(name))] + [len(str(v)) for v in frame.iloc[:200, c - 1].tolist()])
        if name in formats:
            longest = max(len(str(name)), len(formats[name]) + 4)
        cap = LONG_TEXT_WIDTH if longest > 8 * max_width else max_width
        widths.append(min(max(10, longest + 2), cap))
        ws.column_dimensions[get_column_letter(c)].width = widths[-1]
    ws.freeze_panes = "A2"
    print_setup(ws, **page)

    def height(lines: int, row: int) -> None:
        if lines > 1:
            ws.row_dimensions[row].height = min(lines * LINE_POINTS, MAX_ROW_POINTS)

    head = [WriteOnlyCell(ws) for _ in names]
    for c, (cell, name) in enumerate(zip(head, names, strict=True)):
        _fill_cell(
            cell,
            ws,
            name,
            lambda c=c: f"{get_column_letter(c + 1)}1",
            font=BOLD,
            fill=HEADER_FILL,
            alignment=WRAP,
        )
    height(max([line_count(n, w) for n, w in zip(names, widths, strict=True)] or [1]), 1)
    ws.append(head)
    # One cell per column, given each row's value in turn (write-only cells are written as they are appended),
    # and the few styles of a data cell looked up once: this loop runs for every cell of the sheet.
    cells = [WriteOnlyCell(ws) for _ in names]
    top, wrap = _style(ws, alignment=TOP), _style(ws, alignment=WRAP)
    quoted = {
        id(top): _style(ws, alignment=TOP, quote=True),
        id(wrap): _style(ws, alignment=WRAP, quote=True),
    }
    numbers = [  # the style of a number in each column: percent, a number format, or plain
        _style(ws, alignment=TOP, number_format="0.0%")
        if name in percent
        else _style(ws, alignment=TOP, number_format=formats[name])
        if name in formats
        else top
        for name in frame.columns
    ]
    scale = [100 if name in percent else 1 for name in frame.columns]
    wrap_from = max_width - 2
    for r, record in enumerate(frame.itertuples(index=False, name=None), start=2):
        out: list[object] = []
        lines = 1
        for c, value in enumerate(record):
            value = plain(value)
            if value is None:
                out.append(None)
                continue
            cell = cells[c]
            if isinstance(value, str):
                if len(value) > MAX_CELL_CHARS:
                    raise ReviewError(
                        f"sheet '{ws.title}', cell {get_column_letter(c + 1)}{r}: {len(value):,} characters "
                        f"of text is more than the {MAX_CELL_CHARS:,} a spreadsheet cell holds; shorten it in "
                        "the input."
                    )
                cell.value = value
                cell.data_type = "s"
                style = top
                if len(value) > wrap_from:
                    style = wrap
                    lines = max(lines, line_count(value, widths[c]))
                cell._style = quoted[id(style)] if runs(value) else style
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                cell.value = value / scale[c] if scale[c] != 1 else value
                cell._style = numbers[c]
            else:
                cell.value = value
                cell._style = top
            out.append(cell)
        height(lines, r)
        ws.append(out)
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
