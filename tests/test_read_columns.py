"""Reading column by column (each distinct value parsed once) gives what reading cell by cell gave: the same typed
values, missing codes, kept rows and issues, in the same order. The reference below is the per-cell reader the
toolkit had before (review.workbook._read_rows up to commit 93f6ca3, now review.extraction), kept here as the definition of the result.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.utils import get_column_letter

from review import extraction as wbm
from review.errors import UnreadableInput
from review.files import MAX_CELL_CHARS
from review.forms import default_form_path, load_form
from review.issues import CODES, ERROR, Issue
from review.schema import DTYPES
from review.sheetscan import SheetFacts
from review.values import distinct, parse_value

FORM = load_form(default_form_path())


def reference_read(rows, t, facts, *, from_text):
    """Cell by cell: data, missing codes and issues of one sheet's rows (the body of the former _read_rows)."""
    issues: list[Issue] = []
    header = rows[0] if rows else []
    columns: dict[str, int] = {}
    for i, h in enumerate(header):
        if h in ("", None):
            continue
        f = t.field_for_header(str(h))
        if f is not None and f.name not in columns:
            columns[f.name] = i
    letters = {name: get_column_letter(i + 1) for name, i in columns.items()}
    flagged = facts.formulas.keys() | facts.errors.keys()
    special = flagged | facts.no_value | facts.long_text.keys() | facts.formats.keys()
    body = rows[1:]
    cells = {name: [row[i] if i < len(row) else None for row in body] for name, i in columns.items()}
    kept = [any(filled) for filled in zip(*(map(wbm._filled, c) for c in cells.values()), strict=True)]
    for ref in flagged:
        r = wbm._row_number(ref)
        if r is not None and 2 <= r < len(kept) + 2 and ref[: -len(str(r))] in letters.values():
            kept[r - 2] = True
    positions = [p for p, keep in enumerate(kept) if keep]
    found = []
    study_column = cells.get("study_id")
    values, codes = {}, {}
    for order, (name, column) in enumerate(cells.items()):
        f, letter = t.fields[name], letters[name]
        out_values, out_codes = [], []
        cache = {}  # as the former reader had: -0.0 takes the result of 0.0 when that came first
        for p in positions:
            raw = column[p]
            ref = f"{letter}{p + 2}"
            if ref in special or (raw.__class__ is str and len(raw) > MAX_CELL_CHARS):
                parsed = wbm._cell(raw, f, ref, facts, from_text)
            else:
                key = (raw.__class__, raw)
                if key not in cache:
                    cache[key] = parse_value(raw, f, from_text=from_text)
                parsed = cache[key]
            refused = any(CODES[c].severity == ERROR for c in parsed.codes)
            out_values.append(None if refused else parsed.value)
            out_codes.append(parsed.missing)
            study = wbm._text([study_column[p]], 0) if study_column is not None else ""
            for code in parsed.codes:
                found.append(
                    (
                        p,
                        order,
                        Issue(
                            CODES[code].severity,
                            code,
                            wbm._message(code, f, parsed.note),
                            file="f.xlsx",
                            sheet=t.sheet,
                            cell=ref,
                            table=t.name,
                            study_id=study,
                            field=name,
                            value=facts.errors.get(ref) or wbm._shown(raw),
                        ),
                    )
                )
        values[name], codes[name] = out_values, out_codes
    found.sort(key=lambda x: (x[0], x[1]))
    issues.extend(i for _, _, i in found)
    idx = pd.Index([p + 2 for p in positions], name="row", dtype="int64")
    data = pd.DataFrame({n: pd.Series(values[n], index=idx, dtype=object) for n in t.fields}, index=idx)
    data = data.astype({n: DTYPES[t.fields[n].type] for n in t.fields})
    missing = pd.DataFrame({n: pd.Series(codes[n], index=idx, dtype=object) for n in t.fields}, index=idx)
    return data, missing.astype(str), issues


RAW = st.one_of(
    st.sampled_from(
        [
            None,
            "",
            " ",
            "NR",
            "NA",
            "n/r",
            "not applicable",
            "n=73",
            "49.3%",
            "1,234",
            "12,5",
            "73",
            " 73 ",
            "abc",
            "2000-06",
            "12/05/2000",
            "25/12/2000",
            "June 2000",
            "TRUE",
            "yes",
            "any",
            "Any",
            "3-4",
            "single-arm",
            "Single Arm",
            "x" * (MAX_CELL_CHARS + 5),
            "=SUM(A1)",
            True,
            False,
            0.0,
            -0.0,
            1.0,
            36678.0,
            2000.0,
            0.151,
            1e20,
            float("inf"),
            float("nan"),
            dt.datetime(2000, 6, 1),
            dt.date(2001, 2, 3),
        ]
    ),
    st.floats(min_value=-1e6, max_value=1e6),
    st.integers(-5, 2000),
    st.text(alphabet="ab 0123456789.,%-/", max_size=8),
)
TABLES = ["studies", "arms", "response", "adverse_events"]


@st.composite
def sheets(draw):
    t = FORM.tables[draw(st.sampled_from(TABLES))]
    width = len(t.fields)
    header = [f.header for f in t.fields.values()]
    extra = draw(st.integers(0, 2))  # columns beyond the header: values there are reported
    header += [""] * extra
    n = draw(st.integers(0, 25))
    ragged = draw(st.booleans())
    body = []
    for _ in range(n):
        length = draw(st.integers(0, width + extra)) if ragged else width + extra
        body.append([draw(RAW) for _ in range(length)])
    facts = SheetFacts()
    refs = st.tuples(st.integers(0, width + extra), st.integers(1, n + 3)).map(
        lambda cr: f"{get_column_letter(cr[0] + 1)}{cr[1]}"
    )
    facts.formulas = {r: "A1+1" for r in draw(st.lists(refs, max_size=4))}
    facts.no_value = {r for r in facts.formulas if draw(st.booleans())}
    facts.errors = {r: draw(st.sampled_from(["#DIV/0!", "#N/A"])) for r in draw(st.lists(refs, max_size=3))}
    facts.formats = {
        r: draw(st.sampled_from(["percent", "month", "year"])) for r in draw(st.lists(refs, max_size=4))
    }
    facts.long_text = {r: MAX_CELL_CHARS + 1 for r in draw(st.lists(refs, max_size=2))}
    return t, [header, *body], facts, draw(st.booleans())


def _issue_rows(issues):
    return [vars(i) if hasattr(i, "__dict__") else i for i in issues]


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(sheets())
def test_column_reading_equals_cell_reading(sheet):
    t, rows, facts, from_text = sheet
    issues: list[Issue] = []
    got = wbm._read_rows(rows, t, "f.xlsx", t.sheet, issues, facts, from_text=from_text)
    data, missing, expected = reference_read(rows, t, facts, from_text=from_text)
    pd.testing.assert_frame_equal(got.data, data)
    pd.testing.assert_frame_equal(got.missing, missing)
    cell_issues = [i for i in issues if i.code not in ("unknown-column", "merged-cells")]
    assert [repr(i) for i in cell_issues] == [repr(i) for i in expected]


def test_distinct_keeps_types_apart():
    column = np.array(
        [1.0, True, 1, "1", None, float("nan"), 1.0, True, None, dt.date(2000, 1, 1)], dtype=object
    )
    codes, raw = distinct(column)
    assert [type(v).__name__ for v in raw] == ["float", "bool", "int", "str", "NoneType", "float", "date"]
    assert list(codes) == [0, 1, 2, 3, 4, 5, 0, 1, 4, 6]
    assert all(raw[codes[k]] is column[k] or raw[codes[k]] == column[k] for k in range(len(column)) if k != 5)


@pytest.mark.parametrize("body", [[], [["S1"]], [["S1"], [], ["S2", "", "stray"], [" "]]])
def test_short_and_empty_sheets(body):
    t = FORM.tables["studies"]
    rows = [[f.header for f in t.fields.values()], *body]
    issues: list[Issue] = []
    got = wbm._read_rows(rows, t, "f.csv", "", issues, None, from_text=True)
    data, missing, expected = reference_read(rows, t, SheetFacts(), from_text=True)
    pd.testing.assert_frame_equal(got.data, data)
    pd.testing.assert_frame_equal(got.missing, missing)
    assert [repr(i) for i in issues] == [repr(i) for i in expected]


@given(
    st.lists(
        st.sampled_from([1.0, 2.5, True, False, 1, 0, "1", "NR", "", " x", None, dt.date(2000, 1, 1)]),
        max_size=40,
    )
)
def test_distinct_with_one_type_or_many(values):
    """distinct's fast path (one type found by one C pass) and its type-splitting path agree with a dict keyed by
    (type, value): every cell maps to a distinct value of its own type, numbered in order of first appearance."""
    column = np.array(values, dtype=object)
    codes, raw = distinct(column)
    keys: dict = {}
    expected = [keys.setdefault((type(v), "nan" if v != v else v), len(keys)) for v in values]
    assert list(codes) == expected
    assert [type(v) for v in raw] == [k[0] for k in keys]


def test_reading_two_workbooks_at_once_equals_one_by_one(tmp_path):
    from conftest import complete_study, edited, write

    a = write(FORM, tmp_path / "a.xlsx", data=complete_study(), reviewer="A")
    b = write(FORM, tmp_path / "b.xlsx", data=edited("arms", 0, randomised="n=73"), reviewer="B")
    both = wbm.read_extractions([a, b], FORM)
    for got, path in zip(both, (a, b), strict=True):
        alone = wbm.read_workbook(path, FORM)
        assert got.reviewer == alone.reviewer and [repr(i) for i in got.issues] == [
            repr(i) for i in alone.issues
        ]
        for name, table in alone.tables.items():
            pd.testing.assert_frame_equal(got.tables[name].data, table.data)
            pd.testing.assert_frame_equal(got.tables[name].missing, table.missing)
    assert any(i.code == "count-prefix" for i in both[1].issues)
    (tmp_path / "broken.xlsx").write_bytes(b"not a zip")
    with pytest.raises(UnreadableInput, match="broken.xlsx"):  # the first unreadable, in order
        wbm.read_extractions([a, tmp_path / "broken.xlsx", tmp_path / "missing.xlsx"], FORM)
