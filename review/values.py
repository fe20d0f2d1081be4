"""What reviewers type, turned into typed values.

One function, `parse_value`, reads a raw cell (as python-calamine or a CSV gives it) for a field of the form.
It accepts what people really type when the meaning is unambiguous ("n=73", "49.3%", "1,234", "n/r", dates as
text or Excel serials) and says so with a warning code; it refuses anything that could mean two things with an
error code. Codes are those of review.issues.CODES.

A column of 300,000 cells holds a few thousand distinct values: `parse_column` parses each distinct value once
and gives every cell its result by index, so reading costs a hash per cell instead of a parse.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from .forms import MISSING_CODES, Field

EMPTY = ""  # not yet extracted; distinct from the missing codes NR and NA, and from 0

_MISSING_VARIANTS = {
    "nr": "NR",
    "n/r": "NR",
    "n.r.": "NR",
    "n.r": "NR",
    "not reported": "NR",
    "not stated": "NR",
    "na": "NA",
    "n/a": "NA",
    "n.a.": "NA",
    "n.a": "NA",
    "not applicable": "NA",
}
# Text fields whose content is prose: surrounding spaces there are not worth a warning.
_PROSE_TYPES = ("text",)

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}([, ]\d{3})+(\.\d+)?$")
_COUNT_PREFIX = re.compile(r"^[nN]\s*=\s*(.+)$")
_AMBIGUOUS_NUMBER = re.compile(
    r"(^[<>≤≥~≈]|^(about|approx\.?|approximately|ca\.?)\s|\d\s*[-–—]\s*\d|\bto\b|\bor\b|±|\+/-|\(|^\d+,\d{1,2}$|"
    r"^\d{1,3}(\.\d{3})+,\d+$)",
    re.IGNORECASE,
)
_ISO_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")
_SLASH_DATE = re.compile(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$")
_YMD_SLASH = re.compile(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})$")
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1
    )
}
_EXCEL_EPOCH = dt.date(1899, 12, 30)  # Excel's day 0 on the 1900 date system, allowing for its 1900 leap bug
_EXACT_LIMIT = 2.0**53
_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}


@dataclass(slots=True)  # not frozen: created once per cell, and frozen dataclasses are slow to build
class Parsed:
    """A typed value (None when missing or refused), its missing code, and what parsing had to say."""

    value: object = None
    missing: str = EMPTY  # "NR", "NA" or EMPTY; EMPTY with value None means the cell is empty
    codes: tuple[str, ...] = ()
    note: str = ""  # detail for the message, e.g. what the value was read as

    @property
    def is_empty(self) -> bool:
        return self.value is None and self.missing == EMPTY


def parse_value(raw: Any, field: Field, *, from_text: bool = False) -> Parsed:
    """Parse one raw cell for `field`. `from_text` is set for CSV input, where every value is text."""
    # raw is any cell value; Any, not object: the fast path tests `type(raw)`, which mypy does not narrow on
    kind = type(raw)
    if kind is float:  # the common case for numeric cells: skip the general path
        if math.isnan(raw):
            return Parsed()
        if field.type in ("number", "percent") and math.isfinite(raw):
            return Parsed(raw)
    elif raw is None:
        return Parsed()
    elif (
        kind is str
        and field.type == "text"
        and raw
        and raw == raw.strip()
        and "  " not in raw
        and raw not in MISSING_CODES
        and raw.casefold() not in _MISSING_VARIANTS
    ):
        return Parsed(raw)
    codes: list[str] = []
    if isinstance(raw, str):
        text = " ".join(raw.split())
        if text != raw and text and (field.type not in _PROSE_TYPES or field.references or _is_id(field)):
            codes.append("extra-spaces")
        if not text:
            return Parsed()
        if text in MISSING_CODES:
            return Parsed(missing=text, codes=tuple(codes))
        variant = _MISSING_VARIANTS.get(text.casefold())
        if variant and not (field.type == "category" and text in field.values):
            return Parsed(missing=variant, codes=(*codes, "missing-code-variant"), note=f"read as {variant}")
        raw = text
    parse = _PARSERS[field.type]
    parsed = parse(raw, field, from_text)
    return Parsed(parsed.value, parsed.missing, (*codes, *parsed.codes), parsed.note)


def _is_id(field: Field) -> bool:
    return field.name.endswith("_id")


# --- numbers -----------------------------------------------------------------------------------------------


def _parse_number(raw: object, field: Field, from_text: bool) -> Parsed:
    if isinstance(raw, (bool, dt.date, dt.time, dt.timedelta)):
        return Parsed(codes=("not-a-number",), note=f"{raw!r} is not a number")
    if isinstance(raw, (int, float)):
        return _as_type(float(raw), field, ())
    text = str(raw).replace("\u2212", "-")  # a typographic minus is still a minus
    codes: list[str] = [] if from_text else ["number-as-text"]
    prefix = _COUNT_PREFIX.match(text)
    if prefix:
        text = prefix.group(1).strip()
        codes = ["count-prefix"]
    if text.endswith("%"):
        if field.type != "percent":
            return Parsed(
                codes=("ambiguous-number",),
                note=f"{raw!r} is a percentage in a {field.type} field; type it in the Percent column",
            )
        text = text[:-1].strip()
        codes = ["percent-sign"]
    if _NUMBER.match(text):
        return _as_type(float(text), field, tuple(codes))
    if _THOUSANDS.match(text):
        return _as_type(float(text.replace(",", "").replace(" ", "")), field, ("thousands-separator",))
    if _AMBIGUOUS_NUMBER.search(text):
        return Parsed(codes=("ambiguous-number",), note=f"{raw!r} could mean more than one number")
    return Parsed(codes=("not-a-number",), note=f"{raw!r} is not a number")


def _as_type(number: float, field: Field, codes: tuple[str, ...]) -> Parsed:
    if not math.isfinite(number):
        return Parsed(codes=("not-a-number",), note=f"{number} is not a finite number")
    if field.type == "integer":
        if abs(number) >= _EXACT_LIMIT:  # beyond what a float (Excel, CSV readers) holds exactly
            return Parsed(codes=("number-too-large",), note=f"{number:g} is beyond 2^53")
        if number != int(number):
            return Parsed(codes=("not-a-whole-number",), note=f"{number:g} has decimals")
        return Parsed(int(number), codes=codes)
    return Parsed(number, codes=codes)


# --- dates ---------------------------------------------------------------------------------------------------
# Dates are kept as ISO-8601 text at the precision the report gives ("2000-06" for June 2000): a datetime
# would invent a day the report never stated.


def _parse_date(raw: object, field: Field, from_text: bool) -> Parsed:
    if isinstance(raw, dt.datetime):
        return Parsed(raw.date().isoformat())
    if isinstance(raw, dt.date):
        return Parsed(raw.isoformat())
    if isinstance(raw, bool):
        return Parsed(codes=("not-a-date",), note=f"{raw!r} is not a date")
    if isinstance(raw, (int, float)):
        if not math.isfinite(raw):
            return Parsed(codes=("not-a-date",), note=f"{raw!r} is not a date")
        if raw == int(raw) and 1900 <= raw <= 2100:
            return Parsed(str(int(raw)))  # a year typed as a number
        if raw == int(raw) and 1 <= raw <= 2958465:
            day = _EXCEL_EPOCH + dt.timedelta(days=int(raw))
            return Parsed(day.isoformat(), codes=("date-serial",), note=f"{raw:g} read as {day.isoformat()}")
        return Parsed(codes=("not-a-date",), note=f"{raw!r} is not a date")
    text = str(raw)
    iso = _ISO_DATE.match(text)
    if iso:
        y, m, d = iso.groups()
        return _checked_date(y, m, d, codes=())
    ymd = _YMD_SLASH.match(text)
    if ymd:
        y, m, d = ymd.groups()
        return _checked_date(y, m, d, codes=("date-as-text",))
    slash = _SLASH_DATE.match(text)
    if slash:
        first, second, year = (int(g) for g in slash.groups())
        if first <= 12 and second <= 12 and first != second:
            return Parsed(codes=("ambiguous-date",), note=f"{text!r} could be day/month or month/day")
        dd, mm = (first, second) if first > 12 else (second, first)
        return _checked_date(str(year), str(mm), str(dd), codes=("date-as-text",))
    named = _named_month_date(text)
    if named:
        return _checked_date(*named, codes=("date-as-text",))
    return Parsed(codes=("not-a-date",), note=f"{text!r} is not a date; type YYYY-MM-DD, YYYY-MM or YYYY")


def _named_month_date(text: str) -> tuple[str, str, str | None] | None:
    """'June 2000', 'Jun 1, 2000', '1 June 2000' -> (year, month, day or None)."""
    words = re.findall(r"[A-Za-z]+|\d+", text)
    months = [w for w in words if w[:3].casefold() in _MONTHS and w.isalpha()]
    numbers = [w for w in words if w.isdigit()]
    if len(months) != 1 or len(words) != len(months) + len(numbers) or not 1 <= len(numbers) <= 2:
        return None
    year = [n for n in numbers if len(n) == 4]
    day = [n for n in numbers if len(n) <= 2]
    if len(year) != 1 or len(day) > 1:
        return None
    return year[0], str(_MONTHS[months[0][:3].casefold()]), day[0] if day else None


def _checked_date(year: str, month: str | None, day: str | None, codes: tuple[str, ...]) -> Parsed:
    try:
        if day:
            assert month is not None  # every date pattern with a day has a month
            return Parsed(dt.date(int(year), int(month), int(day)).isoformat(), codes=codes)
        if month:
            dt.date(int(year), int(month), 1)
            return Parsed(f"{int(year):04d}-{int(month):02d}", codes=codes)
        return Parsed(f"{int(year):04d}", codes=codes)
    except ValueError:
        return Parsed(codes=("not-a-date",), note="no such date")


# --- the rest ------------------------------------------------------------------------------------------------


def _parse_boolean(raw: object, field: Field, from_text: bool) -> Parsed:
    if isinstance(raw, bool):
        return Parsed(raw)
    if isinstance(raw, (int, float)) and raw in (0, 1):
        return Parsed(bool(raw))
    folded = str(raw).strip().casefold()
    if folded in _TRUE:
        return Parsed(True)
    if folded in _FALSE:
        return Parsed(False)
    return Parsed(codes=("not-a-boolean",), note=f"{raw!r} is not TRUE or FALSE")


def _parse_category(raw: object, field: Field, from_text: bool) -> Parsed:
    text = _as_text(raw)
    if text in field.values:
        return Parsed(text)
    folded = _fold(text)
    for allowed in field.values:
        if _fold(allowed) == folded:
            return Parsed(allowed, codes=("vocabulary-case",), note=f"read as {allowed!r}")
    # Left as typed: the schema's vocabulary check reports it, once, with the allowed values.
    return Parsed(text)


def _parse_text(raw: object, field: Field, from_text: bool) -> Parsed:
    return Parsed(_as_text(raw))


def _as_text(raw: object) -> str:
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))  # an id typed as a number: 2222, not 2222.0
    if isinstance(raw, dt.datetime):
        return raw.date().isoformat() if raw.time() == dt.time() else raw.isoformat()
    if isinstance(raw, dt.date):
        return raw.isoformat()
    return str(raw)


def _fold(text: str) -> str:
    return re.sub(r"[\s_-]+", " ", text).strip().casefold()


_PARSERS = {
    "text": _parse_text,
    "integer": _parse_number,
    "number": _parse_number,
    "percent": _parse_number,
    "date": _parse_date,
    "category": _parse_category,
    "boolean": _parse_boolean,
}


# --- whole columns -------------------------------------------------------------------------------------------


def distinct(column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct raw values of an object array, in order of first appearance, and each cell's index into
    them: cell k holds distinct[codes[k]]. Values of different types stay apart (1.0 is not True, None is not
    NaN), as they parse differently."""
    if not len(column):
        return np.zeros(0, dtype=np.intp), column[:0]
    codes = pd.factorize(column)[0]  # C hashing; equal values of two types merge; missing ones get -1
    if codes.min() < 0:  # None or NaN (a CSV's short row): numbered apart, slower
        codes = pd.factorize(column, use_na_sentinel=False)[0]
    # One type throughout (a C pass, a third of the cost of collecting every cell's type) cannot have merged
    single = infer_dtype(column, skipna=False) in ("string", "floating", "boolean", "integer")
    kinds = set() if single else set(map(type, column))
    if len(kinds & _EQUAL_ACROSS_TYPES) > 1 or kinds - _CELL_TYPES:  # split the merged ones by type
        found, types = pd.factorize(np.fromiter(map(type, column), dtype=object, count=len(column)))
        codes = pd.factorize(codes * len(types) + found)[0]
    # codes are numbered in order of appearance: a value's first cell is where the running maximum grows
    first = np.flatnonzero(np.diff(np.maximum.accumulate(codes), prepend=-1))
    return codes, column[first]


# Types of cell values (calamine's, a CSV's, None for a short row) and those whose values can be equal to a value
# of another type (1 == 1.0 == True; None and NaN hash alike for pandas).
_CELL_TYPES = {str, float, int, bool, type(None), dt.datetime, dt.date, dt.time, dt.timedelta}
_EQUAL_ACROSS_TYPES = {float, int, bool, type(None)}


@dataclass(slots=True)
class ParsedColumn:
    """A column parsed distinct value by distinct value: `parsed[codes[k]]` is cell k's result."""

    codes: np.ndarray
    raw: np.ndarray  # the distinct raw values
    parsed: list[Parsed]

    def cells(self, of: Any, dtype: Any = object) -> Any:
        """`of(parsed)` for each cell: an object array, or a pandas array of `dtype`."""
        out = np.empty(len(self.parsed), dtype=object)
        out[:] = [of(p) for p in self.parsed]
        if dtype is object:
            return out[self.codes]
        return pd.Series(out, dtype=object).astype(dtype).array.take(self.codes)


def parse_column(column: np.ndarray, field: Field, *, from_text: bool = False, skip=None) -> ParsedColumn:
    """`parse_value` over an object array, once per distinct value; `skip(raw)` true leaves that value unparsed
    (an empty Parsed) for the caller to read cell by cell."""
    codes, raw = distinct(column)
    parsed = [
        Parsed() if skip is not None and skip(v) else parse_value(v, field, from_text=from_text) for v in raw
    ]
    return ParsedColumn(codes, raw, parsed)
