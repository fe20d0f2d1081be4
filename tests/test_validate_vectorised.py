"""The vectorised validation rules find exactly the issues of the row-by-row rules they replaced (kept in
tests/validation_oracle.py): same codes, cells, severities, messages and values, in the same order, on the
example's workbooks and on a synthetic review, each perturbed at random (values changed, blanked or NR, zeros,
rows duplicated, dropped or moved to another arm, arms pooled, denominators changed)."""

from __future__ import annotations

import contextlib
import random
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(Path(__file__).parent))
import validation_oracle as oracle  # noqa: E402
from make_review import make_review  # noqa: E402

from review import consistency, validate  # noqa: E402
from review.forms import load_form  # noqa: E402
from review.schema import table_schema  # noqa: E402
from review.workbook import Extraction, read_workbook  # noqa: E402

FORM = ROOT / "extraction_forms" / "oncology_trial.yaml"


@pytest.fixture(scope="module")
def workbooks(tmp_path_factory) -> list[Extraction]:
    form = load_form(FORM)
    folder = tmp_path_factory.mktemp("synthetic")
    make_review(folder, 4, seed=3)
    paths = [
        ROOT / "data" / "gist_imatinib" / "reviewer_a.xlsx",
        ROOT / "data" / "gist_imatinib" / "reviewer_b.xlsx",
        folder / "reviewer_a.xlsx",
        folder / "reviewer_b.xlsx",
    ]
    return [read_workbook(p, form) for p in paths]


def perturbed(x: Extraction, seed: int) -> Extraction:
    """A copy of `x` with a few percent of its cells and rows changed at random (edited as Python lists and
    typed back with the table's dtypes)."""
    rng = random.Random(seed)
    tables = {}
    for name_, et in x.tables.items():
        t = et.table
        if et.data.empty:
            tables[name_] = et
            continue
        d = {c: et.data[c].astype(object).where(et.data[c].notna(), None).tolist() for c in et.data.columns}
        m = {c: et.missing[c].tolist() for c in et.missing.columns}
        index = list(et.data.index)
        # rows duplicated (a new sheet row below the last) or dropped
        for i in rng.sample(range(len(index)), k=min(len(index), rng.randint(0, 3))):
            index.append(max(index) + 1)
            for cols in (d, m):
                for c in cols:
                    cols[c].append(cols[c][i])
        for i in sorted(
            rng.sample(range(len(index)), k=min(len(index) // 10, rng.randint(0, 4))), reverse=True
        ):
            del index[i]
            for cols in (d, m):
                for c in cols:
                    del cols[c][i]
        n = len(index)
        # key values moved to another row's, blanked or unknown
        for name in t.key:
            for i in rng.sample(range(n), k=min(n, rng.randint(0, 3))):
                d[name][i] = rng.choice(
                    [d[name][rng.randrange(n)], d[name][rng.randrange(n)], None, "zz-unknown"]
                )
        for name, f in t.fields.items():
            if name in t.key:
                continue
            share = (
                0.06 if n > 50 else 0.2
            )  # small tables (studies, hazard ratios) need more to trip their rules
            for i in range(n):
                if rng.random() > share:
                    continue
                choice = rng.random()
                code = ""
                if f.type == "boolean":
                    value = rng.choice([True, False, None])
                elif f.numeric:
                    if choice < 0.25:
                        value, code = None, rng.choice(["", "NR", "NA"])
                    elif choice < 0.4:
                        value = 0
                    else:
                        base = 100.0 if d[name][i] is None else float(d[name][i])
                        value = base * rng.choice([0.5, 0.9, 1.1, 2, 10]) + rng.choice([0, 1, -1])
                        if f.type == "integer":
                            value = int(round(value))
                        elif rng.random() < 0.5:
                            value = round(value, rng.choice([0, 1, 2]))
                elif f.type == "category" and f.values:
                    value = rng.choice([*f.values, None])
                elif f.type == "date":
                    value = rng.choice(["2001-05", "1999-12-31", "2003", None])
                else:  # another row's, a sibling column's of this row (an arm typed twice), or typical text
                    texts = [c for c, g in t.fields.items() if g.references == f.references and c != name]
                    value = rng.choice(
                        [d[name][rng.randrange(n)], d[rng.choice(texts)][i] if texts else None, None]
                        + ["none reported", "Table 2", "12 months", "A vs B"]
                    )
                d[name][i], m[name][i] = value, code
        data = pd.DataFrame(d, index=pd.Index(index, name=et.data.index.name))
        data = data.astype(et.data.dtypes.to_dict())
        missing = pd.DataFrame(m, index=data.index)
        tables[name_] = replace(et, data=data, missing=missing)
    return replace(x, tables=tables, issues=list(x.issues))


def _check_all(x: Extraction, seed: int, found: dict[str, int]) -> None:
    for rule in x.form.rules:
        if rule.kind not in oracle.RULES:  # a row loop still, never vectorised: tested cell by cell elsewhere
            continue
        old = oracle.RULES[rule.kind](x, rule)
        _same(validate.RULE_CHECKS[rule.kind](x, rule), old)
        for issue in old if seed else ():
            found[issue.code] = found.get(issue.code, 0) + 1
    for et in x.tables.values():
        _same(consistency.zero_issues(et), oracle.zero_issues(et))
        _same(consistency.empty_issues(x.form, et), oracle.empty_issues(x.form, et))
        _same(validate._field_issues(et, set()), oracle._field_issues(et, set()))
    _same(validate._reference_issues(x), oracle._reference_issues(x))
    for et in x.tables.values():  # the schema's unique key, checked on the shared integer keys
        schema = table_schema(x.form, et.table)  # as pandera's `unique` reports it (first key column's cells)
        try:
            schema.validate(et.data.reset_index(drop=True), lazy=True)
            failures = pd.DataFrame(columns=["check", "column", "index"])
        except pa.errors.SchemaErrors as exc:
            failures = exc.failure_cases
        first = failures[
            (failures["check"] == "multiple_fields_uniqueness") & (failures["column"] == et.table.key[0])
        ]
        expected = sorted(int(i) for i in first["index"])
        found_rows = [i.cell for i in validate._duplicate_keys(et)]
        assert found_rows == [et.cell(row, et.table.key[0]) for row in et.data.index[expected]]
        if seed:
            found["duplicate-key"] = found.get("duplicate-key", 0) + len(found_rows)


def _same(new: list, old: list) -> None:
    assert [vars(i) for i in new] == [vars(i) for i in old]


def test_vectorised_rules_equal_the_row_loops(workbooks):
    found: dict[str, int] = {}  # issues per code on the perturbed data: the comparison is only worth
    for seed in range(5):  # something if the perturbations trip each rule many times
        for number, clean in enumerate(workbooks):
            x = perturbed(clean, seed * 10 + number) if seed else clean
            # as validate() runs them: the key columns factorized once, shared by the rules
            shared = validate.shared_codes() if seed % 2 else contextlib.nullcontext()
            with shared:
                _check_all(x, seed, found)
    quiet = {"rates-over-time", "ratio-against-medians", "comparison-label-reversed"}  # few rows to trip
    for kind in set(oracle.RULES) - quiet:
        assert found.get(kind, 0) >= 3, (kind, found)
    for code in (
        "sibling-row-missing",
        "categories-exceed-denominator",
        "percent-no-whole-count",
        "duplicate-key",
    ):
        assert found.get(code, 0) >= 3, (code, found)
    assert np.sum(list(found.values())) > 300


def test_cells_sort_as_before():
    """Report orders cells by row, then column; the A1 fast path gives the character-by-character parse's key."""
    from review.issues import _cell_order

    def by_characters(cell: str) -> tuple[int, str]:
        digits = "".join(ch for ch in cell if ch.isdigit())
        letters = "".join(ch for ch in cell if ch.isalpha())
        return (int(digits) if digits else 0, letters.rjust(3))

    rng = random.Random(5)
    cells = ["", "A1", "Z9", "AA10", "XFD1048576", "line 7", "B", "12"]
    cells += [
        "".join(rng.choice("ABXZ") for _ in range(rng.randint(0, 3))) + str(rng.randint(1, 10**6))
        for _ in range(500)
    ]
    assert [_cell_order(c) for c in cells] == [by_characters(c) for c in cells]
    assert sorted(cells, key=_cell_order) == sorted(cells, key=by_characters)


@pytest.mark.parametrize("limit", [2**62, 4])  # 4: the mixed radix renumbers after every column
def test_row_groups(monkeypatch, limit):
    monkeypatch.setattr(validate, "_RADIX_LIMIT", limit)
    frame = pd.DataFrame(
        {
            "study": pd.array(["B", "A", "B", "A", None, "B", "C"], dtype="string"),
            "arm": pd.array(["x", "y", "x", "x", "x", pd.NA, "x"], dtype="string"),
            "n": pd.array([1, 2, 1, 3, 1, 1, 1], dtype="Int64"),
        }
    )
    # equal values, equal group; numbered in order of first appearance; -1 where a value is missing
    assert validate.row_groups(frame, ["study", "arm"]).tolist() == [0, 1, 0, 2, -1, -1, 3]
    assert validate.row_groups(frame, ["study", "arm", "n"]).tolist() == [0, 1, 0, 2, -1, -1, 3]
    assert validate.row_groups(frame, ["n"]).tolist() == [0, 1, 0, 2, 0, 0, 0]
    with validate.shared_codes():  # the same from the codes shared within one validation
        first = validate.row_groups(frame, ["study", "arm"])
        assert validate.row_groups(frame, ["study", "arm"]) is first  # grouped once
        assert first.tolist() == [0, 1, 0, 2, -1, -1, 3] and not first.flags.writeable
        assert not validate.column_codes(frame["study"])[0].flags.writeable
