"""How many extraction errors do validation and comparison catch? Seed known errors into a clean workbook.

    python benchmarks/seeded_errors.py [--n 20] [--seed 1] [--workbook data/gist_imatinib/reviewer_a.xlsx]

Each trial copies the clean extraction, seeds ONE error of one kind at a random eligible place, then
- validates the copy: the error is caught when an issue that the clean copy does not have points at a seeded
  cell's row, or names a seeded cell (Sheet!A1) in its message ("as error" when that issue is an error);
- compares the clean copy with the seeded one (as if a second reviewer had extracted correctly): the error is
  caught when a discrepancy touches the seeded row, and typed right when every such discrepancy has the type the
  kind calls for (a slip is `numeric`, NR typed as 0 `zero-vs-nr`, an inverted HR `inverted`...).
False alarms: issues on the clean workbooks (errors must be 0) and discrepancies between a workbook and itself.

The kinds are those published audits report: numeric slips (any numeric cell: two digits transposed, a digit
dropped or doubled, the decimal point moved; a change that only adds or drops a trailing decimal is a difference
of precision, which compare accepts on purpose, and is not seeded), off-by-one counts, arms swapped (a row's
values typed on its sibling arm's row and back, or experimental and control crossed), 0 typed for NR, values
omitted (left empty or typed NR), a wrong denominator (a sibling arm's or the study's number, or a slip), a wrong
category (another value of a result row's vocabulary: response category, grade, outcome, unit, SD/SE; the study
descriptors of the studies sheet are left out), a hazard ratio oriented the wrong way (1/HR with the CI inverted),
a count over its total, a row filed under another study.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from review.compare import compare  # noqa: E402
from review.forms import load_form  # noqa: E402
from review.validate import validate  # noqa: E402
from review.workbook import ExtractedTable, Extraction, read_workbook  # noqa: E402


@dataclass
class Seeded:
    kind: str
    expected: str  # the discrepancy type compare should report
    table: str
    rows: list[int]  # sheet rows touched
    cells: list[str]  # Sheet!A1 of the seeded cells
    keys: list[tuple[str, ...]] = field(default_factory=list)  # row keys before and after (for compare)
    what: str = ""


# --- the clean extraction, and copies to seed ---------------------------------------------------------------------


def clone(x: Extraction, name: str) -> Extraction:
    tables = {
        n: replace(t, data=t.data.copy(), missing=t.missing.copy(), file=name) for n, t in x.tables.items()
    }
    return replace(x, source=Path(name), tables=tables, issues=list(x.issues))


def _key(et: ExtractedTable, row: int) -> tuple[str, ...]:
    from review.compare import plain_value, show

    return tuple(show(plain_value(et.data.at[row, k])) for k in et.table.key)


def _cell(et: ExtractedTable, row: int, name: str) -> str:
    return f"{et.sheet}!{et.cell(row, name)}"


def _set(et: ExtractedTable, row: int, name: str, value: object) -> None:
    """Type a value (a number, text, "NR", "NA" or None for an empty cell) into one cell."""
    if value in ("NR", "NA"):
        et.data.at[row, name] = pd.NA
        et.missing.at[row, name] = value
    else:
        et.data.at[row, name] = pd.NA if value is None else value
        et.missing.at[row, name] = ""


def _typed(et: ExtractedTable, row: int, name: str) -> str:
    v = et.data.at[row, name]
    return et.missing.at[row, name] or ("" if pd.isna(v) else repr(v))


def _numeric_cells(x: Extraction, types=("integer", "number", "percent"), given=True):
    """(table, row, field) of every numeric value (given=True) or NR (given=False) outside keys."""
    out = []
    for name, et in x.tables.items():
        for f in et.table.fields.values():
            if f.type not in types or f.name in et.table.key:
                continue
            col = et.data[f.name].notna() if given else et.missing[f.name].eq("NR")
            out += [(name, row, f.name) for row in et.data.index[col]]
    return out


def _decimals(v: float) -> int:
    text = repr(float(v))
    return 0 if text.endswith(".0") else len(text.split(".")[1])


# --- the kinds of error -------------------------------------------------------------------------------------------


def numeric_slip(x: Extraction, rng: random.Random) -> Seeded:
    """A transposed pair of digits, a dropped or doubled digit, or a misplaced decimal point."""
    while True:
        table, row, name = rng.choice(_numeric_cells(x))
        et = x.tables[table]
        v = et.data.at[row, name]
        dec = _decimals(v)
        text = f"{float(v):.{dec}f}"
        digits = [i for i, ch in enumerate(text) if ch.isdigit()]
        how = rng.choice(["transpose", "drop", "double", "decimal"])
        if how == "transpose" and len(digits) >= 2:
            i = rng.randrange(len(digits) - 1)
            a, b = digits[i], digits[i + 1]
            chars = list(text)
            chars[a], chars[b] = chars[b], chars[a]
            new = "".join(chars)
        elif how == "drop" and len(digits) >= 2:
            i = rng.choice(digits)
            new = text[:i] + text[i + 1 :]
        elif how == "double":
            i = rng.choice(digits)
            new = text[:i] + text[i] + text[i:]
        else:
            new = repr(float(v) * rng.choice([10, 0.1]))
        try:
            value = float(new)
        except ValueError:
            continue
        if et.table.fields[name].type == "integer":
            if not value.is_integer():
                continue
            value = int(value)
        if et.table.fields[name].type == "percent" and value > 100:
            continue
        coarse = min(dec, _decimals(value))
        if round(value, coarse) == round(float(v), coarse):
            continue  # only a trailing decimal added or dropped: a difference of precision, not a slip

        _set(et, row, name, round(value, 6))
        return Seeded("numeric slip", "numeric", table, [row], [_cell(et, row, name)], [_key(et, row)])


def off_by_one(x: Extraction, rng: random.Random) -> Seeded:
    table, row, name = rng.choice(
        [c for c in _numeric_cells(x, ("integer",)) if x.tables[c[0]].data.at[c[1], c[2]] > 0]
    )
    et = x.tables[table]
    _set(et, row, name, int(et.data.at[row, name]) + rng.choice([-1, 1]))
    return Seeded("off-by-one count", "numeric", table, [row], [_cell(et, row, name)], [_key(et, row)])


def _sibling_pairs(x: Extraction) -> list[tuple[str, int, int]]:
    """Rows of two non-pooled arms of one study that differ only in the arm and in some value."""
    pooled = set()
    arms = x.tables["arms"].data
    for row in arms.index[arms["pooled"].fillna(False).astype(bool)]:
        pooled.add((arms.at[row, "study_id"], arms.at[row, "arm_id"]))
    out = []
    for name, et in x.tables.items():
        if "arm_id" not in et.table.key or name == "arms":
            continue
        rest = [k for k in et.table.key if k != "arm_id"]
        d = et.data
        for _, rows in d.groupby(rest, sort=False):
            rows = rows[[(s, a) not in pooled for s, a in zip(rows["study_id"], rows["arm_id"], strict=True)]]
            for i, r1 in enumerate(rows.index):
                for r2 in rows.index[i + 1 :]:
                    values = [f for f in et.table.fields.values() if f.numeric and f.name not in et.table.key]
                    if any(
                        pd.notna(d.at[r1, f.name])
                        and pd.notna(d.at[r2, f.name])
                        and d.at[r1, f.name] != d.at[r2, f.name]
                        for f in values
                    ):
                        out.append((name, r1, r2))
    return out


def arms_swapped(x: Extraction, rng: random.Random) -> Seeded:
    """The values of one row typed on the sibling arm's row and back (or experimental and control crossed)."""
    hr = x.tables["hazard_ratios"]
    choices = _sibling_pairs(x) + [("hazard_ratios", r, r) for r in hr.data.index]
    table, r1, r2 = rng.choice(choices)
    et = x.tables[table]
    if r1 == r2:
        e, c = et.data.at[r1, "experimental_arm"], et.data.at[r1, "control_arm"]
        _set(et, r1, "experimental_arm", c)
        _set(et, r1, "control_arm", e)
        cells = [_cell(et, r1, "experimental_arm"), _cell(et, r1, "control_arm")]
        return Seeded("arms swapped", "arms-swapped", table, [r1], cells, [_key(et, r1)])
    names = [
        f for f in et.table.fields if f not in et.table.key and f not in ("source", "location", "comment")
    ]
    numeric = [f for f in names if et.table.fields[f].numeric]
    swap = [f for f in numeric if _typed(et, r1, f) != _typed(et, r2, f)]
    for f in swap:
        v1, m1 = et.data.at[r1, f], et.missing.at[r1, f]
        et.data.at[r1, f], et.missing.at[r1, f] = et.data.at[r2, f], et.missing.at[r2, f]
        et.data.at[r2, f], et.missing.at[r2, f] = v1, m1
    cells = [_cell(et, r, f) for r in (r1, r2) for f in swap]
    return Seeded("arms swapped", "arms-swapped", table, [r1, r2], cells, [_key(et, r1), _key(et, r2)])


def zero_for_nr(x: Extraction, rng: random.Random) -> Seeded:
    table, row, name = rng.choice(_numeric_cells(x, ("integer", "percent"), given=False))
    et = x.tables[table]
    _set(et, row, name, 0)
    return Seeded("zero for NR", "zero-vs-nr", table, [row], [_cell(et, row, name)], [_key(et, row)])


def omission(x: Extraction, rng: random.Random) -> Seeded:
    """A value left out: the cell left empty or typed NR."""
    table, row, name = rng.choice(_numeric_cells(x))
    et = x.tables[table]
    was, now = et.data.at[row, name], rng.choice([None, "NR"])
    _set(et, row, name, now)
    expected = "zero-vs-nr" if now == "NR" and was == 0 else "omission"  # the zero was stated, NR typed
    return Seeded("value omitted", expected, table, [row], [_cell(et, row, name)], [_key(et, row)])


_DENOMINATORS = {
    "response": "denominator",
    "dichotomous": "total",
    "adverse_events": "at_risk",
    "safety": "at_risk",
}


def wrong_denominator(x: Extraction, rng: random.Random) -> Seeded:
    """A denominator from the wrong place: the sibling arm's, the study's, or the arm's other count."""
    cells = [
        (t, r, f)
        for t, f in _DENOMINATORS.items()
        for r in x.tables[t].data.index[x.tables[t].data[f].notna()]
    ]
    while True:
        table, row, name = rng.choice(cells)
        et = x.tables[table]
        v = int(et.data.at[row, name])
        study = et.data.at[row, "study_id"]
        arms = x.tables["arms"].data
        pool = [int(n) for n in arms.loc[arms["study_id"] == study, "randomised"].dropna() if int(n) != v]
        pool += [int(n) for n in et.data.loc[et.data["study_id"] == study, name].dropna() if int(n) != v]
        value = rng.choice(pool) if pool and rng.random() < 0.7 else v + rng.choice([-3, -2, 2, 3, 10])
        if value > 0 and value != v:
            _set(et, row, name, value)
            return Seeded(
                "wrong denominator", "numeric", table, [row], [_cell(et, row, name)], [_key(et, row)]
            )


def wrong_category(x: Extraction, rng: random.Random) -> Seeded:
    """Another value of the field's vocabulary picked (a key category moves the row: a key discrepancy)."""
    cells = []
    for name, et in x.tables.items():
        for f in et.table.fields.values():
            if f.type == "category" and name != "studies":
                cells += [(name, r, f.name) for r in et.data.index[et.data[f.name].notna()]]
    while True:
        table, row, name = rng.choice(cells)
        et = x.tables[table]
        f = et.table.fields[name]
        before = _key(et, row)
        value = rng.choice([v for v in f.values if v != et.data.at[row, name]])
        if name in et.table.key:
            new_key = tuple(value if k == name else before[i] for i, k in enumerate(et.table.key))
            if new_key in {_key(et, r) for r in et.data.index}:
                continue  # would duplicate a row: validation refuses it outright (duplicate-key)
        _set(et, row, name, value)
        expected = "key" if name in et.table.key else "category"
        return Seeded(
            "wrong category", expected, table, [row], [_cell(et, row, name)], [before, _key(et, row)]
        )


def hr_inverted(x: Extraction, rng: random.Random) -> Seeded:
    """The ratio the report gives the other way round: 1/HR, with its CI inverted."""
    et = x.tables["hazard_ratios"]
    row = rng.choice(list(et.data.index[et.data["hr"].notna()]))
    d = et.data
    hr, lo, hi = d.at[row, "hr"], d.at[row, "ci_low"], d.at[row, "ci_high"]
    _set(et, row, "hr", round(1 / float(hr), _decimals(hr)))
    cells = [_cell(et, row, "hr")]
    if pd.notna(lo) and pd.notna(hi):
        _set(et, row, "ci_low", round(1 / float(hi), _decimals(hi)))
        _set(et, row, "ci_high", round(1 / float(lo), _decimals(lo)))
        cells += [_cell(et, row, "ci_low"), _cell(et, row, "ci_high")]
    return Seeded("HR inverted", "inverted", "hazard_ratios", [row], cells, [_key(et, row)])


_COUNTS = {
    "response": ("count", "denominator"),
    "dichotomous": ("events", "total"),
    "safety": ("patients", "at_risk"),
    "adverse_events": ("patients", "at_risk"),
}


def count_over_total(x: Extraction, rng: random.Random) -> Seeded:
    """A count larger than its denominator (the two typed in each other's column, or the total typed)."""
    cells = [
        (t, r)
        for t, (c, n) in _COUNTS.items()
        for r in x.tables[t].data.index[x.tables[t].data[c].notna() & x.tables[t].data[n].notna()]
        if x.tables[t].data.at[r, c] < x.tables[t].data.at[r, n]
    ]
    table, row = rng.choice(cells)
    et = x.tables[table]
    c, n = _COUNTS[table]
    count, total = int(et.data.at[row, c]), int(et.data.at[row, n])
    _set(et, row, c, total + rng.choice([1, 2, 5]) if rng.random() < 0.5 else total * 10 + count % 10)
    return Seeded("count over total", "numeric", table, [row], [_cell(et, row, c)], [_key(et, row)])


def wrong_study(x: Extraction, rng: random.Random) -> Seeded:
    """A row filed under another study (same arm id there, or not)."""
    studies = list(x.tables["studies"].data["study_id"].dropna())
    while True:
        table = rng.choice([t for t, et in x.tables.items() if "study_id" in et.table.key and t != "studies"])
        et = x.tables[table]
        if et.data.empty:
            continue
        row = rng.choice(list(et.data.index))
        before = _key(et, row)
        study = rng.choice([s for s in studies if s != et.data.at[row, "study_id"]])
        new_key = tuple(study if k == "study_id" else before[i] for i, k in enumerate(et.table.key))
        if new_key in {_key(et, r) for r in et.data.index}:
            continue
        _set(et, row, "study_id", study)
        return Seeded(
            "wrong study id", "moved", table, [row], [_cell(et, row, "study_id")], [before, new_key]
        )


KINDS: dict[str, Callable[[Extraction, random.Random], Seeded]] = {
    "numeric slip": numeric_slip,
    "off-by-one count": off_by_one,
    "arms swapped": arms_swapped,
    "zero for NR": zero_for_nr,
    "value omitted": omission,
    "wrong denominator": wrong_denominator,
    "wrong category": wrong_category,
    "HR inverted": hr_inverted,
    "count over total": count_over_total,
    "wrong study id": wrong_study,
}


# --- catching them ------------------------------------------------------------------------------------------------

_CELL = re.compile(r"([A-Za-z][A-Za-z ]*)!([A-Z]+)(\d+)")


def caught_by_validation(seeded: Seeded, clean: set, report) -> tuple[bool, bool]:
    """(caught, caught as an error) by issues the clean copy does not have that point at a seeded row or name a
    seeded cell."""
    sheet = next(iter(seeded.cells)).split("!")[0]
    hit, as_error = False, False
    for i in report.issues:
        if (i.code, i.sheet, i.cell, i.message) in clean:
            continue
        row = int("".join(ch for ch in i.cell if ch.isdigit()) or 0)
        named = any(c in i.message for c in seeded.cells)
        if (i.sheet == sheet and row in seeded.rows) or named:
            hit = True
            as_error = as_error or i.severity == "error"
    return hit, as_error


def caught_by_compare(seeded: Seeded, comparison) -> tuple[bool, bool]:
    """(caught, typed right): discrepancies on the seeded rows, every one of the expected type."""
    keys = set(seeded.keys)
    found = [u for u in comparison.disagreements if u.table == seeded.table and u.key in keys]
    return bool(found), bool(found) and all(u.type == seeded.expected for u in found)


def run(workbook: Path, n: int, seed: int) -> tuple[pd.DataFrame, dict]:
    form = load_form(ROOT / "extraction_forms" / "oncology_trial.yaml")
    clean = read_workbook(workbook, form)
    clean_report = validate(clean)
    clean_issues = {(i.code, i.sheet, i.cell, i.message) for i in clean_report}
    rng = random.Random(seed)
    rows = []
    for kind, seed_one in KINDS.items():
        for t in range(n):
            x = clone(clean, f"seeded-{t}.xlsx")
            s = seed_one(x, rng)
            report = validate(x)
            v, v_err = caught_by_validation(s, clean_issues, report)
            c, typed = caught_by_compare(s, compare([clean, x]))
            rows.append(
                {
                    "kind": kind,
                    "validation": v,
                    "as_error": v_err,
                    "compare": c,
                    "typed": typed,
                    "cells": " ".join(s.cells),
                }
            )
    alarms = {
        "clean errors": len(clean_report.errors),
        "clean warnings": len(clean_report.warnings),
        "self-compare discrepancies": len(compare([clean, clone(clean, "copy.xlsx")])),
    }
    return pd.DataFrame(rows), alarms


def table(results: pd.DataFrame) -> pd.DataFrame:
    g = results.groupby("kind", sort=False)
    out = pd.DataFrame(
        {
            "seeded": g.size(),
            "validation": g["validation"].mean() * 100,
            "as error": g["as_error"].mean() * 100,
            "compare": g["compare"].mean() * 100,
            "right type": g["typed"].mean() * 100,
        }
    )
    total = pd.DataFrame(
        {
            "seeded": [len(results)],
            "validation": [results["validation"].mean() * 100],
            "as error": [results["as_error"].mean() * 100],
            "compare": [results["compare"].mean() * 100],
            "right type": [results["typed"].mean() * 100],
        },
        index=["all"],
    )
    return pd.concat([out, total]).round(0).astype(int)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=20, help="errors seeded per kind")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--misses", action="store_true", help="list the seeded errors validation missed")
    p.add_argument("--workbook", type=Path, default=ROOT / "data" / "gist_imatinib" / "reviewer_a.xlsx")
    args = p.parse_args(argv)
    results, alarms = run(args.workbook, args.n, args.seed)
    shown = table(results)
    print(f"{len(results)} seeded errors in {args.workbook.name} (seed {args.seed}); % caught:")
    print(shown.rename_axis("kind").reset_index().to_markdown(index=False))
    print()
    if args.misses:
        missed = results[~results["validation"] | ~results["typed"]]
        print(missed[["kind", "validation", "typed", "cells"]].to_string(index=False))
        print()
    print("False alarms on the clean workbook: " + ", ".join(f"{k} {v}" for k, v in alarms.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
