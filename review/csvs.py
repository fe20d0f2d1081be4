"""The CSV dialect every .csv the toolkit makes is written in (the rules for text that never runs are in
review.sheets, shared with the workbooks):

- UTF-8 without a byte-order mark, comma-separated, "\n" line ends, minimal quoting, empty cells for missing
  values, floats as their shortest exact text: what R's read.csv (and pandas, and Excel) read as they are;
- text a spreadsheet would run gets a leading apostrophe (`sheets.neutral`);
- written column by column and streamed in pieces (`csv_chunks`): each distinct value of a column is formatted,
  neutralised and quoted once, so a table of a million rows is written in seconds and never sits in memory as
  text whole; saves are atomic (review.files.atomic_path).
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from .files import atomic_path
from .sheets import FORMULA_START, neutral, plain


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


# Text starting with none of these is written as it is (`neutral` looks at the rest).
_NEEDS_LOOK = ("'", *FORMULA_START)


def _quoting_characters() -> str:
    """The characters that make csv.writer (minimal quoting, "\\n" line ends) quote a field, asked of csv itself
    so that the writer below quotes exactly as it does on any Python version (3.11: comma, quote, newline)."""
    found = ""
    for c in ',"\n\r\t;\x00 ':
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow([f"a{c}b", "x"])
        found += c if buffer.getvalue().startswith('"') else ""
    return found


def _class(characters: str) -> str:
    """A regular expression's character class, each character by its code (Python's re and pyarrow's RE2)."""
    return "[" + "".join(f"\\x{ord(c):02x}" for c in characters) + "]"


_QUOTES = re.compile(_class(_quoting_characters()))
# text that `neutral` or quoting may change (and, in a lone column, empty text): the rest is its own field
_ODD = f"^{_class(''.join(_NEEDS_LOOK))}|{_QUOTES.pattern}"
_ODD_EMPTY = _ODD + "|^$"
_CHUNK = 1 << 14  # rows turned into text at a time: a large table never sits in memory as text whole


def _fields(texts: list[str], lone: bool) -> list[str]:
    """CSV text as fields, quoted as csv.writer quotes them (a lone column's empty field too, as csv.writer
    writes a row of one empty field `""`, not an empty line)."""
    search = _QUOTES.search
    if not lone and not search("".join(texts)):  # the usual case, looked at in one go
        return texts
    return ['"' + t.replace('"', '""') + '"' if search(t) else '""' if lone and not t else t for t in texts]


def _texts(values: list, show: Callable[[object], object] | None) -> list[str]:
    """`csv_text(show(value))` (or `csv_text(value)`) of each value, plain text the short way."""
    shown = [show(x) for x in values] if show is not None else values
    look = _NEEDS_LOOK
    return [t if type(t) is str and not t.startswith(look) else csv_text(t) for t in shown]


# A column's CSV fields: the distinct fields and each row's code into them (codes None: a field per row).
Fields = tuple[np.ndarray, np.ndarray | None]


def _objects(items: list) -> np.ndarray:
    """A list as a one-dimensional object array (np.array would make rows of values that are sequences)."""
    return np.fromiter(items, dtype=object, count=len(items))


def _distinct(values: np.ndarray, show: Callable[[object], object] | None, lone: bool) -> Fields:
    """Each distinct value (by ==, so of one type) turned into its field once: a column of a large review
    repeats a few ids, fields, sources and numbers hundreds of thousands of times. Floats go by bit pattern
    (0.0 and -0.0 apart)."""
    floats = values.dtype.kind == "f"
    codes, uniques = pd.factorize(values.astype(np.float64).view(np.int64) if floats else values)
    items = uniques.view(np.float64).tolist() if floats else uniques.tolist()
    small = np.int8 if len(items) < 2**7 else np.int16 if len(items) < 2**15 else np.int32
    return _objects(_fields(_texts(items, show), lone)), codes.astype(small)


def _text_only(values: pd.Index | np.ndarray) -> bool:
    return pd.api.types.infer_dtype(values, skipna=False) == "string"


def _spread(fields: Fields) -> np.ndarray:
    texts, codes = fields
    return texts if codes is None else texts[codes]


def _column_fields(series: pd.Series, show: Callable[[object], object] | None, lone: bool) -> Fields:
    """One column's CSV fields: `csv_text(show(value))` (or `csv_text(value)`) for every value, quoted."""
    dtype = series.dtype
    kind = dtype.kind if isinstance(dtype, np.dtype) else "extension"
    if isinstance(dtype, pd.CategoricalDtype) and _text_only(dtype.categories):
        # the distinct values are the categories; a missing one (code -1) takes the last field, NaN's (as
        # `tolist` gives it)
        items = [*dtype.categories.tolist(), math.nan]
        return _objects(_fields(_texts(items, show), lone)), series.cat.codes.to_numpy()
    if kind in ("i", "u", "b", "f"):
        return _distinct(series.to_numpy(), show, lone)
    if isinstance(dtype, pd.StringDtype) and show is None and not series.hasnans:
        # text written as it is but where it starts like a formula or holds a quoting character, found by
        # pandas' string methods (in C for pyarrow strings): a column of a different text in every row
        odd = series.str.contains(_ODD_EMPTY if lone else _ODD, regex=True)
        values = _objects(series.tolist())
        at = np.flatnonzero(odd.to_numpy(dtype=bool))
        values[at] = _objects(_fields(_texts(values[at].tolist(), None), lone))
        return values, None
    # object and other columns as plain Python values, as `tolist` gives them (Timestamps, None, ...)
    values = series.to_numpy() if kind == "O" else _objects(series.tolist())
    if _text_only(values):
        return _distinct(values, show, lone)
    # mixed: one type at a time (factorize takes 1, 1.0 and True for one value)
    out = np.empty(len(values), dtype=object)
    types, kinds = pd.factorize(np.frompyfunc(type, 1, 1)(values))
    for k, t in enumerate(kinds):
        at = np.flatnonzero(types == k)
        part = values[at]
        if t is str:
            out[at] = _spread(_distinct(part, show, lone))
        elif t is float or t is bool:
            out[at] = _spread(_distinct(part.astype(t), show, lone))
        elif t is int and -(2**63) <= part.min() and part.max() < 2**63:
            out[at] = _spread(_distinct(part.astype(np.int64), show, lone))
        elif t is type(None):
            out[at] = _fields(_texts([None], show), lone)[0]
        else:  # dates and the rare others, value by value
            out[at] = _objects(_fields(_texts(part.tolist(), show), lone))
    return out, None


def _joined_runs(pieces: list[Fields]) -> list[Fields]:
    """Neighbouring coded columns joined into one (their fields with the comma between) while the pairs that
    occur stay few, each pair joined once: a trail's row has a dozen columns that together take only a few
    forms (basis, decision, adjudicator...), and joining them once per form rather than per row is most of
    what writing the rows costs."""
    out: list[Fields] = []
    run: Fields | None = None
    for texts, codes in pieces:
        if codes is None or run is None:
            if run is not None:
                out.append(run)
            run = (texts, codes) if codes is not None else None
            if codes is None:
                out.append((texts, codes))
            continue
        run_texts, run_codes = run
        assert run_codes is not None
        if len(run_texts) * len(texts) <= 4096:  # few: every pair joined, no counting
            pairs = run_codes.astype(np.int64) * len(texts) + codes
            run = (_objects([a + "," + b for a in run_texts.tolist() for b in texts.tolist()]), pairs)
            continue
        pairs, first = pd.factorize(run_codes.astype(np.int64) * len(texts) + codes)
        if len(first) * 4 > len(codes):  # mostly different pairs: nothing saved
            out.append(run)
            run = (texts, codes)
            continue
        left, right = np.divmod(first, len(texts))
        joined = [a + "," + b for a, b in zip(run_texts[left].tolist(), texts[right].tolist(), strict=True)]
        run = (_objects(joined), pairs)
    if run is not None:
        out.append(run)
    return out


def csv_chunks(frame: pd.DataFrame, show: Callable[[object], object] | None = None) -> Iterator[bytes]:
    """The frame in the project's CSV dialect, as UTF-8 pieces of some thousand rows each (see `csv_bytes`).

    Column by column rather than value by value: each distinct value of a column is turned into text (`show`,
    then `csv_text`) and quoted once, and the rows are joined from the columns' fields; byte for byte what
    csv.writer writes from `csv_text(show(value))` (tests/csv_oracle.py keeps that writer to compare)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([neutral(str(c)) for c in frame.columns])
    yield buffer.getvalue().encode("utf-8")
    width = frame.shape[1]
    if not width:
        yield b"\n" * len(frame)
        return
    columns = [frame.iloc[:, c] for c in range(width)]
    # a Categorical's fields once (one per category); other columns piece by piece, so a column of a
    # different text in every row is never held whole as text
    coded = [
        _column_fields(column, show, width == 1) if isinstance(column.dtype, pd.CategoricalDtype) else None
        for column in columns
    ]
    for start in range(0, len(frame), _CHUNK):
        rows = slice(start, start + _CHUNK)
        pieces: list[Fields] = []
        for column, done in zip(columns, coded, strict=True):
            if done is None:
                pieces.append(_column_fields(column.iloc[rows], show, width == 1))
            elif done[1] is None:  # made whole: this piece's rows of it
                pieces.append((done[0][rows], None))
            else:  # a Categorical's: code -1 (missing) is its last field
                texts, codes = done[0], done[1][rows].astype(np.int32)
                pieces.append((texts, np.where(codes < 0, len(texts) - 1, codes)))
        fields = [(t if c is None else t[c]).tolist() for t, c in _joined_runs(pieces)]
        lines = fields[0] if width == 1 else map(",".join, zip(*fields, strict=True))
        yield ("\n".join(lines) + "\n").encode("utf-8")


def csv_bytes(frame: pd.DataFrame, show: Callable[[object], object] | None = None) -> bytes:
    """The frame in the project's CSV dialect. `show` turns each value into what is written first (it may return
    text or a number, and must write equal values of one type alike); text is neutralised either way."""
    return b"".join(csv_chunks(frame, show))


def write_csv(frame: pd.DataFrame, path: str | Path, show: Callable[[object], object] | None = None) -> Path:
    """Write `frame` as CSV (the project's dialect), atomically."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as out:
        for chunk in csv_chunks(frame, show):
            out.write(chunk)
    return path
