"""Dual independent extraction: line reviewers' extractions up on the form's keys, list every disagreement with
a type that helps the adjudicator, and measure agreement per field, table and reviewer pair.

Two values agree when they are equal, when they are equal after the rounding the reports allow (49.3 and 49.32;
a date given to the month and the same date given to the day), or when one reviewer typed a count and the other
the percentage of the same denominator that stands for it. Anything else is a discrepancy. The adjudicator's
decisions on them are read back, and turned into the consensus, by review.reconcile.

Any number of extractions can be compared (a third extractor, or a pre-fill from another tool read as an
extraction); reviewers are lettered A, B, C... in the order given.
"""

from __future__ import annotations

import hashlib
import html
import itertools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from .errors import ReviewError
from .forms import PROVENANCE_FIELDS, Field, Form, Table
from .issues import ERROR
from .validate import implied_count, rounding_tolerance
from .words import counted
from .workbook import ExtractedTable, Extraction

ROW = "(row)"  # the field of a whole-row discrepancy: a row that some reviewers have and others lack
NO_ROW = "(no row)"
OTHER = "other"  # the decision that takes a value the adjudicator types in
# Fields that are not compared but carried into the consensus from every reviewer: they say where a value was
# found and what the reviewer thought, and differ in wording between any two people.
ANNOTATIONS = (*PROVENANCE_FIELDS, "notes")

TYPES = {
    "arms-swapped": "The same two values on two arms, crossed (or experimental and control arm crossed).",
    "zero-vs-nr": "0 in one extraction, NR (not reported) in another: one may have read 'not reported' as zero.",
    "inverted": "A ratio in one extraction is the reciprocal of another's, with its CI limits inverted and exchanged.",
    "key": "The same row filed under a different key value (a category, outcome or arm picked differently).",
    "moved": "The same row filed under a different study.",
    "omission": "A value in one extraction and nothing, NR or NA, or no such row, in another.",
    "numeric": "Two different numbers, beyond the rounding the reports allow.",
    "category": "Different categories, TRUE/FALSE answers or missing codes (NR versus NA).",
    "text": "Different text or dates.",
}
# How a consensus value came about (the `basis` of review.reconcile's trail).
AGREED, EQUIVALENT, DERIVED, SINGLE, DISAGREE = "agreed", "equivalent", "derived", "single", "disagree"

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


# ================================================================================================================
# Values as each reviewer entered them


@dataclass(frozen=True)
class Reviewer:
    """One extraction being compared: its letter (A, B...), the reviewer's name, the file and its SHA-256."""

    letter: str
    name: str
    file: str
    sha256: str

    @property
    def label(self) -> str:
        return f"{self.letter} ({self.name})" if self.name else self.letter


@dataclass(frozen=True)
class Entry:
    """What one reviewer entered for one field of one row: a typed value or a missing code, and where."""

    # int, float, str or bool; None for a missing code or an empty cell. Any: which one follows from the
    # field's type, which the type checker cannot see
    value: Any = None
    code: str = ""  # "NR", "NA" or "" (no code)
    where: str = ""  # file:Sheet!A1
    source: str = ""  # the row's Source field
    location: str = ""  # the row's Location field
    present: bool = True  # False when the reviewer has no such row

    @property
    def filled(self) -> bool:
        return self.value is not None or bool(self.code)

    @property
    def shown(self) -> str:
        if not self.present:
            return NO_ROW
        return self.code or show(self.value)


def show(value: object) -> str:
    """A value as text, the same way everywhere (workbooks, CSV, messages): 73, 49.3, TRUE, 2000-06."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)  # shortest text that reads back exactly
    return str(value)


def plain_value(value: object) -> object:
    """A cell of a typed frame as a plain Python value (None for missing)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


@dataclass
class Unit:
    """One field of one row (or, for ROW, the row itself) across all reviewers, and whether they agree."""

    table: str
    key: tuple[str, ...]
    field: str
    entries: tuple[Entry, ...]
    status: str  # AGREED, EQUIVALENT, DERIVED, SINGLE or DISAGREE
    type: str = ""  # one of TYPES when status is DISAGREE
    id: str = ""  # D1, D2... for discrepancies
    agreeing: frozenset[tuple[int, int]] = frozenset()  # pairs of reviewers (by position) who agree on it
    link: tuple = ()  # units of one discrepancy (an inverted ratio and its CI, two crossed arms) share a link

    @property
    def row(self) -> str:
        return " | ".join(self.key)


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a workbook, or of a folder's CSV files (their names and contents); "" if neither exists."""
    path = Path(path)
    if path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    if path.is_dir():
        digest = hashlib.sha256()
        for csv_file in sorted(p for p in path.glob("*.csv") if p.is_file()):  # never a pipe: it would block
            digest.update(f"{csv_file.name}\0{hashlib.sha256(csv_file.read_bytes()).hexdigest()}\n".encode())
        return digest.hexdigest()
    return ""


# ================================================================================================================
# Comparing


@dataclass
class Comparison:
    """Every value of two or more extractions, lined up, with the discrepancies and the agreement figures.

    `discrepancies` (also `to_frame()`) has one row per disagreement; `agreement` one row per reviewer pair and
    table and field (`field` "" for a whole table, `table` "" for all tables). `lined` holds each table's rows
    lined up across reviewers, column by column, which review.reconcile builds the consensus from; `units`
    (every compared value as a Unit) and `aligned` (each table's rows with each reviewer's sheet row, None where
    a reviewer lacks it) are made from it when asked for.
    """

    form: Form
    extractions: tuple[Extraction, ...]
    reviewers: tuple[Reviewer, ...]
    lined: dict[str, LinedTable]
    agreement: pd.DataFrame
    annotations: tuple[str, ...]
    notes: list[str] = field(default_factory=list)

    @property
    def aligned(self) -> dict[str, list[tuple[tuple[str, ...], tuple[int | None, ...]]]]:
        return {name: list(zip(lt.keys, lt.rows, strict=True)) for name, lt in self.lined.items()}

    @cached_property
    def units(self) -> list[Unit]:
        """Every compared value, table by table and row by row (values all reviewers typed alike included)."""
        return [u for lt in self.lined.values() for u in lt.units()]

    @property
    def disagreements(self) -> list[Unit]:
        return [u for lt in self.lined.values() for u in lt.slow.values() if u.status == DISAGREE]

    @cached_property
    def discrepancies(self) -> pd.DataFrame:
        rows = []
        for u in self.disagreements:
            row = {
                "id": u.id,
                "table": u.table,
                "row": u.row,
                "field": u.field,
                "type": u.type,
                "detail": _detail(u, self.reviewers),
            }
            for r, e in zip(self.reviewers, u.entries, strict=False):
                row |= {
                    f"{r.letter}_value": e.shown,
                    f"{r.letter}_where": e.where,
                    f"{r.letter}_source": e.source,
                    f"{r.letter}_location": e.location,
                }
            rows.append(row)
        columns = ["id", "table", "row", "field", "type", "detail"] + [
            f"{r.letter}_{c}" for r in self.reviewers for c in ("value", "where", "source", "location")
        ]
        return pd.DataFrame(rows, columns=columns).astype("string")

    def to_frame(self) -> pd.DataFrame:
        return self.discrepancies

    def __len__(self) -> int:
        """The number of discrepancies: linked values (a ratio inverted with its CI) count once."""
        return len({u.id for u in self.disagreements})

    def type_counts(self) -> dict[str, int]:
        counts = {t: 0 for t in TYPES}
        for u in {u.id: u for u in self.disagreements}.values():
            counts[u.type] += 1
        return {t: n for t, n in counts.items() if n}

    def overall(self) -> pd.DataFrame:
        """One row of agreement figures per reviewer pair, over all tables."""
        return self.agreement[self.agreement["table"] == ""].reset_index(drop=True)

    def summary(self) -> str:
        parts = []
        for _, row in self.overall().iterrows():
            parts.append(
                f"{row['pair']}: {row['agreed']} of {row['units']} values agree "
                f"({_pct(row['agreement'])}), kappa {_num(row['kappa'])}"
            )
        types = ", ".join(f"{n} {t}" for t, n in self.type_counts().items())
        return "; ".join(parts) + f"; {counted(len(self), 'discrepancy')}" + (f" ({types})" if types else "")

    def __repr__(self) -> str:
        who = ", ".join(f"{r.label} {Path(r.file).name}" for r in self.reviewers)
        lines = [f"Comparison of {who}", f"  {self.summary()}"]
        lines += [
            f"  {u.id:<5} {u.type:<13} {u.table}: {u.row} {u.field}: "
            + " / ".join(
                f"{r.letter} {e.shown or '(empty)'}" for r, e in zip(self.reviewers, u.entries, strict=False)
            )
            for u in self.disagreements[:40]
        ]
        if len(self) > 40:
            lines.append(f"  ... {len(self) - 40} more (Comparison.to_frame() has them all)")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = f"<p><b>Comparison</b>: {html.escape(self.summary())}</p>"
        shown = self.discrepancies[
            ["id", "table", "row", "field", "type"]
            + [f"{r.letter}_value" for r in self.reviewers]
            + ["detail"]
        ]
        return head + self.overall().to_html(index=False, na_rep="") + shown.to_html(index=False, na_rep="")


def compare(extractions: Sequence[Extraction], *, annotations: Sequence[str] = ANNOTATIONS) -> Comparison:
    """Compare two or more extractions made with the same form, value by value.

    Rows are matched on each table's key; every other field except `annotations` (source, location, comment
    and notes, which are carried along instead) is compared. Raises ReviewError when the extractions cannot be
    lined up: fewer than two, different forms, the same file twice, or a table with an empty or duplicate key
    (which `review validate` reports).
    """
    extractions = tuple(extractions)
    if len(extractions) < 2:
        raise ReviewError("compare needs at least two extractions of the same studies.")
    if len(extractions) > len(_LETTERS):
        raise ReviewError(f"compare takes at most {len(_LETTERS)} extractions.")
    form = extractions[0].form
    for x in extractions[1:]:
        if x.form.name != form.name or list(x.form.tables) != list(form.tables):
            raise ReviewError(
                f"{x.source}: was read with form {x.form.label}, the others with {form.label}; "
                "read every extraction with the same form."
            )
    sources = [Path(x.source).resolve() for x in extractions]
    if len(set(sources)) < len(sources):
        raise ReviewError(
            f"{extractions[0].source}: the same file is given twice; compare different "
            "reviewers' extractions."
        )
    reviewers = tuple(
        Reviewer(letter, x.reviewer or Path(x.source).stem, str(x.source), file_sha256(x.source))
        for letter, x in zip(_LETTERS, extractions, strict=False)
    )
    notes = _notes(extractions, reviewers)
    lined = {
        table.name: _line_up(form, table, [x.tables[table.name] for x in extractions], annotations)
        for table in form.tables.values()
    }
    ids: dict[tuple, str] = {}
    for lt in lined.values():
        for u in lt.slow.values():
            if u.status == DISAGREE:
                u.id = ids.setdefault(u.link or (id(u),), f"D{len(ids) + 1}")
    agreement = _agreement(form, reviewers, lined)
    return Comparison(form, extractions, reviewers, lined, agreement, tuple(annotations), notes)


def _notes(extractions: tuple[Extraction, ...], reviewers: tuple[Reviewer, ...]) -> list[str]:
    notes = []
    hashes = [r.sha256 for r in reviewers if r.sha256]
    if len(set(hashes)) < len(hashes):
        notes.append("two of the files are identical: check that each reviewer's own file was given")
    for x, r in zip(extractions, reviewers, strict=False):
        refused = sum(1 for i in x.issues if i.severity == ERROR)
        if refused:
            notes.append(
                f"{r.letter}: {refused} cells could not be read as typed and count as empty; "
                f"run `review validate {r.file}`"
            )
    return notes


# Types whose values are all of one Python type once read: equal values of such columns are of the same type.
_ONE_TYPE = ("string", "str", "Int64", "Float64", "boolean", "int64", "float64", "bool")
_FAST = True  # tests turn it off to check that skipping equal values changes nothing


class Columns:
    """One reviewer's table as plain Python values and missing codes, column by column: numpy object arrays
    by position on the sheet with one extra last element (None, "") that stands for a row the reviewer lacks."""

    def __init__(self, et: ExtractedTable):
        self.source = et
        self.rows: list[int] = et.data.index.tolist()
        self.position = {row: i for i, row in enumerate(self.rows)}
        self.values: dict[str, np.ndarray] = {}
        self.notna: dict[str, np.ndarray] = {}
        self.codes: dict[str, np.ndarray] = {}
        self.dtype: dict[str, str] = {}
        self._shown: dict[str, np.ndarray] = {}
        for name in et.data.columns:
            column = et.data[name]
            missing = column.isna().to_numpy()
            values = np.append(column.to_numpy(dtype=object, na_value=None), None)  # Python values
            values[:-1][missing] = None
            self.values[name] = values
            self.notna[name] = np.append(~missing, False)
            self.dtype[name] = str(column.dtype)
        for name in et.missing.columns:
            self.codes[name] = np.append(et.missing[name].to_numpy(dtype=object), "")

    def value(self, row: int, name: str) -> object:
        return self.values[name][self.position[row]]

    def code(self, row: int, name: str) -> str:
        return self.codes[name][self.position[row]]

    def shown(self, name: str) -> np.ndarray:
        """Each row's value of `name` as text (show), "" for the row the reviewer lacks; made once."""
        if name not in self._shown:
            values = self.values[name].tolist()
            if self.dtype[name] in ("string", "str"):
                texts = [v if v is not None else "" for v in values]
            elif self.dtype[name] in _ONE_TYPE:  # one type: each distinct value shown once
                distinct = {v: show(v) for v in set(values)}
                texts = list(map(distinct.__getitem__, values))
            else:
                texts = [show(v) for v in values]
            self._shown[name] = np.array(texts, dtype=object)
        return self._shown[name]


@dataclass
class LinedTable:
    """One table's rows lined up across reviewers: each row's key, each reviewer's sheet row (None where the
    reviewer lacks it) and position in their Columns (-1), which values every reviewer typed alike (`agreed`,
    kept as masks rather than Units: they are most of a review) and the Units of every other value."""

    form: Form
    table: Table
    columns: list[Columns]
    keys: list[tuple[str, ...]]
    rows: list[tuple[int | None, ...]]
    positions: list[np.ndarray]
    rekeyed: dict[tuple[str, ...], int]
    compared: list[Field]
    agreed: dict[str, np.ndarray]
    slow: dict[tuple[int, str], Unit] = field(
        default_factory=dict
    )  # (position, field) -> Unit, in unit order

    def entry(self, k: int, p: int, name: str) -> Entry:
        row = self.rows[p][k]
        if row is None:
            return _ABSENT
        cols = self.columns[k]
        i = self.positions[k][p]
        source, location = cols.values.get("source"), cols.values.get("location")
        return Entry(
            cols.values[name][i],
            cols.codes[name][i],
            cols.source.where(row, name),
            show(source[i]) if source is not None else "",
            show(location[i]) if location is not None else "",
        )

    def entries(self, p: int, name: str) -> tuple[Entry, ...]:
        return tuple(self.entry(k, p, name) for k in range(len(self.columns)))

    def agreed_unit(self, p: int, name: str) -> Unit:
        pairs = frozenset(itertools.combinations(range(len(self.columns)), 2))
        return Unit(self.table.name, self.keys[p], name, self.entries(p, name), AGREED, "", agreeing=pairs)

    def unit(self, p: int, name: str) -> Unit | None:
        """The unit of one value (made afresh for a value all reviewers typed alike), None if nobody gave it."""
        u = self.slow.get((p, name))
        if u is None and name in self.agreed and self.agreed[name][p]:
            return self.agreed_unit(p, name)
        return u

    def units(self) -> list[Unit]:
        out: list[Unit] = []
        for p in range(len(self.keys)):
            for name in (*self.table.key, ROW, *(f.name for f in self.compared)):
                u = self.unit(p, name)
                if u is not None:
                    out.append(u)
        return out


def _line_up(form: Form, table: Table, tables: list[ExtractedTable], annotations) -> LinedTable:
    """Line one table up across reviewers, mark the values every reviewer typed alike (checked column by column)
    and make a Unit of every other value."""
    columns = [Columns(t) for t in tables]
    aligned, rekeyed = _align(tables, columns, annotations)
    keys = [k for k, _ in aligned]
    rows = [r for _, r in aligned]
    positions = [_positions(c, [r[k] for r in rows]) for k, c in enumerate(columns)]
    compared = [f for f in table.fields.values() if f.name not in table.key and f.name not in annotations]
    present = [p >= 0 for p in positions]
    agreed: dict[str, np.ndarray] = {}
    pending: dict[str, np.ndarray] = {}
    for f in compared:
        values = [c.values[f.name][p] for c, p in zip(columns, positions, strict=True)]
        codes = [c.codes[f.name][p] for c, p in zip(columns, positions, strict=True)]
        notna = [c.notna[f.name][p] for c, p in zip(columns, positions, strict=True)]
        filled = [pr & (nn | (cd != "")) for pr, nn, cd in zip(present, notna, codes, strict=True)]
        same = np.logical_and.reduce(present) & filled[0]
        one_type = all(c.dtype[f.name] == columns[0].dtype[f.name] for c in columns) and (
            columns[0].dtype[f.name] in _ONE_TYPE
        )
        for k in range(1, len(columns)):
            same &= (codes[k] == codes[0]) & (notna[k] == notna[0]) & (values[k] == values[0])
            if not one_type:
                same &= np.array(
                    [type(a) is type(b) for a, b in zip(values[k], values[0], strict=True)], bool
                )
        if not _FAST:
            same[:] = False
        agreed[f.name] = same
        pending[f.name] = np.logical_or.reduce(filled) & ~same
    lt = LinedTable(form, table, columns, keys, rows, positions, rekeyed, compared, agreed)
    _slow_units(lt, pending)
    return lt


def _positions(columns: Columns, rows: list[int | None]) -> np.ndarray:
    """Each sheet row's position in `columns`, -1 for None."""
    numbers = pd.array(rows, dtype="Int64").fillna(-1).to_numpy(dtype=np.int64)
    return pd.Index(columns.rows).get_indexer(numbers)


def _align(
    tables: list[ExtractedTable], columns: list[Columns], annotations: Sequence[str] = ()
) -> tuple[list[tuple[tuple[str, ...], tuple[int | None, ...]]], dict[tuple[str, ...], int]]:
    """The rows of one table across extractions, matched on its key: the first extraction's rows in sheet order,
    then rows only the second has, and so on (a stable order for the same inputs).

    Rows that no key matches are then paired when they differ in one key field only and agree on their values:
    one reviewer filed the row under another category, outcome, arm or study. The pair is one row, under the
    first reviewer's key; the second element maps such rows to the position of the key field that differs.
    A row whose key repeats another of the same extraction is paired that way too, or refused."""
    indexes, extras = zip(*(_key_index(t, c) for t, c in zip(tables, columns, strict=True)), strict=True)
    order: dict[tuple[str, ...], None] = {}
    for index in indexes:
        order.update(dict.fromkeys(index))
    aligned: dict[tuple[str, ...], list[int | None]] = dict(
        zip(order, map(list, zip(*(map(index.get, order) for index in indexes), strict=True)), strict=True)
    )
    rekeyed: dict[tuple[str, ...], int] = {}
    n = len(tables)
    compared = [f for f in tables[0].table.fields if f not in tables[0].table.key and f not in annotations]

    def similar(rows_a: list[int | None], rows_b: list[int | None]) -> int:
        """How many values the rows agree on, 0 unless clearly more than they disagree on."""
        same = differ = 0
        for i, ra in enumerate(rows_a):
            for j, rb in enumerate(rows_b):
                if ra is None or rb is None:
                    continue
                for name in compared:
                    a = columns[i].code(ra, name) or show(columns[i].value(ra, name))
                    b = columns[j].code(rb, name) or show(columns[j].value(rb, name))
                    if a and b:
                        same, differ = same + (a == b), differ + (a != b)
        return same if same > 2 * differ else 0

    def one_apart(k1: tuple[str, ...], k2: tuple[str, ...]) -> int | None:
        apart = [p for p, (a, b) in enumerate(zip(k1, k2, strict=True)) if a != b]
        return apart[0] if len(apart) == 1 else None

    # rows some reviewers lack, and rows whose key repeats another's: (key, rows, extra of reviewer j or None)
    loose: list[tuple[tuple[str, ...], list[int | None], int | None]] = [
        (k, rows, None) for k, rows in aligned.items() if None in rows
    ]
    loose += [
        (k, [row if i == j else None for i in range(n)], j)
        for j, extra in enumerate(extras)
        for k, row in extra
    ]
    # candidates one key field apart, found through each key with one field blanked: linear, not all pairs
    near: dict[tuple, list[int]] = {}
    for b, (k2, _, _) in enumerate(loose):
        for p in range(len(k2)):
            near.setdefault((p, k2[:p] + k2[p + 1 :]), []).append(b)
    taken: set[int] = set()
    for a, (k1, rows1, extra1) in enumerate(loose):
        if a in taken or extra1 is not None:
            continue
        best, best_score, best_rows = None, 0, None
        candidates = sorted({b for p in range(len(k1)) for b in near.get((p, k1[:p] + k1[p + 1 :]), [])})
        for b in candidates:
            k2, rows2, extra2 = loose[b]
            if b == a or b in taken or one_apart(k1, k2) is None:
                continue
            if any((r1 is None) == (r2 is None) for r1, r2 in zip(rows1, rows2, strict=True)):
                continue  # together they must cover every reviewer, each once
            options = [rows2]
            if extra2 is not None:  # the repeated key's first row may be the mis-filed one
                options.append([aligned[k2][extra2] if i == extra2 else None for i in range(n)])
            for rows in options:
                score = similar(rows1, rows)
                if score > best_score:
                    best, best_score, best_rows = b, score, rows
        if best is None:
            continue
        assert best_rows is not None  # set with best
        k2, rows2, extra2 = loose[best]
        taken |= {a, best}
        if extra2 is not None and best_rows != rows2:
            aligned[k2][extra2] = rows2[extra2]  # the later row stays under the repeated key
        aligned[k1] = [r1 if r1 is not None else r2 for r1, r2 in zip(rows1, best_rows, strict=True)]
        if extra2 is None:
            del aligned[k2]
        apart = one_apart(k1, k2)
        assert apart is not None  # only keys one field apart are candidates
        rekeyed[k1] = apart
    for b, (k, rows, j) in enumerate(loose):
        if j is not None and b not in taken:
            et = tables[j]
            raise ReviewError(
                f"{et.file}: sheet {et.sheet}, rows {indexes[j][k]} and {rows[j]} have the same key "
                f"({' | '.join(k)}); run `review validate {et.file}` and merge or correct them."
            )
    return list(zip(aligned, map(tuple, aligned.values()), strict=True)), rekeyed


def _key_index(
    et: ExtractedTable, columns: Columns
) -> tuple[dict[tuple[str, ...], int], list[tuple[tuple[str, ...], int]]]:
    """Sheet rows by key, and the rows whose key repeats an earlier row's."""
    keys = list(et.table.key)
    texts = [
        [v if v is not None else "" for v in values]
        if columns.dtype[k] in ("string", "str")
        else [show(v) for v in values]
        for k in keys
        for values in [columns.values[k][:-1].tolist()]
    ]
    firsts = [column.index("") for column in texts if "" in column]
    if firsts:  # the first row with an empty key field, and its first empty one
        i = min(firsts)
        empty = keys[[column[i] for column in texts].index("")]
        raise ReviewError(
            f"{et.file}: sheet {et.sheet}, cell {et.cell(columns.rows[i], empty)}: {empty} is empty, so "
            f"the row cannot be matched; run `review validate {et.file}` and fill it in."
        )
    every = list(zip(*texts, strict=True))
    index = dict(zip(every, columns.rows, strict=True))
    extras: list[tuple[tuple[str, ...], int]] = []
    if len(index) < len(every):  # a key repeats: its first row is the one matched
        index = {}
        for row, key in zip(columns.rows, every, strict=True):
            if key in index:
                extras.append((key, row))
            else:
                index[key] = row
    return index, extras


_ABSENT = Entry(present=False)
_PAIR = frozenset({(0, 1)})


def _percent_links(form: Form, table: Table) -> dict[str, tuple[str, str, str]]:
    """count/total/percent triples of this table (from its percent-mismatch rules), by count and percent field."""
    links: dict[str, tuple[str, str, str]] = {}
    for rule in form.rules:
        if (
            rule.kind == "percent-mismatch"
            and rule.table == table.name
            and not any("." in v for v in rule.args.values())
        ):
            triple = (rule.args["count"], rule.args["total"], rule.args["percent"])
            links[triple[0]] = links[triple[2]] = triple
    return links


class _RowEntries(dict):
    """One row's entries by compared field, each made when first read (most values need no other field's)."""

    def __init__(self, lt: LinedTable, p: int, names: frozenset[str]):
        super().__init__()
        self.lt, self.p, self.names = lt, p, names

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __missing__(self, name: str) -> tuple[Entry, ...]:
        if name not in self.names:
            raise KeyError(name)
        entries = self[name] = self.lt.entries(self.p, name)
        return entries


def _slow_units(lt: LinedTable, pending: dict[str, np.ndarray]) -> None:
    """Units of the values not every reviewer typed alike, of rows some reviewers lack and of rows filed under
    another key, matched pairwise: these are the few that take judgement."""
    form, table, tables = lt.form, lt.table, [c.source for c in lt.columns]
    links = _percent_links(form, table)
    present = np.logical_and.reduce([p >= 0 for p in lt.positions])
    todo = np.logical_or.reduce([~present, *pending.values()]) if pending else ~present
    index = {key: p for p, key in enumerate(lt.keys)} if lt.rekeyed else {}
    todo_at = set(np.flatnonzero(todo).tolist()) | {index[k] for k in lt.rekeyed}
    units = lt.slow
    names = frozenset(f.name for f in lt.compared)
    for p in sorted(todo_at):
        key, rows = lt.keys[p], lt.rows[p]
        if key in lt.rekeyed:
            name = table.key[lt.rekeyed[key]]
            units[(p, name)] = Unit(
                table.name, key, name, lt.entries(p, name), DISAGREE, _rekey_type(form, table.fields[name])
            )
        if not present[p]:
            entries = tuple(
                Entry(value="present", where=f"{t.file}:{t.sheet}!{t.cell(r, table.key[0])}")
                if r is not None
                else Entry(present=False)
                for t, r in zip(tables, rows, strict=False)
            )
            units[(p, ROW)] = Unit(table.name, key, ROW, entries, DISAGREE, "omission")
        by_field = _RowEntries(lt, p, names)
        for f in lt.compared:
            if not pending[f.name][p]:
                continue  # nobody gave it, or every reviewer typed it alike
            entries = by_field[f.name]
            if len(entries) == 2:  # two reviewers typing the same: no pairwise matching
                a, b = entries
                if a.present and b.present and a.code == b.code and type(a.value) is type(b.value):
                    if a.value == b.value:
                        units[(p, f.name)] = Unit(
                            table.name, key, f.name, entries, AGREED, "", agreeing=_PAIR
                        )
                        continue
            agreeing = _agreeing(f, entries, links.get(f.name), by_field)
            status = _status(entries, agreeing)
            kind = _kind(f, entries) if status == DISAGREE else ""
            units[(p, f.name)] = Unit(
                table.name,
                key,
                f.name,
                entries,
                status,
                kind,
                agreeing=frozenset(pair for pair, how in agreeing.items() if how),
            )
    _mark_swaps(table, list(units.values()))
    _mark_inverted(form, lt)


def _rekey_type(form: Form, f: Field) -> str:
    """'moved' when the key field that differs names a parent row on its own (a study), else 'key'."""
    if f.references and form.tables[f.references[0]].key == (f.references[1],):
        return "moved"
    return "key"


def _agreeing(f: Field, entries: tuple[Entry, ...], link, by_field) -> dict[tuple[int, int], str | None]:
    """How each pair of reviewers who both have the row agree on this value (None: they do not)."""
    present = [i for i, e in enumerate(entries) if e.present]
    return {
        (i, j): _match(f, entries[i], entries[j], link, by_field, i, j)
        for i, j in itertools.combinations(present, 2)
    }


def _status(entries: tuple[Entry, ...], agreeing: dict[tuple[int, int], str | None]) -> str:
    """The value's status among the reviewers who have the row; those without it are left out (the row's own
    discrepancy covers them)."""
    if sum(e.present for e in entries) == 1:
        return SINGLE
    found = set(agreeing.values())
    if None in found:
        return DISAGREE
    return DERIVED if DERIVED in found else EQUIVALENT if EQUIVALENT in found else AGREED


def _match(f: Field, a: Entry, b: Entry, link=None, by_field=None, i: int = 0, j: int = 0) -> str | None:
    """AGREED, EQUIVALENT (within rounding or precision) or DERIVED (a count and the percentage it stands for,
    which needs the count/total/percent `link` and every field's entries `by_field`, i and j being the two
    reviewers' positions) when two entries agree, else None. Two empty entries agree."""
    if a.filled and b.filled:
        if a.code or b.code:
            return AGREED if a.code == b.code else None
        return _same_value(f, a.value, b.value)
    if a.filled == b.filled:
        return AGREED
    if link and by_field is not None:
        return _derived(
            f.name, link, (a, i) if a.filled else (b, j), (b, j) if a.filled else (a, i), by_field
        )
    return None


def _same_value(f: Field, a: Any, b: Any) -> str | None:  # Entry values
    if a == b:
        return AGREED
    if f.type in ("number", "percent"):
        return EQUIVALENT if abs(float(a) - float(b)) <= tolerance(f, float(a), float(b)) else None
    if f.type == "date":  # the same date at the precision both give: 2000-06 and 2000-06-15
        short, long = sorted((str(a), str(b)), key=len)
        return EQUIVALENT if long.startswith(short + "-") else None
    if f.type == "text":
        return (
            EQUIVALENT if " ".join(str(a).split()).casefold() == " ".join(str(b).split()).casefold() else None
        )
    return None


SCALE = 0.05  # a number typed without decimals stands for +-0.5 only where that is within 5% of it


def tolerance(f: Field, a: float, b: float) -> float:
    """How far two reviewers' numbers may differ and still be the same reported value: half a unit of the less
    precise one's last decimal (49 and 49.3 percent), but for a number of its own scale (a median, a ratio)
    never more than 5% of it: 2 and 1.7 years are different medians, 57 and 57.3 months the same."""
    tol = max(rounding_tolerance(a), rounding_tolerance(b))
    if f.type == "percent":  # percentages share one scale, 0 to 100
        return tol
    return min(tol, SCALE * max(abs(a), abs(b)) + 1e-9)


def _derived(
    name: str,
    link: tuple[str, str, str],
    filled: tuple[Entry, int],
    empty: tuple[Entry, int],
    by_field: dict[str, tuple[Entry, ...]],
) -> str | None:
    """A count typed by one reviewer agrees with the percentage the other typed over the same denominator (and
    the other way round), within the percentage's rounding."""
    entry, _ = filled
    other = empty[1]
    count_field, total_field, percent_field = link
    if entry.code or total_field not in by_field:
        return None
    total = by_field[total_field][other].value
    if not isinstance(total, (int, float)) or total <= 0:
        return None
    if name == count_field:
        percent = by_field[percent_field][other].value
        if isinstance(percent, (int, float)) and implied_count(float(percent), float(total)) == entry.value:
            return DERIVED
    elif name == percent_field:
        count = by_field[count_field][other].value
        if isinstance(count, (int, float)) and abs(
            100.0 * count / total - float(entry.value)
        ) <= rounding_tolerance(float(entry.value)):
            return DERIVED
    return None


def _kind(f: Field, entries: tuple[Entry, ...]) -> str:
    """The discrepancy type (arms-swapped is found afterwards, across rows)."""
    present = [e for e in entries if e.present]
    codes = {e.code for e in present if e.code}
    values = [e.value for e in present if e.value is not None]
    if f.numeric and "NR" in codes and 0 in values:
        return "zero-vs-nr"
    if any(not e.filled for e in present) or (codes and values):
        return "omission"
    if codes:
        return "category"  # NR against NA
    if f.numeric:
        return "numeric"
    return "text" if f.type in ("text", "date") else "category"


def _mark_swaps(table: Table, units: list[Unit]) -> None:
    """Type as arms-swapped the values where one reviewer's values on two arms are another's, crossed: across
    rows that differ only in their arm, and across two arm fields of one row (experimental/control). A crossing
    of exactly the same numbers is a swap even where rounding would let each pair pass as equal (57 and 57.3 on
    two arms, typed the other way round)."""
    fields = table.fields
    arm_key = next(
        (i for i, k in enumerate(table.key) if k == "arm_id" or fields[k].references == ("arms", "arm_id")),
        None,
    )
    groups: dict[tuple, list[Unit]] = {}
    for u in units:
        if u.field == ROW or u.field in table.key or u.status in (AGREED, SINGLE):
            continue
        if u.status != DISAGREE and not fields[u.field].numeric:
            continue
        if arm_key is not None:
            groups.setdefault(("rows", u.key[:arm_key] + u.key[arm_key + 1 :], u.field), []).append(u)
        if u.status == DISAGREE and fields[u.field].references == ("arms", "arm_id"):
            groups.setdefault(("fields", u.key), []).append(u)
    for group, members in groups.items():
        for one, two in itertools.combinations(members, 2):
            exact = _crossed_exactly(one.entries, two.entries)
            if not exact and not (
                one.status == two.status == DISAGREE
                and _crossed(fields[one.field], fields[two.field], one.entries, two.entries)
            ):
                continue
            link = (
                ("swapped", table.name, *sorted((one.key, two.key)))
                if group[0] == "rows"
                else ("swapped", table.name, one.key)
            )
            for u in (one, two):
                if exact:
                    u.status = DISAGREE
                    u.agreeing = u.agreeing - {exact}
                u.type, u.link = "arms-swapped", link


def _crossed_exactly(first: tuple[Entry, ...], second: tuple[Entry, ...]) -> tuple[int, int] | None:
    """The pair of reviewers (by position) whose two numbers are exactly each other's, crossed."""
    for i, j in itertools.combinations(range(len(first)), 2):
        a1, b1, a2, b2 = first[i], first[j], second[i], second[j]
        if not all(e.filled and not e.code and isinstance(e.value, (int, float)) for e in (a1, b1, a2, b2)):
            continue
        if a1.value == b2.value and a2.value == b1.value and a1.value != a2.value:
            return (i, j)
    return None


def _crossed(f1: Field, f2: Field, first: tuple[Entry, ...], second: tuple[Entry, ...]) -> bool:
    for i, j in itertools.permutations(range(len(first)), 2):
        a1, b1, a2, b2 = first[i], first[j], second[i], second[j]
        if not all(e.filled and not e.code for e in (a1, b1, a2, b2)):
            continue
        if _match(f1, a1, b2) and _match(f2, a2, b1) and not _match(f1, a1, a2):
            return True
    return False


def _ratios(form: Form, table: Table) -> list[tuple[str, str, str]]:
    """(estimate, low, high) of the table's ratios: an estimate with a CI rule and a must-be-positive rule."""
    positive = {r.args["value"] for r in form.rules if r.kind == "not-positive" and r.table == table.name}
    return [
        (r.args["estimate"], r.args["low"], r.args["high"])
        for r in form.rules
        if r.kind == "ci-excludes-estimate" and r.table == table.name and r.args["estimate"] in positive
    ]


def _reciprocal(a: Entry, b: Entry) -> bool:
    """b is 1/a at the precision both were typed to."""
    if a.code or b.code or not isinstance(a.value, (int, float)) or not isinstance(b.value, (int, float)):
        return False
    x, y = float(a.value), float(b.value)
    if x <= 0 or y <= 0 or math.isclose(x, 1.0):
        return False
    return abs(1.0 / x - y) <= rounding_tolerance(y) + rounding_tolerance(x) / x**2


def _mark_inverted(form: Form, lt: LinedTable) -> None:
    """One discrepancy, `inverted`, for a ratio that one reviewer typed as the other's reciprocal with the CI
    limits inverted and exchanged (the report's control-versus-experimental figure). When the same reviewers
    also crossed the experimental and control arms, both are right about the same comparison: arms-swapped."""
    table = lt.table
    ratios = _ratios(form, table)
    if not ratios:
        return
    units = list(lt.slow.values())
    index = {key: p for p, key in enumerate(lt.keys)}
    for est, low, high in ratios:
        for u in [u for u in units if u.field == est and u.status == DISAGREE]:
            p = index[u.key]
            lo, hi = lt.unit(p, low), lt.unit(p, high)
            for i, j in itertools.combinations(range(len(u.entries)), 2):
                if not _reciprocal(u.entries[i], u.entries[j]):
                    continue
                ci = [x for x in (lo, hi) if x is not None and x.status == DISAGREE]
                if ci and not (
                    lo is not None
                    and hi is not None
                    and _reciprocal(lo.entries[i], hi.entries[j])
                    and _reciprocal(hi.entries[i], lo.entries[j])
                ):
                    continue
                arms = [x for x in units if x.key == u.key and x.type == "arms-swapped" and x.field != est]
                kind = "arms-swapped" if arms else "inverted"
                link = ("inverted", table.name, u.key)
                for x in (u, *ci, *arms):
                    x.type, x.link = kind, link
                break


def _detail(u: Unit, reviewers: tuple[Reviewer, ...]) -> str:
    """One line for the adjudicator: what differs, in words."""
    pairs = [(r.letter, e) for r, e in zip(reviewers, u.entries, strict=False)]
    if u.field == ROW:
        have = [letter for letter, e in pairs if e.present]
        lack = [letter for letter, e in pairs if not e.present]
        return (
            f"only {', '.join(have)} {'has' if len(have) == 1 else 'have'} this row; "
            f"{', '.join(lack)} {'has' if len(lack) == 1 else 'have'} not"
        )
    shown = "; ".join(f"{letter} {e.shown or '(empty)'}" for letter, e in pairs if e.present)
    if u.type == "numeric":
        numbers = [float(e.value) for _, e in pairs if e.present and e.value is not None]
        return f"{shown} (difference {show(round(max(numbers) - min(numbers), 10))})"
    if u.type == "arms-swapped":
        return f"{shown}: the same values appear crossed on another arm (or arm field) of this row's group"
    if u.type == "inverted":
        return f"{shown}: one is the reciprocal of the other, with the CI inverted: which arm does the report put first?"
    if u.type in ("key", "moved"):
        return f"{shown}: the same row (its values agree) is filed under a different {u.field}"
    if u.type == "zero-vs-nr":
        return f"{shown}: is the zero stated in the report, or was 'not reported' typed as 0?"
    return shown


# ================================================================================================================
# Agreement


def cohen_kappa(
    first: Sequence[object], second: Sequence[object], level: float = 0.95
) -> tuple[float, float, float]:
    """Cohen's kappa of two raters' labels, with its confidence interval: (kappa, low, high).

    The standard error is the large-sample one of Fleiss, Cohen & Everitt (1969), which holds for any kappa
    (not only kappa = 0); the interval is kappa +/- z * SE, clipped to [-1, 1]. NaN when kappa is undefined
    (no pairs, or both raters gave one and the same label throughout). Written with numpy rather than adding
    scikit-learn, which has no confidence interval anyway.
    """
    if len(first) == 0 or len(first) != len(second):
        return math.nan, math.nan, math.nan
    return _kappa(Counter(zip(map(str, first), map(str, second), strict=True)), level)


def _kappa(pairs: Counter[tuple[str, str]], level: float = 0.95) -> tuple[float, float, float]:
    """cohen_kappa from the counts of each (first, second) pair of labels."""
    n = sum(pairs.values())
    if n == 0:
        return math.nan, math.nan, math.nan
    labels = sorted({a for a, _ in pairs} | {b for _, b in pairs})
    index = {c: i for i, c in enumerate(labels)}
    p = np.zeros((len(labels), len(labels)))
    for (a, b), count in pairs.items():
        p[index[a], index[b]] = count
    p /= n
    rows, cols = p.sum(axis=1), p.sum(axis=0)
    observed, expected = np.trace(p), float(rows @ cols)
    if expected >= 1.0:
        return math.nan, math.nan, math.nan
    kappa = (observed - expected) / (1.0 - expected)
    diagonal = (np.diag(p) * (1.0 - (rows + cols) * (1.0 - kappa)) ** 2).sum()
    off = p * (cols[:, None] + rows[None, :]) ** 2  # p_ij (p_.i + p_j.)^2
    off_diagonal = (1.0 - kappa) ** 2 * (off.sum() - np.trace(off))
    variance = (diagonal + off_diagonal - (kappa - expected * (1.0 - kappa)) ** 2) / (
        n * (1.0 - expected) ** 2
    )
    half = norm.ppf(0.5 + level / 2.0) * math.sqrt(max(variance, 0.0))
    return float(kappa), max(-1.0, float(kappa - half)), min(1.0, float(kappa + half))


@dataclass
class _Tally:
    units: int = 0
    agreed: int = 0
    numeric: int = 0
    exact: int = 0
    pairs: Counter[tuple[str, str]] = field(default_factory=Counter)  # categorical label pairs, for kappa

    def add(self, other: _Tally) -> None:
        self.units += other.units
        self.agreed += other.agreed
        self.numeric += other.numeric
        self.exact += other.exact
        self.pairs.update(other.pairs)


AGREEMENT_COLUMNS = [
    "pair",
    "reviewer_1",
    "reviewer_2",
    "table",
    "field",
    "field_type",
    "units",
    "agreed",
    "agreement",
    "numeric_units",
    "numeric_exact",
    "kappa",
    "kappa_low",
    "kappa_high",
    "kappa_units",
]


def _agreement(form: Form, reviewers: tuple[Reviewer, ...], lined: dict[str, LinedTable]) -> pd.DataFrame:
    """Per reviewer pair: each field's, each table's and the overall agreement.

    A unit is a value either reviewer of the pair entered (a missing code counts; both empty does not). It
    agrees as in `compare`. `numeric_exact` is the share of values both gave as numbers that are exactly equal.
    Kappa is computed for category and TRUE/FALSE fields over the values both entered (NR and NA are
    categories too), per field and pooled per table and overall with each label qualified by its field.
    """
    by_table: dict[str, dict[str, list[Unit]]] = {}
    alike: dict[str, dict[str, _Tally]] = {}  # the values every reviewer typed alike: the same for every pair
    for table in form.tables.values():
        lt = lined[table.name]
        members = by_table.setdefault(table.name, {})
        for u in lt.slow.values():
            if u.field != ROW:
                members.setdefault(u.field, []).append(u)
        alike[table.name] = {f.name: _alike(f, lt) for f in lt.compared if lt.agreed[f.name].any()}
    rows = []
    for (i, r1), (j, r2) in itertools.combinations(enumerate(reviewers), 2):
        pair = {"pair": f"{r1.letter}-{r2.letter}", "reviewer_1": r1.name, "reviewer_2": r2.name}
        overall = _Tally()
        for table in form.tables.values():
            whole = _Tally()
            members_of, same = by_table[table.name], alike[table.name]
            for name in (n for n in table.fields if n in members_of or n in same):  # in the form's order
                f = table.fields[name]
                tally = _tally(f, members_of.get(name, []), i, j)
                if name in same:
                    tally.add(same[name])
                if not tally.units:
                    continue
                rows.append(
                    pair | {"table": table.name, "field": name, "field_type": f.type} | _figures(tally)
                )
                whole.add(_qualified(tally, name))
            if whole.units:
                rows.append(pair | {"table": table.name, "field": "", "field_type": ""} | _figures(whole))
                overall.add(_qualified(whole, table.name))
        rows.append(pair | {"table": "", "field": "", "field_type": ""} | _figures(overall))
    frame = pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)
    return frame.astype(
        {"units": "int64", "agreed": "int64", "numeric_units": "int64", "kappa_units": "int64"}
    )


def _alike(f: Field, lt: LinedTable) -> _Tally:
    """The tally of the values of `f` every reviewer typed alike (counted from the first reviewer's)."""
    at = lt.positions[0][lt.agreed[f.name]]
    cols = lt.columns[0]
    tally = _Tally(len(at), len(at))
    if f.numeric:
        tally.numeric = tally.exact = int(cols.notna[f.name][at].sum())
    if f.type in ("category", "boolean"):
        values, codes = cols.values[f.name][at].tolist(), cols.codes[f.name][at].tolist()
        labels = Counter(code or show(v) for v, code in zip(values, codes, strict=True))
        tally.pairs = Counter({(label, label): n for label, n in labels.items()})
    return tally


def _tally(f: Field, members: list[Unit], i: int, j: int) -> _Tally:
    tally = _Tally()
    for u in members:
        a, b = u.entries[i], u.entries[j]
        if not (a.filled or b.filled):
            continue
        tally.units += 1
        tally.agreed += (i, j) in u.agreeing
        if f.numeric and a.value is not None and b.value is not None:
            tally.numeric += 1
            tally.exact += float(a.value) == float(b.value)
        if f.type in ("category", "boolean") and a.filled and b.filled:
            tally.pairs[(a.shown, b.shown)] += 1
    return tally


def _qualified(tally: _Tally, prefix: str) -> _Tally:
    """The same tally with its kappa labels prefixed, so pooled labels of different fields stay apart."""
    pairs = Counter({(f"{prefix}={a}", f"{prefix}={b}"): n for (a, b), n in tally.pairs.items()})
    return _Tally(tally.units, tally.agreed, tally.numeric, tally.exact, pairs)


def _figures(t: _Tally) -> dict[str, object]:
    kappa, low, high = _kappa(t.pairs) if t.pairs else (math.nan,) * 3
    return {
        "units": t.units,
        "agreed": t.agreed,
        "agreement": 100.0 * t.agreed / t.units if t.units else math.nan,
        "numeric_units": t.numeric,
        "numeric_exact": 100.0 * t.exact / t.numeric if t.numeric else math.nan,
        "kappa": kappa,
        "kappa_low": low,
        "kappa_high": high,
        "kappa_units": sum(t.pairs.values()),
    }


def _pct(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1f}%"


def _num(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}"


def records(et: ExtractedTable) -> tuple[dict[int, dict[str, object]], dict[int, dict[str, str]]]:
    """A table's values (plain Python, None for missing) and missing codes by sheet row and field."""
    rows = list(et.data.index)
    columns = {k: [plain_value(v) for v in et.data[k].tolist()] for k in et.data.columns}
    codes = {k: et.missing[k].tolist() for k in et.missing.columns}
    return (
        {row: {k: column[i] for k, column in columns.items()} for i, row in enumerate(rows)},
        {row: {k: column[i] for k, column in codes.items()} for i, row in enumerate(rows)},
    )
