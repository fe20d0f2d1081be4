"""The writers the exports used before their data rows were written as XML (issue 12), kept as oracles: the
new writers must give the same workbook. Copied from review/sheets.py and review/adjudication.py as they were;
used by tests/test_export_writers.py only."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.table import Table as ExcelTable
from openpyxl.worksheet.table import TableStyleInfo

from review.adjudication import (
    AGREEMENT,
    FORMAT,
    META,
    README,
    SHEET,
    Decisions,
    _agreement_sheet,
    _check_reviewers,
    _columns,
    _readme,
    _text,
    carry_over,
)
from review.compare import OTHER, Comparison, show
from review.errors import ReviewError
from review.files import MAX_CELL_CHARS
from review.sheets import (
    BOLD,
    DECISION_FILL,
    HEADER_FILL,
    LINE_POINTS,
    LONG_TEXT_WIDTH,
    MAX_ROW_POINTS,
    STALE_FILL,
    TOP,
    WRAP,
    _fill_cell,
    _style,
    header_alignments,
    line_count,
    plain,
    print_setup,
    runs,
    save_workbook,
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
    aligned = header_alignments(frame, [*percent, *formats])  # (added later to both: numbers' headers right)
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


def old_write_discrepancies(
    comparison: Comparison, path: str | Path, *, previous: Decisions | None = None
) -> Path:
    """Write the discrepancy workbook (atomically): README, Discrepancies (decision dropdowns) and Agreement.

    With `previous` (an earlier, adjudicated workbook), decisions whose values are unchanged are carried over;
    the others are marked stale in the Status column with the earlier decision, to be decided again.
    """
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise ReviewError(f"{path}: the discrepancy workbook must be an .xlsx file.")
    inputs = {Path(r.file).resolve() for r in comparison.reviewers}
    if path.resolve() in inputs:
        raise ReviewError(f"{path}: is one of the extractions; write the discrepancies to another file.")
    if previous is not None:
        _check_reviewers(comparison.reviewers, previous)
    wb = Workbook()
    readme = wb.active
    readme.title = README
    _readme(readme, comparison)
    old_discrepancy_sheet(wb.create_sheet(SHEET), comparison, previous)
    _agreement_sheet(wb.create_sheet(AGREEMENT), comparison.agreement)
    meta = wb.create_sheet(META)
    meta.sheet_state = "hidden"
    for row in [
        ("format", FORMAT),
        ("form", comparison.form.name),
        ("form version", comparison.form.version),
        *[("reviewer", r.letter, r.name, r.file, r.sha256) for r in comparison.reviewers],
    ]:
        meta.append([None] * len(row))
        for col, value in enumerate(row, start=1):
            _text(meta, meta.max_row, col, value)
    return save_workbook(wb, path)


def old_discrepancy_sheet(ws, comparison: Comparison, previous: Decisions | None) -> None:
    columns = _columns(comparison.reviewers)
    headers = [h for h, _ in columns]
    for col, (header, width) in enumerate(columns, start=1):
        cell = _text(ws, 1, col, header)
        cell.font = Font(bold=True)
        cell.fill = (
            DECISION_FILL
            if header in ("Decision", "Other value", "Adjudicator", "Date", "Reason")
            else HEADER_FILL
        )
        ws.column_dimensions[get_column_letter(col)].width = width
    at = {h: i for i, h in enumerate(headers, start=1)}
    carried, stale_now = carry_over(comparison, previous) if previous else ({}, {})
    details = comparison.discrepancies["detail"].tolist()
    wrap = Alignment(
        wrap_text=True, vertical="top"
    )  # one style object: openpyxl indexes each one it is given
    for r, u in enumerate(comparison.disagreements, start=2):
        values = {
            "ID": u.id,
            "Table": u.table,
            "Row": u.row,
            "Field": u.field,
            "Type": u.type,
            "Detail": details[r - 2],
            "Key": json.dumps([u.table, list(u.key), u.field], ensure_ascii=False),
        }
        for rv, e in zip(comparison.reviewers, u.entries, strict=False):
            values |= {
                f"{rv.letter} value": e.shown,
                f"{rv.letter} where": e.where,
                f"{rv.letter} source": e.source,
                f"{rv.letter} location": e.location,
            }
        identity = (u.table, u.key, u.field)
        stale = identity in stale_now
        if stale:
            earlier, why = stale_now[identity]
            values["Status"] = f"STALE ({why}); earlier: {earlier.summary}"
        elif identity in carried:
            assert previous is not None  # decisions are carried over from it alone
            earlier = carried[identity]
            values |= {
                "Decision": earlier.choice,
                "Other value": show(earlier.other),
                "Adjudicator": earlier.adjudicator,
                "Date": earlier.date,
                "Reason": earlier.reason,
                "Status": f"carried over from {previous.path.name}",
            }
        for header, value in values.items():
            cell = _text(ws, r, at[header], value)
            if header in ("Detail", "Reason", "Status"):
                cell.alignment = wrap
        if stale:
            ws.cell(row=r, column=at["Status"]).fill = STALE_FILL
    last = max(2, len(comparison.disagreements) + 1)
    letters = [r.letter for r in comparison.reviewers]
    decision = get_column_letter(at["Decision"])
    dv = DataValidation(type="list", formula1=f'"{",".join([*letters, OTHER])}"', allow_blank=True)
    dv.prompt, dv.promptTitle = (
        (f"{'/'.join(letters)}: take that reviewer's value; {OTHER}: the value typed in Other value."),
        "Decision",
    )
    dv.error, dv.errorTitle, dv.showErrorMessage = f"Pick {', '.join(letters)} or {OTHER}.", "Decision", True
    dv.add(f"{decision}2:{decision}{last}")
    ws.add_data_validation(dv)
    for header, prompt in (
        ("Other value", "With decision 'other': the consensus value (a number, text, NR or NA)."),
        ("Adjudicator", "Who decided."),
        ("Date", "When: YYYY-MM-DD."),
        ("Reason", "Why: e.g. 'primary report preferred over registry'."),
    ):
        letter = get_column_letter(at[header])
        hint = DataValidation(allow_blank=True)
        hint.prompt, hint.promptTitle = prompt, header
        hint.add(f"{letter}2:{letter}{last}")
        ws.add_data_validation(hint)
        for r in range(2, last + 1):
            ws.cell(row=r, column=at[header]).number_format = "@"  # a date stays the text typed
    ws.column_dimensions[get_column_letter(at["Key"])].hidden = True
    ws.freeze_panes = ws.cell(row=2, column=at["Field"] + 1)
    ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{last}"
