"""Beyond one machine: the form's checks on pandera's polars backend, and the long tables aggregated by DuckDB.

A review toolkit reads workbooks; meta-research reads thousands of reviews' tables at once (every adverse event of
every trial in a registry, tens of millions of rows). Nothing here is home-made: the same generated pandera checks
(review.schema.field_checks) run on polars, which is multi-threaded and streams data larger than memory, and
DuckDB aggregates Parquet or CSV files in place with SQL. Both are optional (`pip install -e '.[scale]'`).

    >>> import polars as pl                                            # doctest: +SKIP
    >>> from review.scale import polars_schema, failures, arm_pairs
    >>> events = pl.scan_parquet("all_adverse_events/*.parquet")      # lazily: nothing is read yet
    >>> failures(form, "adverse_events", events.collect())            # one row per failing cell, with its code
    >>> arm_pairs("all_adverse_events/*.parquet", pairs)              # events_e, n_e, events_c, n_c per study

`failures` gives codes of review.issues, like `review validate`; the cross-table rules (sums, references, rounding)
stay with review.validate, which needs the workbook's cells to point at.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from .errors import ReviewError
from .forms import Form
from .schema import field_checks
from .validate import _PANDERA_CODES  # one mapping of pandera's checks to issue codes

if TYPE_CHECKING:  # optional dependencies
    import polars as pl

POLARS_TYPES = {
    "text": "Utf8",
    "integer": "Int64",
    "number": "Float64",
    "percent": "Float64",
    "date": "Utf8",
    "category": "Utf8",
    "boolean": "Boolean",
}


def polars_schema(form: Form, table: str):
    """The pandera (polars backend) schema of one table of `form`: the same dtypes, checks and unique key as
    review.schema.table_schema, generated from the same form."""
    import pandera.polars as pa
    import polars as pl

    t = form.table(table)
    columns = {
        f.name: pa.Column(
            getattr(pl, POLARS_TYPES[f.type]),
            checks=[check for _, check in field_checks(f)],
            nullable=f.name not in t.key,
            required=True,
            title=f.label,
        )
        for f in t.fields.values()
    }
    return pa.DataFrameSchema(columns, name=t.name, unique=list(t.key), strict=False)


def failures(form: Form, table: str, frame: pl.DataFrame) -> pd.DataFrame:
    """Every failing check of `frame` against the table's schema, lazily validated on polars: one row per
    failure with the issue `code` (review.issues), `field`, `row` (0-based position in `frame`) and `value`."""
    import pandera.polars as pa

    t = form.table(table)
    try:
        polars_schema(form, table).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases.to_dicts()
    else:
        cases = []
    rows = []
    for case in cases:
        name, check = case["column"], str(case["check"])
        if check.startswith("dtype("):
            raise ReviewError(
                f"table {table}: column {name} is {case['failure_case']}, expected {check[6:-1]}; "
                "cast it (polars: .cast) before validating."
            )
        code = _PANDERA_CODES.get(check, "")
        if not code and name in t.fields and case["check_number"] is not None:
            code = field_checks(t.fields[name])[case["check_number"]][0]
        if not code:
            raise RuntimeError(f"pandera check {check!r} has no issue code")  # a bug: every check is named
        if code == "duplicate-key":
            name = ", ".join(t.key)
        rows.append({"code": code, "field": name, "row": case["index"], "value": case["failure_case"]})
    return pd.DataFrame(rows, columns=["code", "field", "row", "value"])


_PAIRS_SQL = """
WITH events AS (
    SELECT study_id, arm_id, term, grade,
           max(patients) AS events, max(at_risk) AS total, count(*) AS entries
    FROM {source}
    GROUP BY study_id, arm_id, term, grade
)
SELECT p.study_id, e.term, e.grade,
       p.experimental_arm, p.control_arm,
       e.events AS events_e, e.total AS n_e, c.events AS events_c, c.total AS n_c,
       e.entries + c.entries - 2 AS duplicates
FROM pairs AS p
JOIN events AS e ON e.study_id = p.study_id AND e.arm_id = p.experimental_arm
JOIN events AS c ON c.study_id = p.study_id AND c.arm_id = p.control_arm
                AND c.term = e.term AND c.grade = e.grade
ORDER BY e.term, e.grade, p.study_id
"""


def arm_pairs(events: str | pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """Adverse events of experimental and control arms side by side, ready for
    `review.meta.pool(..., by=["term", "grade"])`, aggregated by DuckDB.

    `events`: a long table (study_id, arm_id, term, grade, patients, at_risk) as a DataFrame, or a Parquet or CSV
    path or glob that DuckDB reads in place; `pairs`: study_id, experimental_arm, control_arm. A term and grade
    present in one arm only is left out (no comparison); `duplicates` counts extra rows for the same key, which
    review.validate reports as duplicate keys.
    """
    import duckdb

    con = duckdb.connect()
    try:
        con.register("pairs", pairs[["study_id", "experimental_arm", "control_arm"]])
        if isinstance(events, pd.DataFrame):
            con.register("long_events", events)
            source = "long_events"
        else:
            source = "read_parquet(?)" if str(events).endswith(".parquet") else "read_csv_auto(?)"
        sql = _PAIRS_SQL.format(source=source)
        result = con.execute(sql, [] if isinstance(events, pd.DataFrame) else [str(events)]).df()
    finally:
        con.close()
    return result.astype(
        {"events_e": "Int64", "n_e": "Int64", "events_c": "Int64", "n_c": "Int64", "duplicates": "Int64"}
    )
