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


def field_checks(field: Field) -> list[tuple[str, pa.Check]]:
    """The field's checks, each with the issue code it reports (pandera's failure cases give the check's
    position, `check_number`, which maps back to the code)."""
    checks: list[tuple[str, pa.Check]] = []
    if field.type == "category":
        checks.append(("not-in-vocabulary", pa.Check.isin(list(field.values))))
    if field.min is not None:
        checks.append(("out-of-range", pa.Check.ge(field.min)))
    if field.max is not None:
        checks.append(("out-of-range", pa.Check.le(field.max)))
    if field.format == "year":
        checks.append(("year-implausible", pa.Check.in_range(1900, dt.date.today().year + 1)))
    elif field.format:
        checks.append((f"{field.format}-format", pa.Check.str_matches(FORMAT_PATTERNS[field.format])))
    if field.type == "date":
        checks.append(("not-a-date", pa.Check.str_matches(DATE_PATTERN)))
    return checks


def table_schema(form: Form, table: str | Table, *, require: bool = False) -> pa.DataFrameSchema:
    """The pandera schema of one table of `form`; `require=True` makes required fields non-nullable."""
    t = form.table(table) if isinstance(table, str) else table
    columns = {
        f.name: pa.Column(
            DTYPES[f.type],
            checks=[check for _, check in field_checks(f)],
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
