"""The CSV writer as it was before it went column by column (issue 12): csv.writer over `csv_text(show(value))`,
value by value. The oracle tests/test_csv_vectorised.py holds review.csvs.csv_bytes to, byte for byte.

Kept verbatim apart from imports; not used by the library."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import numpy as np
import pandas as pd

from review.csvs import _NEEDS_LOOK, csv_text
from review.sheets import neutral


def _csv_column(values: pd.Series) -> list[str]:
    kind = values.dtype.kind if isinstance(values.dtype, np.dtype) else "extension"
    items = values.tolist()
    if kind == "f":
        return ["" if x != x else repr(x) for x in items]
    if kind in ("i", "u"):
        return [str(x) for x in items]
    if kind == "b":
        return ["TRUE" if x else "FALSE" for x in items]
    return [
        (x if not x.startswith(_NEEDS_LOOK) else neutral(x)) if type(x) is str else csv_text(x) for x in items
    ]


def _shown_column(items: list, show: Callable[[object], object]) -> list[str]:
    memo: dict[object, str] = {}
    get = memo.get
    out: list[str] = []
    append = out.append
    for x in items:
        t = type(x)
        key = x if t is str else (t, x) if (t is int or t is float) and x == x else None if x is None else out
        if key is out:
            append(csv_text(show(x)))
            continue
        text = get(key)
        if text is None:
            text = memo[key] = csv_text(show(x))
        append(text)
    return out


def csv_bytes(frame: pd.DataFrame, show: Callable[[object], object] | None = None) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([neutral(str(c)) for c in frame.columns])
    if len(frame.columns):
        columns = (
            _shown_column(frame.iloc[:, c].tolist(), show) if show else _csv_column(frame.iloc[:, c])
            for c in range(frame.shape[1])
        )
        writer.writerows(zip(*columns, strict=True))
    else:
        writer.writerows([] for _ in range(len(frame)))
    return buffer.getvalue().encode("utf-8")
