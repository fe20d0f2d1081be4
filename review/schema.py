"""pandera schemas generated from a form; none is written by hand.

    >>> from review.forms import load_form
    >>> from review.schema import table_schema
    >>> arms = table_schema(load_form("extraction_forms/oncology_trial.yaml"), "arms")
    >>> arms.validate(my_arms_frame, lazy=True)          # doctest: +SKIP

Each check is named with its issue code (review.issues.CODES), so a failure maps straight to a documented code.
Non-key fields are nullable because a missing value may be NR, NA or not yet extracted, which a plain DataFrame
cannot tell apart; pass `require=True` to make the form's required fields non-nullable for data that has no
missing codes. Checks that warn rather than fail (e.g. a percentage that looks like a fraction) live in
validate.py, since pandera has no severities.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pandera.pandas as pa

from .forms import Field, Form, Table

DTYPES = {
    "text": pd.StringDtype(),
    "integer": pd.Int64Dtype(),
    "number": pd.Float64Dtype(),
    "percent": pd.Float64Dtype(),
    "date": pd.StringDtype(),
    "category": pd.StringDtype(),
    "boolean": pd.BooleanDtype(),
}

FORMAT_PATTERNS = {
    "doi": r"^10\.\d{4,9}/\S+$",
    "pmid": r"^\d{1,8}$",
    "nct": r"^NCT\d{8}$",
}
DATE_PATTERN = r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$"


def field_checks(field: Field) -> list[pa.Check]:
    checks: list[pa.Check] = []
    if field.type == "category":
        checks.append(pa.Check.isin(list(field.values), name="not-in-vocabulary",
                                    error=f"allowed values: {', '.join(field.values)}"))
    if field.min is not None:
        checks.append(pa.Check.ge(field.min, name="out-of-range", error=f"allowed range: {_range_text(field)}"))
    if field.max is not None:
        checks.append(pa.Check.le(field.max, name="out-of-range", error=f"allowed range: {_range_text(field)}"))
    if field.format == "year":
        next_year = dt.date.today().year + 1
        checks.append(pa.Check.in_range(1900, next_year, name="year-implausible",
                                        error=f"a plausible year is 1900 to {next_year}"))
    elif field.format:
        checks.append(pa.Check.str_matches(FORMAT_PATTERNS[field.format], name=f"{field.format}-format",
                                           error=f"expected pattern {FORMAT_PATTERNS[field.format]}"))
    if field.type == "date":
        checks.append(pa.Check.str_matches(DATE_PATTERN, name="not-a-date", error="expected YYYY-MM-DD, YYYY-MM or YYYY"))
    return checks


def _range_text(field: Field) -> str:
    lo = "" if field.min is None else f"{field.min:g}"
    hi = "" if field.max is None else f"{field.max:g}"
    return f"{lo} to {hi}" if lo and hi else f"at least {lo}" if lo else f"at most {hi}"


def table_schema(form: Form, table: str | Table, *, require: bool = False) -> pa.DataFrameSchema:
    """The pandera schema of one table of `form`; `require=True` makes required fields non-nullable."""
    t = form.table(table) if isinstance(table, str) else table
    columns = {
        f.name: pa.Column(
            DTYPES[f.type],
            checks=field_checks(f),
            nullable=not (f.name in t.key or (require and f.required)),
            required=True,
            title=f.label,
            description=f.help or None,
            metadata={"type": f.type, "unit": f.unit, "required": f.required, "form": form.label},
        )
        for f in t.fields.values()
    }
    return pa.DataFrameSchema(
        columns,
        name=t.name,
        title=t.label,
        description=t.description or None,
        unique=list(t.key),
        report_duplicates="all",
        strict=False,
        coerce=False,
        metadata={"form": form.label, "key": list(t.key)},
    )


def schemas(form: Form, *, require: bool = False) -> dict[str, pa.DataFrameSchema]:
    """Every table's schema, by table name."""
    return {name: table_schema(form, t, require=require) for name, t in form.tables.items()}


def empty_frame(form: Form, table: str | Table) -> pd.DataFrame:
    """An empty DataFrame with the table's columns and dtypes: a template for building data in code."""
    t = form.table(table) if isinstance(table, str) else table
    return pd.DataFrame({f.name: pd.Series(dtype=DTYPES[f.type]) for f in t.fields.values()})
