"""The column-by-column CSV writer (review.csvs.csv_bytes) writes byte for byte what the value-by-value writer
it replaced wrote (tests/csv_oracle.py): same quoting, neutralised formulas, numbers, missing values, line ends,
on random frames of hostile text, numbers of every kind, dates and missing values, with and without `show`."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from csv_oracle import csv_bytes as oracle_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import review.csvs as csvs
from review.csvs import csv_bytes, write_csv
from review.units import show

HOSTILE = ["=cmd|' /C calc'!A0", "+1+1", "-2-3", "@SUM(A1)", "\tx", "\rx", "'=x", "''+y", "-1.5", "+3", ""]
TEXT = st.text(
    alphabet=st.sampled_from(list("=+-@\t\r\n\",' ;aZ0.1eE€é😀\x00"))
    | st.characters(blacklist_categories=("Cs",)),
    max_size=8,
)
NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-300, 5e-324, 1e300, 0.1, 1.0, 2.0**53, -1.5]),
)
VALUE = st.one_of(
    TEXT,
    st.sampled_from(HOSTILE + ["NR", "NA", "a,b", 'say "hi"', "line\nbreak"]),
    NUMBERS,
    st.booleans(),
    st.none(),
    st.just(float("nan")),
    st.just(pd.NA),
    st.dates(),
    st.datetimes(),
)


@st.composite
def columns(draw, n: int) -> pd.Series:
    kind = draw(
        st.sampled_from(
            ["mixed", "text", "str", "float", "int", "bool", "date", "string", "Int64", "category"]
        )
    )
    if kind == "mixed":
        return pd.Series(draw(st.lists(VALUE, min_size=n, max_size=n)), dtype=object)
    if kind == "text":
        pool = draw(st.lists(st.one_of(TEXT, st.sampled_from(HOSTILE)), min_size=1, max_size=5))
        return pd.Series(draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n)), dtype=object)
    if kind == "float":
        floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, -0.0, 1e-300, 0.1])
        return pd.Series(draw(st.lists(floats, min_size=n, max_size=n)), dtype=np.float64)
    if kind == "int":
        ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)
        return pd.Series(draw(st.lists(ints, min_size=n, max_size=n)), dtype=np.int64)
    if kind == "bool":
        return pd.Series(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    if kind == "date":
        days = st.lists(
            st.dates(dt.date(1900, 1, 1), dt.date(2200, 1, 1)) | st.none(), min_size=n, max_size=n
        )
        return pd.Series(pd.to_datetime(draw(days)))
    if kind == "str":  # pandas' default for text (pyarrow strings where installed), no missing values
        pool = draw(st.lists(st.one_of(TEXT, st.sampled_from(HOSTILE)), min_size=1, max_size=5))
        return pd.Series(draw(st.lists(st.sampled_from(pool) | TEXT, min_size=n, max_size=n)), dtype="str")
    if kind == "string":
        return pd.Series(draw(st.lists(TEXT | st.none(), min_size=n, max_size=n)), dtype="string")
    if kind == "Int64":
        ints = st.integers(min_value=-(2**40), max_value=2**40) | st.none()
        return pd.Series(draw(st.lists(ints, min_size=n, max_size=n)), dtype="Int64")
    pool = draw(st.lists(TEXT, min_size=1, max_size=4, unique=True))
    return pd.Series(
        draw(st.lists(st.sampled_from(pool) | st.none(), min_size=n, max_size=n)), dtype="category"
    )


@st.composite
def frames(draw) -> pd.DataFrame:
    n = draw(st.integers(min_value=0, max_value=12))
    width = draw(st.integers(min_value=0, max_value=4))
    names = draw(st.lists(st.one_of(TEXT, st.sampled_from(HOSTILE)), min_size=width, max_size=width))
    data = {i: draw(columns(n)).reset_index(drop=True) for i in range(width)}
    frame = pd.DataFrame(data, index=range(n)) if width else pd.DataFrame(index=range(n))
    frame.columns = names
    return frame


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames(), st.sampled_from([None, show]), st.sampled_from([1, 3, 1 << 16]))
def test_column_writer_equals_the_value_writer(frame, shown, chunk):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(csvs, "_CHUNK", chunk)  # pieces of 1 and 3 rows: joined at every boundary
        assert csv_bytes(frame, shown) == oracle_bytes(frame, shown)


def test_hostile_values_in_one_column_of_every_kind():
    values = [
        *HOSTILE,
        "NR",
        'a "quoted", text\nwith lines\r\nand tabs\t',
        "ünïcødé 😀",
        None,
        float("nan"),
        pd.NA,
        pd.NaT,
        0,
        1,
        -1,
        2**64,
        -(2**65),
        0.0,
        -0.0,
        1e-300,
        5e-324,
        math.inf,
        -math.inf,
        0.1 + 0.2,
        1.0,
        True,
        False,
        dt.date(2020, 2, 29),
        dt.datetime(2020, 1, 1, 12, 30),
        pd.Timestamp("2021-03-04"),
        np.int64(7),
        np.float64(2.5),
    ]
    frame = pd.DataFrame({"=x": pd.Series(values, dtype=object), "n": range(len(values))})
    for shown in (None, show):
        assert csv_bytes(frame, shown) == oracle_bytes(frame, shown)
        assert csv_bytes(frame[["=x"]], shown) == oracle_bytes(frame[["=x"]], shown)  # lone column: ""
    written = csv_bytes(frame).decode("utf-8").split("\n")
    assert written[0] == "'=x,n" and written[1] == "'=cmd|' /C calc'!A0,0"
    assert written[2] == "'+1+1,1" and written[9] == "-1.5,8"  # a plain number is not neutralised


def test_a_large_frame_in_pieces_equals_the_value_writer(tmp_path):
    rng = np.random.default_rng(12)
    n = 200_003  # more than three pieces
    words = np.array(["ok", "=cmd", "a,b", 'q"', "-1", "line\nx", "", "NR", "é"], dtype=object)
    frame = pd.DataFrame(
        {
            "word": words[rng.integers(0, len(words), n)],
            "where": [f"a.xlsx:Arms!B{i}" for i in range(n)],
            "x": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n).round(3)),
            "k": rng.integers(-5, 5, n),
            "mixed": pd.Series(rng.choice(np.array([1, 1.0, True, "1", None, -0.0], dtype=object), n)),
        }
    )
    assert csv_bytes(frame, show) == oracle_bytes(frame, show)
    assert write_csv(frame, tmp_path / "f.csv").read_bytes() == oracle_bytes(frame)


def test_the_consensus_files_are_what_the_value_writer_wrote(tmp_path):
    """The example review's consensus: the trail (Categoricals, pyarrow strings) and the tables written by
    write_consensus equal the former writer's files from the same values as plain objects, with `show`."""
    from conftest import ROOT

    from review.project import load_review
    from review.reconcile import TRAIL, read_decisions, reconcile, write_consensus
    from review.workbook import read_extraction

    review = load_review(ROOT / "data" / "gist_imatinib")
    extractions = [read_extraction(path, review.form) for path in review.reviewers]
    consensus = reconcile(extractions, read_decisions(review.adjudication))
    trail = consensus.trail
    assert (trail["basis"] == "decided").any() and isinstance(trail["basis"].dtype, pd.CategoricalDtype)
    written = {p.name: p.read_bytes() for p in write_consensus(consensus, tmp_path / "c")}
    frames = {f"{name}.csv": frame for name, frame in consensus.tables.items()}
    frames[TRAIL] = pd.DataFrame({c: trail[c].astype(object).tolist() for c in trail}, dtype=object)
    for name, frame in frames.items():
        assert written[name] == oracle_bytes(frame, show), name
