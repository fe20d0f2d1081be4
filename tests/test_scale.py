"""review.scale on a small sample: the form's checks on pandera's polars backend give the same failures as the
pandas schema, and DuckDB's aggregation of the long adverse-event table gives the counts pandas gives.
Skipped when the optional `scale` extra (polars, duckdb) is not installed."""

from __future__ import annotations

import pandas as pd
import pytest

pl = pytest.importorskip("polars")
duckdb = pytest.importorskip("duckdb")

from review.forms import default_form_path, load_form  # noqa: E402
from review.scale import arm_pairs, failures  # noqa: E402

FORM = load_form(default_form_path())
FIELDS = list(FORM.table("adverse_events").fields)


def _events(rows: list[dict]) -> pl.DataFrame:
    from review.scale import POLARS_TYPES

    types = {f.name: getattr(pl, POLARS_TYPES[f.type]) for f in FORM.table("adverse_events").fields.values()}
    return pl.DataFrame({name: [r.get(name) for r in rows] for name in FIELDS}, schema=types)


def _row(study, arm, term, grade, patients, at_risk, percent=None):
    return {
        "study_id": study,
        "arm_id": arm,
        "term": term,
        "grade": grade,
        "patients": patients,
        "at_risk": at_risk,
        "percent": percent,
    }


def test_polars_failures_carry_the_form_codes():
    frame = _events(
        [
            _row("S1", "a", "Nausea", "any", 10, 100, 10.0),
            _row("S1", "a", "Nausea", "any", 11, 100),  # same key as the row above
            _row("S1", "b", "Nausea", "grade 9", 5, 100),  # not a grade band
            _row("S2", "a", "Rash", "3-4", -1, 0, 250.0),  # negative count, no one at risk, > 100%
        ]
    )
    found = failures(FORM, "adverse_events", frame)
    got = sorted(zip(found["code"], found["field"], found["row"], strict=True))
    key = ", ".join(FORM.table("adverse_events").key)
    assert got == [
        ("duplicate-key", key, 0),
        ("duplicate-key", key, 1),
        ("not-in-vocabulary", "grade", 2),
        ("out-of-range", "at_risk", 3),
        ("out-of-range", "patients", 3),
        ("out-of-range", "percent", 3),
    ]


def test_polars_and_pandas_schemas_agree_on_a_clean_sample():
    from review.schema import table_schema

    rows = [_row(f"S{i}", arm, "Nausea", "any", i, 50) for i in range(1, 30) for arm in ("a", "b")]
    assert failures(FORM, "adverse_events", _events(rows)).empty
    pandas_frame = pd.DataFrame({name: [r.get(name) for r in rows] for name in FIELDS})
    pandas_frame = pandas_frame.astype(
        {n: s.dtype.type for n, s in table_schema(FORM, "adverse_events").columns.items()}
    )
    table_schema(FORM, "adverse_events").validate(pandas_frame, lazy=True)  # raises on any failure


def test_duckdb_pairs_equal_pandas(tmp_path):
    rows = [
        _row("S1", "exp", "Nausea", "any", 30, 100),
        _row("S1", "ctl", "Nausea", "any", 20, 98),
        _row("S1", "exp", "Nausea", "3-4", 4, 100),
        _row("S1", "ctl", "Nausea", "3-4", 1, 98),
        _row("S1", "exp", "Rash", "any", 7, 100),  # no control row: no comparison
        _row("S2", "B", "Nausea", "any", 12, 60),
        _row("S2", "A", "Nausea", "any", 9, 61),
    ]
    events = pd.DataFrame(rows)
    pairs = pd.DataFrame(
        {"study_id": ["S1", "S2"], "experimental_arm": ["exp", "B"], "control_arm": ["ctl", "A"]}
    )
    got = arm_pairs(events, pairs)
    assert list(zip(got["study_id"], got["term"], got["grade"], strict=True)) == [
        ("S1", "Nausea", "3-4"),
        ("S1", "Nausea", "any"),
        ("S2", "Nausea", "any"),
    ]
    assert got[["events_e", "n_e", "events_c", "n_c"]].astype(int).values.tolist() == [
        [4, 100, 1, 98],
        [30, 100, 20, 98],
        [12, 60, 9, 61],
    ]
    assert got["duplicates"].tolist() == [0, 0, 0]
    # The same from a CSV file DuckDB reads in place.
    path = tmp_path / "events.csv"
    events.to_csv(path, index=False)
    from_file = arm_pairs(str(path), pairs)
    pd.testing.assert_frame_equal(from_file, got)
