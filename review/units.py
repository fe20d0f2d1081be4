"""What each reviewer entered for one value (Entry), one value across reviewers (Unit), and the words
compare, reconcile and the workbooks share: discrepancy types, how a consensus value came about, show()."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .forms import PROVENANCE_FIELDS

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
