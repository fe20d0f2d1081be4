"""The adjudicator's workbook: `write_discrepancies` writes one row per disagreement with every reviewer's value
and where it was found, and columns for the decision (a reviewer's letter, or `other` with the value typed in),
the adjudicator, the date and the reason; `read_decisions` reads it back, and `carry_over` keeps earlier
decisions whose values are unchanged (the others are stale). review.reconcile turns them into the consensus.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import python_calamine
from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from .compare import (
    OTHER,
    ROW,
    TYPES,
    Comparison,
    Reviewer,
    Unit,
    file_sha256,
    show,
)
from .errors import ReviewError, UnreadableInput
from .files import check_xlsx
from .forms import Field
from .issues import CODES, ERROR
from .sheets import (
    DECISION_FILL,
    HEADER_FILL,
    STALE_FILL,
    STYLE_ONLY,
    SheetRows,
    put,
    runs,
    save_workbook,
    text_body,
)
from .sheetscan import scan
from .values import Parsed, parse_value
from .words import counted

FORMAT = "review discrepancies 1"  # written to the hidden sheet, so a decisions file is recognised


SHEET, README, AGREEMENT, META = "Discrepancies", "README", "Agreement", "_review"


_DATE = Field(name="date", type="date", label="Date")


def _columns(reviewers: Sequence[Reviewer]) -> list[tuple[str, int]]:
    """(header, width) of the Discrepancies sheet: what to decide first, where it was found after."""
    letters = [r.letter for r in reviewers]
    return (
        [("ID", 6), ("Table", 14), ("Row", 34), ("Field", 18), ("Type", 13)]
        + [(f"{x} value", 14) for x in letters]
        + [
            ("Detail", 40),
            ("Decision", 10),
            ("Other value", 12),
            ("Adjudicator", 14),
            ("Date", 11),
            ("Reason", 40),
            ("Status", 30),
        ]
        + [(f"{x} {what}", 24) for x in letters for what in ("where", "source", "location")]
        + [("Key", 10)]
    )


def write_discrepancies(
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
    _discrepancy_sheet(wb.create_sheet(SHEET), comparison, previous)
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


def _text(ws, row: int, col: int, value: object):
    """Write a cell as text (never a formula: a value such as '=1+2' stays text)."""
    return put(ws, row, col, None if value in (None, "") else str(value))


def _readme(ws, comparison: Comparison) -> None:
    ws.column_dimensions["A"].width = 16
    ws.column_dimensions["B"].width = 28
    ws.column_dimensions["C"].width = 40
    ws.column_dimensions["D"].width = 66
    ws["A1"] = "Discrepancies between independent extractions"
    ws["A1"].font = Font(bold=True, size=14)
    letters = ", ".join(r.letter for r in comparison.reviewers)
    lines: list[tuple[str, ...]] = [
        ("Form", comparison.form.label),
        ("Summary", comparison.summary()),
        ("",),
        ("Reviewer", "Name", "File", "SHA-256"),
        *[(r.letter, r.name, Path(r.file).name, r.sha256) for r in comparison.reviewers],
        ("",),
        (
            "How to decide",
            (
                f"On the sheet {SHEET}, one row per disagreement. Pick the Decision: {letters} takes "
                "that reviewer's value; 'other' takes the value typed in Other value (a number, text, "
                "NR or NA)."
            ),
        ),
        (
            "",
            (
                "For a (row) discrepancy, a letter keeps the row as that reviewer has it, or drops it if that "
                "reviewer has no such row."
            ),
        ),
        (
            "",
            (
                "Fill Adjudicator, Date (YYYY-MM-DD) and Reason. Leave the value and Key columns as they are: they "
                "tell `review reconcile` when an extraction changed after the decision."
            ),
        ),
        (
            "",
            (
                f"Then: review reconcile {' '.join(Path(r.file).name for r in comparison.reviewers)} "
                "THIS_FILE.xlsx -o consensus/"
            ),
        ),
        ("",),
        ("Types", "What differs"),
        *[(t, text) for t, text in TYPES.items()],
        ("",),
        (
            "Agreement",
            (
                f"Per reviewer pair, table and field on the sheet {AGREEMENT}: percent agreement, the "
                "share of numbers both gave that are exactly equal, and Cohen's kappa for categories with "
                "its 95% CI (Fleiss, Cohen & Everitt 1969)."
            ),
        ),
        ("Notes", "; ".join(comparison.notes) or "none"),
    ]
    for i, line in enumerate(lines, start=3):
        for col, value in enumerate(line, start=1):
            cell = _text(ws, i, col, value)
            cell.alignment = Alignment(wrap_text=col > 1 and len(line) == 2, vertical="top")
            if col == 1 or line[0] in ("Reviewer", "Types"):
                cell.font = Font(bold=True)
        if len(line) == 2:
            ws.merge_cells(start_row=i, start_column=2, end_row=i, end_column=4)
    ws.sheet_view.showGridLines = False


_WRAPPED = ("Detail", "Reason", "Status")  # long text: wrapped
_TYPED = ("Other value", "Adjudicator", "Date", "Reason")  # where the adjudicator types: kept as text ("@")


def _discrepancy_sheet(ws, comparison: Comparison, previous: Decisions | None) -> None:
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
    units = comparison.disagreements
    n = len(units)
    last = max(2, n + 1)
    # The rows, column by column (sheets.SheetRows): per column its values (None: the cell is made without a
    # value, as writing an empty value did; absent: no cell), then each cell's style from what the column is.
    values: dict[str, list] = {
        "ID": [u.id for u in units],
        "Table": [u.table for u in units],
        "Row": [u.row for u in units],
        "Field": [u.field for u in units],
        "Type": [u.type for u in units],
        "Detail": comparison.discrepancies["detail"].tolist()[:n],
        "Key": [json.dumps([u.table, list(u.key), u.field], ensure_ascii=False) for u in units],
    }
    absent = object()
    for i, rv in enumerate(comparison.reviewers):
        entries = [u.entries[i] if i < len(u.entries) else None for u in units]
        for what, get in (
            ("value", "shown"),
            ("where", "where"),
            ("source", "source"),
            ("location", "location"),
        ):
            values[f"{rv.letter} {what}"] = [absent if e is None else getattr(e, get) for e in entries]
    stale = [False] * n
    if carried or stale_now:
        decided = {
            h: [absent] * n for h in ("Decision", "Other value", "Adjudicator", "Date", "Reason", "Status")
        }
        for r, u in enumerate(units):
            identity = (u.table, u.key, u.field)
            if identity in stale_now:
                earlier, why = stale_now[identity]
                decided["Status"][r] = f"STALE ({why}); earlier: {earlier.summary}"
                stale[r] = True
            elif identity in carried:
                assert previous is not None  # decisions are carried over from it alone
                earlier = carried[identity]
                for h, v in (
                    ("Decision", earlier.choice),
                    ("Other value", show(earlier.other)),
                    ("Adjudicator", earlier.adjudicator),
                    ("Date", earlier.date),
                    ("Reason", earlier.reason),
                    ("Status", f"carried over from {previous.path.name}"),
                ):
                    decided[h][r] = v
        values |= decided
    wrap = Alignment(
        wrap_text=True, vertical="top"
    )  # one style object: openpyxl indexes each one it is given
    styles = _Styles(ws, wrap, n, any(stale))
    rows = SheetRows(ws, first=2, count=last - 1)
    for header in headers:
        column = values.get(header, [absent] * n)
        letter, wrapped, typed = get_column_letter(at[header]), header in _WRAPPED, header in _TYPED
        cells: list = []
        memo: dict[object, tuple[str | None, bool]] = {}
        for r, value in enumerate(column):
            if value is absent:
                cells.append((None, False))
                continue
            text = None if value in (None, "") else str(value)
            hit = memo.get(text)
            if hit is None:
                where = lambda r=r, letter=letter: f"{letter}{r + 2}"  # noqa: E731
                hit = memo[text] = (
                    (STYLE_ONLY, False) if text is None else (text_body(ws.title, text, where), runs(text))
                )
            cells.append(hit)
        cells += [(None, False)] * (
            last - 1 - n
        )  # no disagreement: row 2 holds only the typed columns' format
        made = [value is not absent for value in column] + [False] * (last - 1 - n)
        look = [
            styles.get(quote, wrapped and made[r], header == "Status" and r < n and stale[r], typed)
            for r, (_, quote) in enumerate(cells)
        ]
        bodies = [body if body is not None else STYLE_ONLY if typed else None for body, _ in cells]
        for r, style in enumerate(look):  # a cell made without a value or style is not written (openpyxl)
            if bodies[r] == STYLE_ONLY and style is None:
                bodies[r] = None
        rows.column(look, bodies, at[header])
    rows.dimension = f"A1:{get_column_letter(len(headers))}{last}"
    rows.defer()
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
    ws.column_dimensions[get_column_letter(at["Key"])].hidden = True
    ws.freeze_panes = f"{get_column_letter(at['Field'] + 1)}2"  # a string: no cell made in row 2
    ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{last}"


class _Styles:
    """The style of a Discrepancies cell: quote prefix (text that would run), wrapped, stale (filled), typed
    ("@": a date stays the text typed). Made as openpyxl makes them for a cell, the wrap alignment and the stale
    fill registered with the workbook in the order the cell-by-cell writer registered them."""

    def __init__(self, ws, wrap: Alignment, rows: int, any_stale: bool) -> None:
        self.ws, self.wrap = ws, wrap
        self.made: dict[tuple[bool, bool, bool, bool], object] = {}
        if rows:
            self.get(False, True, False, False)  # registers the alignment, as the first row's Detail did
        if any_stale:
            self.get(False, True, True, False)

    def get(self, quote: bool, wrapped: bool, stale: bool, typed: bool):
        key = (quote, wrapped, stale, typed)
        if key not in self.made:
            cell = Cell(self.ws)  # not in the sheet: its style only
            if quote:
                cell.quotePrefix = True
            if wrapped:
                cell.alignment = self.wrap
            if stale:
                cell.fill = STALE_FILL
            if typed:
                cell.number_format = "@"
            self.made[key] = cell._style if cell.has_style else None
        return self.made[key]


def _agreement_sheet(ws, agreement: pd.DataFrame) -> None:
    ws.append(list(agreement.columns))
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
    for record in agreement.itertuples(index=False):
        ws.append([None] * len(record))
        for col, value in enumerate(record, start=1):
            if isinstance(value, str):
                _text(ws, ws.max_row, col, value)
            elif not (isinstance(value, float) and math.isnan(value)):
                cell = ws.cell(
                    row=ws.max_row, column=col, value=float(value) if isinstance(value, float) else int(value)
                )
                if isinstance(value, float):
                    cell.number_format = "0.000" if agreement.columns[col - 1].startswith("kappa") else "0.0"
    for col, name in enumerate(agreement.columns, start=1):
        ws.column_dimensions[get_column_letter(col)].width = max(9, min(len(name) + 2, 22))
    ws.freeze_panes = "D2"
    ws.auto_filter.ref = ws.dimensions


@dataclass(frozen=True)
class Decision:
    """One adjudicated disagreement as read from the discrepancy workbook."""

    id: str
    table: str
    key: tuple[str, ...]
    field: str
    choice: str  # a reviewer's letter, OTHER, or "" (not decided yet)
    other: object  # the value typed in with OTHER, as read (None otherwise)
    adjudicator: str
    date: str  # ISO 8601 as typed, or ""
    reason: str
    seen: dict[str, str]  # each reviewer's value (by letter) when the workbook was written
    cell: str  # where the decision is, e.g. Discrepancies!M5

    @property
    def summary(self) -> str:
        choice = f"{OTHER} {show(self.other)}" if self.choice == OTHER else self.choice
        by = ", ".join(x for x in (self.adjudicator, self.date) if x)
        return f"{choice}" + (f" by {by}" if by else "") + (f": {self.reason}" if self.reason else "")


@dataclass
class Decisions:
    """A discrepancy workbook read back: its decisions by (table, key, field), and the inputs it was made from."""

    path: Path
    sha256: str
    form: str
    form_version: str
    reviewers: tuple[Reviewer, ...]
    items: dict[tuple[str, tuple[str, ...], str], Decision]

    def __len__(self) -> int:
        return len(self.items)

    @property
    def decided(self) -> int:
        return sum(1 for d in self.items.values() if d.choice)

    def __repr__(self) -> str:
        return f"Decisions({self.path.name}, {self.decided} of {len(self)} decided)"


def read_decisions(path: str | Path) -> Decisions:
    """Read an adjudicated discrepancy workbook. A file that is not one raises UnreadableInput; decisions that
    cannot be used (an unknown letter, 'other' without a value, a date that is no date) raise ReviewError
    naming every cell to fix."""
    path = check_xlsx(path)
    try:
        book = python_calamine.CalamineWorkbook.from_path(str(path))
        names = list(book.sheet_names)
        if SHEET not in names or META not in names:
            raise UnreadableInput(
                f"{path}: is not a discrepancy workbook (no sheet {SHEET!r}); make one with "
                "`review compare A.xlsx B.xlsx -o DISCREPANCIES.xlsx` and give it last to "
                "`review reconcile`."
            )
        scan(path, {SHEET, META})  # the row limit, checked before the sheets are loaded
        meta = book.get_sheet_by_name(META).to_python(skip_empty_area=False)
        rows = book.get_sheet_by_name(SHEET).to_python(skip_empty_area=False)
    except (python_calamine.CalamineError, OSError, ValueError) as exc:  # corrupt archive or XML, I/O
        raise UnreadableInput(
            f"{path}: cannot be read as .xlsx ({type(exc).__name__}: {exc}); open it in "
            "Excel or LibreOffice and save it again as .xlsx."
        ) from None
    info = {str(r[0]): r for r in meta if r and r[0]}
    if str(info.get("format", ["", ""])[1]) != FORMAT:
        raise UnreadableInput(f"{path}: was written by another version of `review compare`; compare again.")
    reviewers = tuple(Reviewer(*(_cell(v) for v in r[1:5])) for r in meta if r and r[0] == "reviewer")
    header = [_cell(h) for h in rows[0]] if rows else []
    needed = [h for h, _ in _columns(reviewers) if h not in header]
    if needed:
        raise UnreadableInput(
            f"{path}: sheet {SHEET} has no column {', '.join(repr(h) for h in needed)}; "
            "make the workbook again with `review compare -o` (and --decisions to keep these)."
        )
    col = {h: i for i, h in enumerate(header)}
    letters = [r.letter for r in reviewers]
    items: dict[tuple[str, tuple[str, ...], str], Decision] = {}
    problems: list[str] = []
    dates: dict[tuple, Parsed] = {}  # an adjudicator types a few dates: each parsed once
    for r, row in enumerate(rows[1:], start=2):
        raw = {h: row[i] if i < len(row) else None for h, i in col.items()}
        text = {h: _cell(v) for h, v in raw.items()}
        raw_key = text["Key"]
        if not raw_key:
            continue
        ref = f"{SHEET}!{get_column_letter(col['Decision'] + 1)}{r}"
        try:
            table, key, name = json.loads(raw_key)
            identity = (str(table), tuple(str(k) for k in key), str(name))
        except (ValueError, TypeError):
            problems.append(
                f"row {r}: the hidden Key column was changed; copy the row from a new `review compare` output"
            )
            continue
        choice = text["Decision"]
        other = None if not text["Other value"] else raw["Other value"]
        choice = choice.upper() if choice.upper() in letters else choice.casefold() if choice else ""
        if not choice and other is not None:
            choice = OTHER  # a value typed in without picking 'other' can only mean that
        if choice and choice not in (*letters, OTHER):
            problems.append(
                f"{ref}: decision {text['Decision']!r} is not one of {', '.join(letters)}, {OTHER}"
            )
        elif choice == OTHER and (other is None or identity[2] == ROW):
            problems.append(
                f"{ref}: 'other' needs the value in Other value"
                if identity[2] != ROW
                else f"{ref}: a (row) discrepancy is decided with a reviewer's letter, not 'other'"
            )
        elif choice in letters and other is not None:
            problems.append(
                f"{ref}: decision {choice} and an Other value too; pick '{OTHER}' or clear Other value"
            )
        date = ""
        if text["Date"]:
            when = (type(raw["Date"]), raw["Date"])
            parsed = dates[when] if when in dates else dates.setdefault(when, parse_value(raw["Date"], _DATE))
            if any(CODES[c].severity == ERROR for c in parsed.codes) or parsed.value is None:
                problems.append(
                    f"{SHEET}!{get_column_letter(col['Date'] + 1)}{r}: {text['Date']!r} is not a date; "
                    "type YYYY-MM-DD"
                )
            date = str(parsed.value or "")
        if identity in items:
            problems.append(f"row {r}: decides {text['ID']} a second time (also {items[identity].cell})")
        items[identity] = Decision(
            text["ID"],
            *identity,
            choice,
            other,
            text["Adjudicator"],
            date,
            text["Reason"],
            {x: text[f"{x} value"] for x in letters},
            ref,
        )
    if problems:
        more = f" and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise ReviewError(
            f"{path}: {counted(len(problems), 'decision')} cannot be used: {'; '.join(problems[:10])}{more}."
        )
    return Decisions(
        path,
        file_sha256(path),
        _cell(info.get("form", ["", ""])[1]),
        _cell(info.get("form version", ["", ""])[1]),
        reviewers,
        items,
    )


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _check_reviewers(current: Sequence[Reviewer], decisions: Decisions) -> None:
    """The extractions must be given as they were compared: same number, each letter the same reviewer."""

    def same(a: Reviewer, b: Reviewer) -> bool:
        return a.name == b.name or Path(a.file).name == Path(b.file).name or a.sha256 == b.sha256

    if len(current) == len(decisions.reviewers) and all(map(same, current, decisions.reviewers)):
        return
    expected = ", ".join(f"{r.letter} = {Path(r.file).name} ({r.name})" for r in decisions.reviewers)
    raise ReviewError(f"{decisions.path}: was made from {expected}; give the same extractions in that order.")


def carry_over(
    comparison: Comparison, previous: Decisions
) -> tuple[dict[tuple, Decision], dict[tuple, tuple[Decision, str]]]:
    """Earlier decisions on today's disagreements, by (table, key, field): those that still apply, and the stale
    ones (made on values that have changed since) with why."""
    carried, stale = {}, {}
    for u in comparison.disagreements:
        identity = (u.table, u.key, u.field)
        earlier = previous.items.get(identity)
        if earlier is None or not earlier.choice:
            continue
        why = _stale(u, earlier, comparison.reviewers)
        if why:
            stale[identity] = (earlier, why)
        else:
            carried[identity] = earlier
    return carried, stale


def _stale(u: Unit, d: Decision, reviewers: Sequence[Reviewer]) -> str:
    """Why a decision no longer applies ('A was 73, now 72'), or '' when the values it was made on are unchanged."""
    changed = [
        f"{r.letter} was {d.seen.get(r.letter) or '(empty)'}, now {e.shown or '(empty)'}"
        for r, e in zip(reviewers, u.entries, strict=False)
        if d.seen.get(r.letter, "") != e.shown
    ]
    return "; ".join(changed)
