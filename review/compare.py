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
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from .agreement import AGREEMENT_COLUMNS, _agreement, cohen_kappa
from .errors import ReviewError
from .extraction import Extraction
from .forms import Form
from .issues import ERROR
from .lineup import Columns, LinedTable, _line_up
from .matching import tolerance
from .units import (
    AGREED,
    ANNOTATIONS,
    DERIVED,
    DISAGREE,
    EQUIVALENT,
    NO_ROW,
    OTHER,
    ROW,
    SINGLE,
    TYPES,
    Entry,
    Reviewer,
    Unit,
    plain_value,
    show,
)
from .words import counted

__all__ = [
    "AGREED",
    "AGREEMENT_COLUMNS",
    "ANNOTATIONS",
    "DERIVED",
    "DISAGREE",
    "EQUIVALENT",
    "NO_ROW",
    "OTHER",
    "ROW",
    "SINGLE",
    "TYPES",
    "Columns",
    "Comparison",
    "Entry",
    "LinedTable",
    "Reviewer",
    "Unit",
    "cohen_kappa",
    "compare",
    "file_sha256",
    "plain_value",
    "show",
    "tolerance",
]


_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


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


def _pct(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1f}%"


def _num(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}"
