"""Validation: typed tables in, a Report of Issues out (never an exception for the user's data).

Three layers, each reporting documented codes (review.issues.CODES) at the cell to fix:
1. the pandera schemas generated from the form, run lazily (types, vocabularies, ranges, formats, unique keys);
2. field checks pandera cannot express with our missing codes (required cells, zeros without a location);
3. references between tables and the named rules the form applies (sums, totals, percentages, CIs...).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from openpyxl import Workbook

from .csvs import write_csv
from .errors import ReviewError, UnreadableInput
from .extraction import ExtractedTable, Extraction, UnreadableWorkbook, read_extraction
from .forms import Form, Rule
from .issues import CODES, COLUMNS, ERROR, FATAL, SAYS_EMPTY, Issue, Report, issues_from
from .schema import field_checks, table_schema
from .sheets import TOP, WRAP, fit_rows, header, print_setup, put_row, save_workbook
from .values import EMPTY

_PANDERA_CODES = {
    "not_nullable": "required-empty",
    "multiple_fields_uniqueness": "duplicate-key",
    "field_uniqueness": "duplicate-key",
    "column_in_dataframe": "missing-column",
}


def validate(extraction: Extraction) -> Report:
    """All issues of one extraction: those met while reading it, then schema, field, table and rule checks."""
    with shared_codes():
        return _validate(extraction)


def _validate(extraction: Extraction) -> Report:
    issues = list(extraction.issues)
    refused = {(i.table, i.sheet, i.cell) for i in issues if i.severity == ERROR}
    for et in extraction.tables.values():
        issues += [
            i for i in _schema_issues(extraction.form, et) if (i.table, i.sheet, i.cell) not in refused
        ]
        issues += _field_issues(et, refused)
        issues += consistency.zero_issues(et)
        issues += _unless(refused, consistency.empty_issues(extraction.form, et))
    issues += _reference_issues(extraction)
    by_rules: list[Issue] = []
    for rule in extraction.form.rules:
        if _tables_of(rule) <= set(extraction.tables):  # validate_frames may be given some tables only
            by_rules += RULE_CHECKS[rule.kind](extraction, rule)
    # rules that share a field find one fault once each (a reversed range, for the median and both quartiles)
    return Report(issues + _unless(refused, list(dict.fromkeys(by_rules))))


def _unless(refused: set, found: list[Issue]) -> list[Issue]:
    """Issues saying a cell is empty, except at cells whose value was refused (typed, but not readable as one):
    the reading error there says what is wrong."""
    return [i for i in found if i.code not in SAYS_EMPTY or (i.table, i.sheet, i.cell) not in refused]


def validate_files(paths: Iterable[str | Path], form: Form) -> Report:
    """Read and validate each workbook or CSV folder; an unreadable one becomes a fatal issue, not an exception."""
    issues: list[Issue] = []
    for path in paths:
        try:
            issues += validate(read_extraction(path, form)).issues
        except UnreadableWorkbook as exc:
            issues.append(exc.as_issue())
        except UnreadableInput as exc:  # not found, not an xlsx, too large...
            issues.append(Issue(FATAL, "unreadable-file", str(exc), file=str(path)))
    return Report(issues)


def validate_frames(form: Form, frames: dict[str, pd.DataFrame]) -> Report:
    """Validate plain DataFrames (no missing codes, no sheet): cells are where make_workbook would write them,
    the frame's n-th row on sheet row n + 2. References and rules that involve a table not given are skipped."""
    tables = {}
    for name, frame in frames.items():
        t = form.table(name)
        data = frame.reset_index(drop=True)
        data.index = pd.RangeIndex(2, len(data) + 2, name="row")
        letters = {f: _letter(i) for i, f in enumerate(t.fields)}
        missing = pd.DataFrame(EMPTY, index=data.index, columns=list(t.fields))
        tables[name] = ExtractedTable(t, data, missing, "", t.sheet, letters)
    extraction = Extraction(form, Path("."), "", form.version, tables, [])
    return validate(extraction)


def _letter(i: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(i + 1)


# --- 1. pandera -------------------------------------------------------------------------------------------------


def _issue(
    et: ExtractedTable, code: str, row: int | None, field: str, message: str, *, severity: str | None = None
) -> Issue:
    study = ""
    value = ""
    if row is not None and row in et.data.index:
        if "study_id" in et.data.columns and pd.notna(et.data.at[row, "study_id"]):
            study = str(et.data.at[row, "study_id"])
        if field in et.data.columns:
            v = et.data.at[row, field]
            value = et.missing.at[row, field] if et.missing.at[row, field] else "" if pd.isna(v) else _fmt(v)
    fix = CODES[code].fix
    return Issue(
        severity or CODES[code].severity,
        code,
        f"{message}. Fix: {fix}",
        file=et.file,
        sheet=et.sheet,
        cell=et.cell(row, field) if row is not None and field else "",
        table=et.table.name,
        study_id=study,
        field=field,
        value=value,
    )


def _issues(
    et: ExtractedTable,
    codes: str | Sequence[str],
    rows: Sequence[int],
    fields: str | Sequence[str],
    messages: Sequence[str],
    *,
    severity: str | dict[str, str] | None = None,
) -> list[Issue]:
    """`_issue` for many cells at once: study ids and values are looked up per column, not per cell (a large
    review has hundreds of thousands of issues; .at per issue was a good part of validation's time).
    `severity` overrides the codes' own, for all codes or by code."""
    if not len(rows):
        return []
    rows = np.asarray(rows, dtype=np.int64).tolist()
    fields = [fields] * len(rows) if isinstance(fields, str) else list(fields)
    codes = [codes] * len(rows) if isinstance(codes, str) else list(codes)
    pos = et.data.index.get_indexer(rows)
    studies = [""] * len(rows)
    if "study_id" in et.data.columns:
        ids = et.data["study_id"].iloc[pos].to_numpy(dtype=object)
        studies = ["" if s is pd.NA or s is None or s != s else str(s) for s in ids]
    values = [""] * len(rows)
    names = dict.fromkeys(fields)
    for name in names:
        if name not in et.data.columns:
            continue
        at = (
            np.flatnonzero(np.asarray(fields, dtype=object) == name)
            if len(names) > 1
            else np.arange(len(rows))
        )
        for i, text in zip(at.tolist(), _texts(et, name, pos[at]), strict=True):
            values[i] = text
    kinds = {c: CODES[c] for c in dict.fromkeys(codes)}
    if not isinstance(severity, dict):
        severity = {c: severity or k.severity for c, k in kinds.items()}
    fixes = {c: f". Fix: {k.fix}" for c, k in kinds.items()}
    letters, file, sheet, table = et.columns, et.file, et.sheet, et.table.name
    if len(kinds) == 1 and len(names) == 1:  # the usual batch: one code, one field
        (c,) = kinds
        f, sev, fix = fields[0], severity.get(c) or kinds[c].severity, fixes[c]
        letter = letters.get(f, "")
        return issues_from(
            [
                (sev, c, m + fix, file, sheet, f"{letter}{r}", table, s, f, v)
                for r, m, s, v in zip(rows, messages, studies, values, strict=True)
            ]
        )
    return issues_from(
        [
            (
                severity.get(c) or kinds[c].severity,
                c,
                m + fixes[c],
                file,
                sheet,
                f"{letters.get(f, '')}{r}",
                table,
                s,
                f,
                v,
            )
            for c, r, f, m, s, v in zip(codes, rows, fields, messages, studies, values, strict=True)
        ]
    )


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _texts(et: ExtractedTable, field: str, pos: np.ndarray) -> list[str]:
    """What `_issue` shows as the value of `field` at row positions `pos`: the missing code, '' or the value."""
    values = et.data[field].iloc[pos].to_numpy(dtype=object)
    codes = et.missing[field].iloc[pos].to_numpy(dtype=object)
    return [
        c or (v if v.__class__ is str else "" if v is pd.NA or v is None or v != v else _fmt(v))
        for v, c in zip(values, codes, strict=True)
    ]


def _schema_issues(form: Form, et: ExtractedTable) -> list[Issue]:
    schema = table_schema(form, et.table)
    # The key's uniqueness (the schema's `unique`) is checked on the integer keys the rules share: pandera would
    # hash every key column's text again.
    schema.unique = None
    issues = _duplicate_keys(et)
    # pandera 0.35 with pandas 3 reports wrong rows for non-default indexes, so validate on positions
    # and map back to sheet rows ourselves.
    positional = et.data.reset_index(drop=True)
    rows = et.data.index
    try:
        schema.validate(positional, lazy=True)
        return issues
    except pa.errors.SchemaErrors as exc:
        failures = exc.failure_cases
    for _, fc in failures.iterrows():
        check = str(fc["check"])
        column = fc["column"] if isinstance(fc["column"], str) else ""
        code = _PANDERA_CODES.get(check, "")
        if not code and column in et.table.fields and pd.notna(fc["check_number"]):
            code = field_checks(et.table.fields[column])[int(fc["check_number"])][0]
        if check.startswith("dtype("):
            raise ReviewError(
                f"table {et.table.name}: column {column} has dtype {fc['failure_case']}, expected "
                f"{check[6:-1]}; build frames with review.schema.empty_frame() or read them with "
                "review.workbook.read_workbook()."
            )
        if code == "missing-column":
            raise ReviewError(f"table {et.table.name}: column {fc['failure_case']} is missing.")
        if not code:
            raise RuntimeError(f"pandera check {check!r} has no issue code")  # a bug: every check is named
        pos = fc["index"]
        row = rows[int(pos)] if pos is not None and not pd.isna(pos) else None
        row = int(row) if isinstance(row, np.integer) else row
        if code == "required-empty":
            if row is not None and et.missing.at[row, column]:
                issues.append(
                    _issue(
                        et,
                        "missing-code-in-key",
                        row,
                        column,
                        f"{_label(et, column)} is {et.missing.at[row, column]} in a key column",
                    )
                )
                continue
            issues.append(
                _issue(et, code, row, column, f"{_label(et, column)} is empty but identifies the row")
            )
        else:
            f = et.table.fields[column]
            if code == "not-in-vocabulary":
                detail = f"'{fc['failure_case']}' is not one of: {', '.join(f.values)}"
            elif code == "out-of-range":
                detail = f"{_fmt(fc['failure_case'])} is outside {_range(f.min, f.max)}"
            else:
                detail = f"'{fc['failure_case']}' is not valid"
            issues.append(_issue(et, code, row, column, f"{f.label}: {detail}"))
    return issues


def _duplicate_keys(et: ExtractedTable) -> list[Issue]:
    """duplicate-key at every row whose whole key another row has too, as the schema's `unique` check reports them:
    pandas' `duplicated(keep=False)` on the key columns present (a missing value equal to a missing value), at the
    first key column, except where that column is empty (pandera lists no empty failure case; the row has
    required-empty there)."""
    key = [k for k in et.table.key if k in et.data.columns]  # a missing one: the schema check says so
    if not key or key[0] != et.table.key[0] or et.data.empty:
        return []
    combined, _ = _combined([et.data[k] for k in key])
    duplicated = pd.Series(combined).duplicated(keep=False).to_numpy()
    at = np.flatnonzero(duplicated & (column_codes(et.data[key[0]])[0] >= 0))
    if not len(at):
        return []
    values = [et.data[k].to_numpy(dtype=object)[at] for k in key]
    messages = [
        f"another row has the same key ({', '.join(f'{k}={_fmt(v)}' for k, v in zip(key, row, strict=True))})"
        for row in zip(*values, strict=True)
    ]
    return _issues(et, "duplicate-key", et.data.index[at], key[0], messages)


def _label(et: ExtractedTable, field: str) -> str:
    return et.table.fields[field].label


def _range(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"{lo:g} to {hi:g}"
    return f"at least {lo:g}" if lo is not None else f"at most {hi:g}"


# --- 2. field checks with missing codes -------------------------------------------------------------------------


def _field_issues(et: ExtractedTable, refused: set) -> list[Issue]:
    issues: list[Issue] = []
    data, missing, t = et.data, et.missing, et.table
    has_location = "location" in t.fields
    for name, f in t.fields.items():
        col = data[name]
        if name in t.key:
            continue  # pandera checks keys
        if f.required:
            empty = data.index[(col.isna() & missing[name].eq(EMPTY)).to_numpy(dtype=bool)]
            rows = [r for r in empty if (t.name, et.sheet, et.cell(r, name)) not in refused]
            issues += _issues(et, "required-empty", rows, name, [f"{f.label} is required"] * len(rows))
        if f.type == "integer" and has_location:
            zero = data.index[(col.eq(0).fillna(False) & data["location"].isna()).to_numpy(dtype=bool)]
            message = f"{f.label} is 0 but Location is empty"
            issues += _issues(et, "zero-without-location", zero, name, [message] * len(zero))
        if f.type == "percent":
            fraction = ((col > 0) & (col < 1)).fillna(False).to_numpy(dtype=bool)
            values = col[fraction].tolist()
            messages = [f"{f.label} is {_fmt(v)}: did the report say {v * 100:g}%?" for v in values]
            issues += _issues(et, "percent-looks-like-fraction", data.index[fraction], name, messages)
    return issues


# --- 3a. references between tables ------------------------------------------------------------------------------


def _reference_issues(extraction: Extraction) -> list[Issue]:
    issues: list[Issue] = []
    for et in extraction.tables.values():
        for f in et.table.fields.values():
            if not f.references or f.references[0] not in extraction.tables:
                continue
            target = extraction.tables[f.references[0]]
            # Match on the target's whole key where this table has the same columns (an arm is known by study
            # and arm id together), with this field standing for the referenced one.
            pairs = [(k, k) for k in target.table.key if k != f.references[1] and k in et.table.fields]
            pairs.append((f.name, f.references[1]))
            here = [p[0] for p in pairs]
            there = [p[1] for p in pairs]
            known = str_keys(target.data[there].dropna(), there)
            group, firsts = group_keys(et.data, here)
            lacking = ~firsts.isin(known) if len(known) else np.ones(len(firsts), dtype=bool)
            unknown = np.flatnonzero(np.append(lacking, False)[group])  # group -1 (a key missing): unchecked
            keys = firsts[group[unknown]]
            messages = []
            for values in keys:
                context = (
                    " for " + ", ".join(f"{a}={v}" for a, v in zip(here[:-1], values[:-1], strict=False))
                    if len(values) > 1
                    else ""
                )
                messages.append(f"{f.label} '{values[-1]}'{context} is not on sheet {target.table.sheet}")
            issues += _issues(et, "unknown-reference", et.data.index[unknown], f.name, messages)
    return issues


def str_keys(frame: pd.DataFrame, names: list[str]) -> pd.MultiIndex:
    """The rows' values of `names` as text (str() of each, '<NA>' for a missing one), one tuple per row: how
    references and rules match keys across tables."""
    # string columns stay pandas strings (Arrow-backed where pyarrow is installed): the MultiIndex factorizes them
    # in C, far faster than object arrays
    return pd.MultiIndex.from_arrays([str_series(frame[n]) for n in names])


# Within one validate(), each key column is factorized once, and each combination of key columns grouped once: the
# rules group by the same keys, and factorizing a million strings costs ~0.4 s. Keyed by the columns' arrays,
# which are kept so that their ids are not reused.
_CODES: ContextVar[dict[tuple, tuple] | None] = ContextVar("codes", default=None)
_RADIX_LIMIT = 2**62


@contextmanager
def shared_codes() -> Iterator[None]:
    """Share key codes between the rules within this block. The frames must not be edited in place inside it (an
    edited cell keeps its column's array, and so its codes): validate() only reads them."""
    token = _CODES.set({})
    try:
        yield
    finally:
        _CODES.reset(token)


def _shared(arrays: tuple, make: Callable[[], Any]) -> Any:
    cache = _CODES.get()
    if cache is None:
        return make()
    key = tuple(id(a) for a in arrays)
    if key not in cache:
        cache[key] = (arrays, make())
    return cache[key][1]


def column_codes(col: pd.Series) -> tuple[np.ndarray, int]:
    """The column's values as integers numbered in order of first appearance (-1 where missing; read-only) and
    the count of distinct values."""

    def make() -> tuple[np.ndarray, int]:
        codes, uniques = pd.factorize(col.array)
        codes.flags.writeable = False
        return codes, len(uniques)

    return _shared((col.array,), make)


def row_groups(frame: pd.DataFrame, names: Sequence[str]) -> np.ndarray:
    """Each row's group by its values of `names` (equal values, equal group), numbered in order of first
    appearance; -1 where one of them is missing (read-only)."""
    if len(names) <= 1:
        return column_codes(frame[names[0]])[0] if names else np.zeros(len(frame), dtype=np.intp)
    columns = [frame[name] for name in names]

    def make() -> np.ndarray:
        combined, missing = _combined(columns)
        groups = np.full(len(frame), -1, dtype=np.intp)
        groups[~missing] = pd.factorize(combined[~missing])[0]
        groups.flags.writeable = False
        return groups

    return _shared(("groups", *(c.array for c in columns)), make)


def group_keys(frame: pd.DataFrame, names: Sequence[str]) -> tuple[np.ndarray, pd.MultiIndex]:
    """`row_groups(frame, names)` and each group's values as text (`str_keys` of its first row; group g's at g):
    matching keys with another table's turns one row per distinct key into text (a study's id repeats on all
    its rows), not every row."""
    group = row_groups(frame, names)
    at = np.flatnonzero(group >= 0)
    # groups are numbered 0, 1, ... in order of appearance: the first row of each
    first = at[np.unique(group[at], return_index=True)[1]]
    return group, str_keys(frame.iloc[first], list(names))


def _combined(columns: Sequence[pd.Series]) -> tuple[np.ndarray, np.ndarray]:
    """One integer per row, equal where the rows' values of all `columns` are equal (a missing value counting as
    a value), and where a value is missing."""
    n = len(columns[0]) if columns else 0
    combined, missing, span = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool), 1
    for col in columns:
        codes, count = column_codes(col)
        if span * (count + 1) >= _RADIX_LIMIT:  # the mixed radix would overflow: renumber what is combined
            combined, uniques = pd.factorize(combined)
            span = len(uniques)
        missing |= codes < 0
        combined = combined * (count + 1) + (codes + 1)
        span *= count + 1
    return combined, missing


def str_series(col: pd.Series) -> pd.Series:
    if isinstance(col.dtype, pd.StringDtype):
        return col.fillna(str(pd.NA))
    return col.astype(object).map(str)


def str_values(col: pd.Series) -> np.ndarray:
    if isinstance(col.dtype, pd.StringDtype):
        return col.to_numpy(dtype=object, na_value=str(pd.NA))
    return col.astype(object).map(str).to_numpy(dtype=object)


# --- 3b. the named rules ----------------------------------------------------------------------------------------


def _tables_of(rule: Rule) -> set[str]:
    return {rule.table} | {v.split(".", 1)[0] for v in rule.args.values() if "." in v}


def _field_of(extraction: Extraction, rule: Rule, arg: str) -> tuple[ExtractedTable, str]:
    value = rule.args[arg]
    table, name = value.split(".", 1) if "." in value else (rule.table, value)
    return extraction.tables[table], name


def _rule_issue(
    et: ExtractedTable, rule: Rule, row: int | None, field: str, message: str, code: str | None = None
) -> Issue:
    code = code or rule.kind
    severity = rule.severity or CODES[code].severity
    prefix = f"[{rule.name}] " if rule.name else ""
    return _issue(et, code, row, field, prefix + message, severity=severity)


def _rule_issues(
    et: ExtractedTable,
    rule: Rule,
    rows: Sequence[int],
    fields: str | Sequence[str],
    messages: Iterable[str],
    code: str | Sequence[str] | None = None,
) -> list[Issue]:
    """`_rule_issue` for many cells at once (of the rule's own code, or of `code`: one, or one per cell)."""
    codes = code or rule.kind
    prefix = f"[{rule.name}] " if rule.name else ""
    messages = [prefix + m for m in messages] if prefix else list(messages)
    severity = {
        c: rule.severity or CODES[c].severity for c in ([codes] if isinstance(codes, str) else set(codes))
    }
    return _issues(et, codes, rows, fields, messages, severity=severity)


def _join_whole(part: ExtractedTable, whole: ExtractedTable) -> list[str]:
    """Columns linking rows of `part` to their row of `whole`: the whole's key columns that `part` also has."""
    keys = [k for k in whole.table.key if k in part.table.fields]
    if not keys:
        raise ReviewError(f"table {part.table.name} shares no key column with {whole.table.name}")
    return keys


def _sum_mismatch(extraction: Extraction, rule: Rule) -> list[Issue]:
    et, part = _field_of(extraction, rule, "part")
    whole_t, whole = _field_of(extraction, rule, "whole")
    keys = _join_whole(et, whole_t)
    data = et.data
    if "unless" in rule.args:
        data = data[~data[rule.args["unless"]].fillna(False).astype(bool)]
    data = data.dropna(subset=keys)
    integer = et.table.fields[part].type == "integer"
    # each whole's parts, in one pass over the rows (filtering the parts per whole was quadratic)
    parts: dict[tuple, list[tuple[int, Any]]] = {}
    for row, link, value in zip(
        data.index.tolist(),
        zip(*(data[k].tolist() for k in keys), strict=True),
        data[part].tolist(),
        strict=True,
    ):
        parts.setdefault(link, []).append((row, value))
    wholes = whole_t.data.dropna(subset=[*keys, whole])
    rows, messages = [], []
    for row, link, stated in zip(
        wholes.index.tolist(),
        zip(*(wholes[k].tolist() for k in keys), strict=True),
        wholes[whole].tolist(),
        strict=True,
    ):
        group = parts.get(link)
        if not group or any(v is pd.NA or v != v for _, v in group):
            continue  # only when every part is given
        total: float = sum(v for _, v in group)
        total = int(total) if integer else float(total)
        if not math.isclose(total, float(stated), abs_tol=1e-9):
            shown = " + ".join(f"{_fmt(v)} ({et.sheet}!{et.cell(r, part)})" for r, v in group)
            rows.append(row)
            messages.append(
                f"{et.table.label} {_label(et, part)} add up to {_fmt(total)} ({shown}) but "
                f"{_label(whole_t, whole)} is {_fmt(stated)} (difference {_fmt(float(stated) - total)})"
            )
    return _rule_issues(whole_t, rule, rows, whole, messages)


def _count_exceeds_total(extraction: Extraction, rule: Rule) -> list[Issue]:
    et, count = _field_of(extraction, rule, "count")
    _, total = _field_of(extraction, rule, "total")
    over = (et.data[count] > et.data[total]).fillna(False).to_numpy(dtype=bool)
    rows = et.data[over]
    messages = [
        f"{_label(et, count)} ({_fmt(c)}) is more than {_label(et, total)} ({_fmt(n)})"
        for c, n in zip(rows[count].tolist(), rows[total].tolist(), strict=True)
    ]
    return _rule_issues(et, rule, rows.index, count, messages)


def _decimals(value: float) -> int:
    text = repr(float(value))
    if "e" in text:
        return 0 if float(value).is_integer() else 6
    frac = text.split(".")[1]
    return 0 if frac == "0" else len(frac)


def rounding_tolerance(value: float) -> float:
    """Half a unit of the last decimal printed: 49.3% stands for anything in [49.25, 49.35]. Also used by
    review.compare, where two reviewers' numbers agree when they differ by no more than this."""
    return 0.5 * 10 ** -_decimals(value) + 1e-9


def _percent_mismatch(extraction: Extraction, rule: Rule) -> list[Issue]:
    et, count = _field_of(extraction, rule, "count")
    _, total = _field_of(extraction, rule, "total")
    _, percent = _field_of(extraction, rule, "percent")
    d = et.data
    given = d[percent].notna().to_numpy(dtype=bool)
    rows = d.index[given]
    p = d[percent][given].to_numpy(dtype=float)
    n = d[total][given].to_numpy(dtype=float, na_value=np.nan)
    c = d[count][given].to_numpy(dtype=float, na_value=np.nan)
    which, distinct = pd.factorize(p)  # percentages repeat: 1,001 at most
    tol = np.array([rounding_tolerance(v) for v in distinct.tolist()], dtype=float)[which]
    has_c, has_n = ~np.isnan(c), ~np.isnan(n)
    # the conditions in the order the checks apply: the first that holds decides the row
    zero_clash = has_c & ((c == 0) != (p <= tol))
    no_total = ~zero_clash & ~has_n & et.missing[total][given].eq(EMPTY).to_numpy(dtype=bool)
    checked = ~zero_clash & has_n & (n > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        actual = 100.0 * c / n
        lo, hi = (p - tol) * n / 100.0, (p + tol) * n / 100.0
    disagrees = checked & has_c & (np.abs(actual - p) > tol)
    no_whole = checked & ~has_c & (np.floor(hi) < np.ceil(lo))
    flagged = np.flatnonzero(zero_clash | no_total | disagrees | no_whole)
    counts, totals = d[count][given].to_numpy(dtype=object), d[total][given].to_numpy(dtype=object)
    fields, messages, codes = [], [], []
    for i in flagged.tolist():
        pi, ni, ci, ti, row = float(p[i]), n[i], counts[i], float(tol[i]), rows[i]
        if zero_clash[i]:
            fields.append(count)
            codes.append(rule.kind)
            messages.append(
                f"{_label(et, count)} {_fmt(ci)} ({et.sheet}!{et.cell(row, count)}) and {_label(et, percent)} "
                f"{pi:g}% ({et.sheet}!{et.cell(row, percent)}) cannot both be right: one is zero, the other not"
            )
            continue
        fields.append(percent)
        if no_total[i]:
            codes.append("percent-without-denominator")
            messages.append(f"{_label(et, percent)} {pi:g}% has no {_label(et, total)}")
        elif disagrees[i]:
            codes.append(rule.kind)
            shown_n = _fmt(totals[i])
            messages.append(
                f"{pi:g}% disagrees with {_fmt(ci)}/{shown_n} = {float(actual[i]):.2f}% (allowed rounding ±{ti:.2g})"
            )
        else:
            codes.append("percent-no-whole-count")
            messages.append(
                f"no whole number of patients out of {_fmt(totals[i])} gives {pi:g}% "
                f"({pi * float(ni) / 100:.2f})"
            )
    return _rule_issues(et, rule, rows[flagged], fields, messages, codes)


def whole_counts(percent: float, denominator: float) -> range:
    """Every whole count out of `denominator` that the reported percentage stands for, given its rounding."""
    tol = rounding_tolerance(percent)
    lo, hi = (percent - tol) * denominator / 100.0, (percent + tol) * denominator / 100.0
    return range(max(math.ceil(lo), 0), math.floor(hi) + 1)


def implied_count(percent: float, denominator: float) -> int | None:
    """The whole count that a reported percentage of `denominator` stands for, if exactly one does."""
    candidates = whole_counts(percent, denominator)
    return candidates[0] if len(candidates) == 1 else None


def _categories_sum_mismatch(extraction: Extraction, rule: Rule) -> list[Issue]:
    et, count = _field_of(extraction, rule, "count")
    _, category = _field_of(extraction, rule, "category")
    whole_t, whole = _field_of(extraction, rule, "whole")
    keys = _join_whole(et, whole_t)
    group_cols = [k for k in et.table.key if k != category]
    percent = rule.args.get("percent")
    denominator = rule.args.get("denominator")
    d = et.data.dropna(subset=group_cols)
    w = whole_t.data.dropna(subset=keys)
    wholes: dict[tuple, Any] = {}
    for link, value in zip(zip(*(w[k].tolist() for k in keys), strict=True), w[whole].tolist(), strict=True):
        wholes.setdefault(link, value)  # the first row of a duplicated whole
    # The groups' rows in one pass over plain lists (a groupby loop with .at per cell took seconds).
    none = [pd.NA] * len(d)
    columns = (
        d.index.tolist(),
        d[count].tolist(),
        d[denominator].tolist() if denominator else none,
        d[percent].tolist() if percent else none,
        d[category].tolist(),
    )
    groups: dict[tuple, list[Any]] = {}
    for group, *values in zip(zip(*(d[k].tolist() for k in group_cols), strict=True), *columns, strict=True):
        groups.setdefault(group, []).append(values)
    rows, messages, codes = [], [], []
    for group, members in groups.items():
        over = _categories_over(et, rule, members)
        if over:
            rows.append(members[0][0])
            messages.append(over)
            codes.append("categories-exceed-denominator")
            continue
        stated = wholes.get(tuple(group[group_cols.index(k)] for k in keys), pd.NA)
        if stated is pd.NA or stated != stated:
            continue  # with no stated whole, only the rows' own denominator bounds them (above)
        stated = int(stated)
        known, unknown = 0, []
        for _, c, n, p, cat in members:
            if c is pd.NA and percent and denominator and p is not pd.NA and n is not pd.NA:
                c = implied_count(float(p), float(n))
            if c is None or c is pd.NA:
                unknown.append(str(cat))
            else:
                known += int(c)
        if known != stated:
            gap = stated - known
            side = f"{gap} short of" if gap > 0 else f"{-gap} more than"
            extra = f"; without a count: {', '.join(unknown)}" if unknown else ""
            rows.append(members[0][0])
            messages.append(f"categories add up to {known}, {side} {_label(whole_t, whole)} {stated}{extra}")
            codes.append(rule.kind)
    return _rule_issues(et, rule, rows, count, messages, codes)


def _categories_over(et: ExtractedTable, rule: Rule, members: list[tuple]) -> str | None:
    """consistency.categories_over on a group's (row, count, denominator, percent, category) tuples."""
    count, percent = rule.args["count"], rule.args.get("percent")
    shares, cells, slack = 0.0, [], 0.0
    for row, c, n, p, _ in members:
        if c is not pd.NA and n is not pd.NA and float(n) > 0:
            shares += 100.0 * float(c) / float(n)
            cells.append(f"{et.sheet}!{et.cell(row, count)}")
        elif percent and p is not pd.NA:
            shares += float(p)
            slack += rounding_tolerance(float(p))
            cells.append(f"{et.sheet}!{et.cell(row, percent)}")
    if shares > 100.0 + slack + 1e-9:
        return (
            f"the categories add up to {shares:.1f}% of their denominator, more than 100% "
            f"(allowed rounding {slack:.2g}); check {', '.join(cells)}"
        )
    return None


def _grade_exceeds_any(extraction: Extraction, rule: Rule) -> list[Issue]:
    et, grade = _field_of(extraction, rule, "grade")
    _, count = _field_of(extraction, rule, "count")
    d = et.data
    # Vectorised on integer groups: a loop over groups (one per term and arm) took minutes for a large review.
    group = row_groups(d, [k for k in et.table.key if k != grade])
    keyed = group >= 0
    is_any = (d[grade] == "any").fillna(False).to_numpy(dtype=bool)
    anys = np.flatnonzero(keyed & is_any)
    with_any, first = np.unique(group[anys], return_index=True)
    limit_at = np.full(int(group.max()) + 2 if len(group) else 1, -1)  # the group's first 'any' row; -1: none
    limit_at[with_any] = anys[first]
    at_limit = limit_at[group]  # group -1 (a key missing) reads the last entry: -1
    counts = d[count].to_numpy(dtype=float, na_value=np.nan)
    limits = np.where(at_limit >= 0, counts[at_limit], np.nan)
    with np.errstate(invalid="ignore"):
        over = np.flatnonzero((counts > limits) & ~is_any & keyed)
    at = over[np.lexsort((over, group[over]))]  # group by group, in the order the groups first appear
    values = d[count].to_numpy(dtype=object)
    messages = [
        f"grade {g} has {_fmt(c)} patients, more than the {_fmt(lim)} with any grade"
        for g, c, lim in zip(
            d[grade].to_numpy(dtype=object)[at], values[at], values[at_limit[at]], strict=True
        )
    ]
    return _rule_issues(et, rule, d.index[at].tolist(), count, messages)


def _ci_excludes_estimate(extraction: Extraction, rule: Rule) -> list[Issue]:
    return _outside(extraction, rule, ci=True)


def _spread_excludes_value(extraction: Extraction, rule: Rule) -> list[Issue]:
    return _outside(extraction, rule, ci=False)


def _outside(extraction: Extraction, rule: Rule, ci: bool) -> list[Issue]:
    """`estimate` within `low` to `high`: a CI's limits differ; a spread's ends may be equal (IQR 0 to 0). One
    end typed and the other left empty (not NR) is usually one forgotten: `interval-incomplete`."""
    et, est = _field_of(extraction, rule, "estimate")
    _, low = _field_of(extraction, rule, "low")
    _, high = _field_of(extraction, rule, "high")
    d = et.data
    found: list[tuple[int, str, str, str]] = []  # (row, field, code, message)
    for row, e, lo, hi in zip(
        d.index.tolist(), d[est].tolist(), d[low].tolist(), d[high].tolist(), strict=True
    ):
        if pd.isna(lo) and pd.isna(hi):
            continue
        if pd.isna(lo) or pd.isna(hi):
            given, empty, value = (high, low, hi) if pd.isna(lo) else (low, high, lo)
            # (an end every row owes is `not-extracted` already; plain frames have no missing codes to tell)
            if et.file and et.table.fields[empty].if_reported and et.missing.at[row, empty] == EMPTY:
                message = f"{_label(et, given)} is {_fmt(value)} but {_label(et, empty)} is empty"
                found.append((row, empty, "interval-incomplete", message))
        elif lo >= hi if ci else lo > hi:
            message = (
                f"lower limit {_fmt(lo)} is not below upper {_fmt(hi)}"
                if ci
                else f"{_label(et, low)} {_fmt(lo)} is above {_label(et, high)} {_fmt(hi)}"
            )
            found.append((row, low, rule.kind, message))
        elif pd.notna(e) and not lo <= e <= hi:
            message = (
                f"{_fmt(e)} is outside its CI {_fmt(lo)} to {_fmt(hi)}"
                if ci
                else f"{_label(et, est)} {_fmt(e)} is outside {_label(et, low)} to {_label(et, high)}, "
                f"{_fmt(lo)} to {_fmt(hi)}"
            )
            found.append((row, est, rule.kind, message))
    rows, fields, codes, messages = (list(x) for x in zip(*found, strict=True)) if found else ([], [], [], [])
    return _rule_issues(et, rule, rows, fields, messages, codes)


def _not_positive(extraction: Extraction, rule: Rule) -> list[Issue]:
    et, value = _field_of(extraction, rule, "value")
    bad = (et.data[value] <= 0).fillna(False).to_numpy(dtype=bool)
    messages = [f"{_label(et, value)} is {_fmt(v)}" for v in et.data[value][bad].tolist()]
    return _rule_issues(et, rule, et.data.index[bad], value, messages)


def _dates_out_of_order(extraction: Extraction, rule: Rule) -> list[Issue]:
    et, start = _field_of(extraction, rule, "start")
    _, end = _field_of(extraction, rule, "end")
    d = et.data
    rows, messages = [], []
    for row, a, b in zip(d.index.tolist(), d[start].tolist(), d[end].tolist(), strict=True):
        if pd.isna(a) or pd.isna(b):
            continue
        n = min(len(a), len(b))  # compare at the precision both give: 2000-06 vs 2000-06-15 is fine
        if a[:n] > b[:n]:
            rows.append(row)
            messages.append(f"{_label(et, end)} {b} is before {_label(et, start)} {a}")
    return _rule_issues(et, rule, rows, end, messages)


def _same_arm_twice(extraction: Extraction, rule: Rule) -> list[Issue]:
    et, first = _field_of(extraction, rule, "first")
    _, second = _field_of(extraction, rule, "second")
    same = (et.data[first] == et.data[second]).fillna(False).to_numpy(dtype=bool)
    messages = [
        f"{_label(et, first)} and {_label(et, second)} are both '{v}'" for v in et.data[first][same].tolist()
    ]
    return _rule_issues(et, rule, et.data.index[same], second, messages)


RULE_CHECKS: dict[str, Callable[[Extraction, Rule], list[Issue]]] = {
    "sum-mismatch": _sum_mismatch,
    "count-exceeds-total": _count_exceeds_total,
    "categories-sum-mismatch": _categories_sum_mismatch,
    "percent-mismatch": _percent_mismatch,
    "grade-exceeds-any": _grade_exceeds_any,
    "ci-excludes-estimate": _ci_excludes_estimate,
    "spread-excludes-value": _spread_excludes_value,
    "not-positive": _not_positive,
    "dates-out-of-order": _dates_out_of_order,
    "same-arm-twice": _same_arm_twice,
}
# The consistency rules live in review/consistency.py, which builds on the helpers above and adds its checks to
# RULE_CHECKS when imported (here, at the end, so that either module can be imported first).
from . import consistency  # noqa: E402

# --- writing a report ---------------------------------------------------------------------------------------------


def write_report(report: Report, path: str | Path) -> Path:
    """Write the issues as CSV or as a formatted .xlsx (by the file's suffix), atomically."""
    path = Path(path)
    frame = report.to_frame()
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise ReviewError(f"{path}: a report is written as .csv or .xlsx.")
    if suffix == ".csv":
        return write_csv(frame, path)
    return save_workbook(_report_xlsx(frame), path)


def _report_xlsx(frame: pd.DataFrame) -> Workbook:
    wb = Workbook()
    ws = wb.active
    ws.title = "Issues"
    header(ws, 1, COLUMNS, wrap=False)
    message = COLUMNS.index("message") + 1
    for r, values in enumerate(frame.itertuples(index=False), start=2):
        put_row(ws, r, [None if pd.isna(v) else str(v) for v in values])  # text stays text, never a formula
        for c in range(
            1, len(COLUMNS) + 1
        ):  # a long message wraps (whole on screen and paper, not cut short)
            ws.cell(row=r, column=c).alignment = WRAP if c == message else TOP
    widths = {"severity": 9, "code": 26, "message": 90, "file": 30, "sheet": 18, "cell": 7}
    for i, name in enumerate(COLUMNS, start=1):
        ws.column_dimensions[_letter(i - 1)].width = widths.get(name, 14)
    fit_rows(ws, 2)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    print_setup(ws)
    return wb
